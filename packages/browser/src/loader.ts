import type { InitOptions, Verigate } from './client.js';
import { resolveEnvironment } from './environment.js';
import { VerigateError } from './errors.js';

/**
 * Where the gateway serves the browser SDK script, on both environment listeners.
 *
 * @example
 * ```ts
 * const src = `https://api-sandbox.example.com${SCRIPT_PATH}`;
 * ```
 */
export const SCRIPT_PATH = '/sdk/v1/verigate.js';

/**
 * Options of {@link loadVerigate}: those of `init`. `baseUrl` is the gateway
 * the script is loaded from and then talks to (default: the package's
 * default for the key's environment).
 *
 * @example
 * ```ts
 * const options: LoadVerigateOptions = { publishableKey: 'vg_sandbox_pk_…', baseUrl: 'https://api-sandbox.example.com' };
 * ```
 */
export interface LoadVerigateOptions extends InitOptions {}

type VerigateGlobal = typeof globalThis & { Verigate?: Verigate };

let loading: { src: string; promise: Promise<Verigate> } | null = null;

function injectScript(src: string): Promise<Verigate> {
  const global = globalThis as VerigateGlobal;
  return new Promise<Verigate>((resolve, reject) => {
    const existing = Array.from(document.querySelectorAll<HTMLScriptElement>('script[src]')).find((s) => s.src === src);
    const script = existing ?? document.createElement('script');
    const loaded = () => {
      if (global.Verigate) resolve(global.Verigate);
      else reject(new VerigateError('unexpected_response', `verigate: ${src} loaded but defined no Verigate (is that the gateway?)`));
    };
    script.addEventListener('load', loaded, { once: true });
    script.addEventListener('error', () => {
      script.remove(); // so that a later call tries again
      reject(
        new VerigateError(
          'network_error',
          `verigate: could not load ${src} (gateway down, a wrong baseUrl, or a Content-Security-Policy without that origin in script-src)`,
        ),
      );
    }, { once: true });
    if (!existing) {
      script.src = src;
      script.async = true;
      document.head.appendChild(script);
    }
  });
}

/**
 * Loads the browser SDK from the gateway (`<baseUrl>/sdk/v1/verigate.js`,
 * the same script as a `<script>` tag would) and initialises it, as
 * `@stripe/stripe-js`'s `loadStripe` does: the page always runs the
 * gateway's current SDK, while your bundle carries only this loader and
 * the types. Loads the script once per page; later calls share it.
 * Resolves `null` where there is no `document` (server-side rendering).
 * Rejects with a `VerigateError`: `invalid_publishable_key` or
 * `publishable_key_wrong_environment` for a misconfiguration,
 * `network_error` when the script cannot be loaded.
 *
 * @example
 * ```ts
 * import { loadVerigate } from '@verigate/browser';
 *
 * const verigate = await loadVerigate({
 *   publishableKey: import.meta.env.VITE_VERIGATE_PUBLISHABLE_KEY,
 *   baseUrl: import.meta.env.VITE_VERIGATE_BASE_URL,
 * });
 * const token = await verigate?.getUserVerificationToken();
 * ```
 */
export async function loadVerigate(options: LoadVerigateOptions): Promise<Verigate | null> {
  if (!options || typeof options !== 'object') throw new TypeError('verigate: loadVerigate needs { publishableKey }');
  // Refuse a misconfiguration before loading anything.
  const { baseUrl } = resolveEnvironment(options.publishableKey, options.sandbox, options.baseUrl, undefined);
  if (typeof document === 'undefined') return null;
  const src = `${baseUrl}${SCRIPT_PATH}`;
  const global = globalThis as VerigateGlobal;
  let verigate: Verigate;
  if (global.Verigate) verigate = global.Verigate;
  else {
    if (!loading || loading.src !== src) {
      const promise = injectScript(src);
      loading = { src, promise };
      promise.catch(() => {
        if (loading?.promise === promise) loading = null; // a failed load may be retried
      });
    }
    verigate = await loading.promise;
  }
  await verigate.init({ ...options, baseUrl });
  return verigate;
}
