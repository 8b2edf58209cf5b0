import { useCallback, useContext, useSyncExternalStore } from 'react';
import type { Verigate, VerigateUser } from '@verigate/browser';
import { VerigateContext, type VerigateContextValue } from './context.js';

function useProvided(hook: string): VerigateContextValue {
  const value = useContext(VerigateContext);
  if (!value) throw new TypeError(`verigate: ${hook}() must be called inside <VerigateProvider>`);
  return value;
}

const noUser = (): null => null;

/**
 * The signed-in visitor, or `null`; the component re-renders whenever that
 * changes (sign-in, sign-out, another tab, a session that ended). For
 * display only: your backend learns who the visitor is from the exchange.
 *
 * @example
 * ```tsx
 * function Greeting() {
 *   const user = useVerigateUser();
 *   return <p>{user ? `Signed in as ${user.name ?? user.userId}` : 'Not signed in'}</p>;
 * }
 * ```
 */
export function useVerigateUser(): VerigateUser | null {
  const { verigate } = useProvided('useVerigateUser');
  const subscribe = useCallback(
    (onChange: () => void) => {
      verigate.on('userChange', onChange);
      return () => verigate.off('userChange', onChange);
    },
    [verigate],
  );
  return useSyncExternalStore(subscribe, () => verigate.user, noUser);
}

/**
 * A function that resolves a short-lived verification token for your
 * backend (`Authorization: Bearer …`), or `null` when nobody is signed in.
 * Call it for each request rather than keeping a token: it reuses one with
 * more than a minute left and waits for a sign-in the provider has begun.
 * Rejects with a `VerigateError` when the gateway cannot answer. The
 * function stays the same across renders.
 *
 * @example
 * ```tsx
 * function Reports() {
 *   const getVerificationToken = useVerificationToken();
 *   const load = async () => {
 *     const token = await getVerificationToken();
 *     const res = await fetch('/api/reports', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
 *     console.log(await res.json());
 *   };
 *   return <button onClick={load}>Load reports</button>;
 * }
 * ```
 */
export function useVerificationToken(): () => Promise<string | null> {
  const { verigate, started } = useProvided('useVerificationToken');
  return useCallback(async () => {
    await started;
    return verigate.getUserVerificationToken();
  }, [verigate, started]);
}

/**
 * The provider's SDK instance, for what the hooks do not cover:
 * `identify`, `resetUser`, `lastError`, `environment`.
 *
 * @example
 * ```tsx
 * function SignOut() {
 *   const verigate = useVerigate();
 *   return <button onClick={() => void verigate.resetUser()}>Sign out</button>;
 * }
 * ```
 */
export function useVerigate(): Verigate {
  return useProvided('useVerigate').verigate;
}
