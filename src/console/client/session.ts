import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Environment, EnvironmentInfo, Principal } from './wire';

/** What every page knows about the signed-in admin and the gateway. */
export interface ConsoleContext {
  readonly principal: Principal;
  /** The environments this gateway serves that the principal may reach. */
  readonly environments: readonly EnvironmentInfo[];
  readonly signOut: () => Promise<void>;
}

export const ConsoleSession = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const value = useContext(ConsoleSession);
  if (!value) throw new Error('useConsole outside a signed-in console');
  return value;
}

/** Whether the principal may change things (role `write`); read-only tokens see no mutating controls. */
export function canWrite(principal: Principal): boolean {
  return principal.role === 'write';
}

export function isRoot(principal: Principal): boolean {
  return principal.actor === 'root';
}

export function publicUrlOf(ctx: ConsoleContext, environment: Environment): string | undefined {
  return ctx.environments.find((e) => e.environment === environment)?.publicUrl;
}
