import { createContext } from 'react';
import type { Verigate } from '@verigate/browser';

/** What a {@link VerigateProvider} gives the hooks below it. */
export interface VerigateContextValue {
  /** The provider's SDK instance. */
  readonly verigate: Verigate;
  /** Settles once the provider has called `init` (its effect runs after its children's). */
  readonly started: Promise<void>;
}

export const VerigateContext = createContext<VerigateContextValue | null>(null);
VerigateContext.displayName = 'VerigateContext';
