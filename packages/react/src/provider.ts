import { createElement, useEffect, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { createVerigate, type InitOptions } from '@verigate/browser';
import { VerigateContext, type VerigateContextValue } from './context.js';

/**
 * Props of {@link VerigateProvider}.
 *
 * @example
 * ```tsx
 * const props: VerigateProviderProps = { publishableKey: 'vg_sandbox_pk_…', identityToken: null, children: <App /> };
 * ```
 */
export interface VerigateProviderProps {
  /** The site's publishable key, `vg_live_pk_…` or `vg_sandbox_pk_…` (public; fine in page source). */
  publishableKey: string;
  /**
   * Who the visitor is, as your backend says: an identity token it signed
   * with the site's identity secret signs the visitor in (each token is
   * presented once, however often the provider renders); `null` or `''`
   * signs out (nobody is signed in to your site); `undefined` (the default)
   * keeps the session this browser already has. A refused token leaves the
   * visitor anonymous, with the reason in `useVerigate().lastError`.
   */
  identityToken?: string | null;
  /** The gateway's base URL. Default: the package's default for the key's environment. */
  baseUrl?: string;
  /** The environment you mean; when given, a key of the other one is refused. */
  sandbox?: boolean;
  /**
   * Where the session token is kept: `'local'` (default, `localStorage`),
   * `'memory'`, or a storage object (keep it the same across renders: a
   * new one re-initialises the SDK).
   */
  storage?: InitOptions['storage'];
  children?: ReactNode;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => undefined); // rejected only for a misconfiguration, which the effect also throws
  return { promise, resolve, reject };
}

/**
 * Signs the visitor in with your backend's identity token and gives the
 * hooks below it (`useVerigateUser`, `useVerificationToken`, `useVerigate`)
 * their SDK: `@verigate/browser`'s ES module, one instance per provider, so
 * the page loads no third-party script. Nothing runs on the server: the SDK
 * starts in an effect, so server rendering sees an anonymous visitor. A
 * misconfiguration (`invalid_publishable_key`,
 * `publishable_key_wrong_environment`) is thrown from that effect, to your
 * error boundary.
 *
 * @example
 * ```tsx
 * import { VerigateProvider } from '@verigate/react';
 *
 * export function Root({ identityToken }: { identityToken: string | null }) {
 *   return (
 *     <VerigateProvider publishableKey={import.meta.env.VITE_VERIGATE_PUBLISHABLE_KEY}
 *                       baseUrl={import.meta.env.VITE_VERIGATE_BASE_URL}
 *                       identityToken={identityToken}>
 *       <App />
 *     </VerigateProvider>
 *   );
 * }
 * ```
 */
export function VerigateProvider(props: VerigateProviderProps): ReactElement {
  const { publishableKey, identityToken, baseUrl, sandbox, storage, children } = props;
  const [value] = useState(() => {
    const started = deferred();
    return { context: { verigate: createVerigate(), started: started.promise } satisfies VerigateContextValue, started };
  });
  const { verigate } = value.context;
  // What the provider last told the SDK about the visitor; a ref survives
  // StrictMode's second run of the effects, so a token is presented once.
  const presented = useRef<{ identityToken: string | null | undefined } | null>(null);
  // The options the SDK was last initialised with: StrictMode runs effects twice, and a
  // second init would queue a restore behind the sign-in (and, with 'memory', lose it).
  const initialised = useRef<readonly unknown[] | null>(null);

  useEffect(() => {
    const options = [publishableKey, baseUrl, sandbox, storage] as const;
    if (initialised.current?.every((option, i) => option === options[i])) return;
    initialised.current = options;
    try {
      void verigate.init({ publishableKey, baseUrl, sandbox, storage });
    } catch (err) {
      value.started.reject(err);
      throw err;
    }
    value.started.resolve();
  }, [verigate, value, publishableKey, baseUrl, sandbox, storage]);

  useEffect(() => {
    if (identityToken === undefined) return;
    if (presented.current?.identityToken === identityToken) return;
    presented.current = { identityToken };
    // Never rejects for a refused token (the SDK leaves the visitor anonymous); only before a successful init.
    const done = identityToken ? verigate.identify(identityToken) : verigate.resetUser();
    done.catch(() => undefined);
  }, [verigate, identityToken]);

  return createElement(VerigateContext.Provider, { value: value.context }, children);
}
