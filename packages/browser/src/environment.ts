import { VerigateError } from './errors.js';
import type { Environment } from './protocol.js';

// Replaced at build time by esbuild `define` (scripts/build-sdk.js, from
// VERIGATE_LIVE_URL / VERIGATE_SANDBOX_URL); undefined when run from source.
declare const __VERIGATE_LIVE_URL__: string | undefined;
declare const __VERIGATE_SANDBOX_URL__: string | undefined;

/**
 * The base URL of each environment when `init` is given none and the SDK was
 * not loaded by a script tag: `http://localhost:8080` and
 * `http://localhost:8081` (the gateway's default ports) in this package; the
 * script the gateway serves has its deployment's URLs baked in at build time.
 *
 * @example
 * ```ts
 * await verigate.init({ publishableKey, baseUrl: DEFAULT_BASE_URLS.sandbox });
 * ```
 */
export const DEFAULT_BASE_URLS: Readonly<Record<Environment, string>> = {
  live: typeof __VERIGATE_LIVE_URL__ === 'string' ? __VERIGATE_LIVE_URL__ : 'http://localhost:8080',
  sandbox: typeof __VERIGATE_SANDBOX_URL__ === 'string' ? __VERIGATE_SANDBOX_URL__ : 'http://localhost:8081',
};

const KEY_RE = /^vg_(live|sandbox)_(pk|sk|st)_[0-9A-Za-z]{38}$/;

const trim = (url: string): string => url.replace(/\/+$/, '');

/** The environment a base URL is known to serve, if it says. */
function environmentOf(url: string): Environment | undefined {
  if (url === trim(DEFAULT_BASE_URLS.live)) return 'live';
  if (url === trim(DEFAULT_BASE_URLS.sandbox)) return 'sandbox';
  return /(^|[.-])sandbox([.-]|$)/i.test(new URL(url).hostname) ? 'sandbox' : undefined;
}

/**
 * Checks the publishable key and picks the base URL: `baseUrl`, else the
 * origin the SDK script was loaded from, else the build's default for the
 * key's environment. Refuses a key of the other environment than `sandbox`
 * says, or than a base URL known to serve one environment.
 */
export function resolveEnvironment(
  publishableKey: unknown,
  sandbox: boolean | undefined,
  baseUrl: string | undefined,
  scriptOrigin: string | undefined,
): { environment: Environment; baseUrl: string } {
  const m = typeof publishableKey === 'string' ? KEY_RE.exec(publishableKey) : null;
  if (!m) {
    throw new VerigateError('invalid_publishable_key', 'publishableKey must be the site\'s publishable key, vg_live_pk_… or vg_sandbox_pk_…');
  }
  if (m[2] === 'sk') {
    throw new VerigateError(
      'invalid_publishable_key',
      'This is a SECRET API key (vg_…_sk_…): it must never reach a browser. Revoke it now and use the publishable key (vg_…_pk_…) here.',
    );
  }
  if (m[2] !== 'pk') throw new VerigateError('invalid_publishable_key', 'This is a session token, not a publishable key');
  const environment = m[1] as Environment;
  const mixUp = (what: string) =>
    new VerigateError(
      'publishable_key_wrong_environment',
      `verigate: the publishable key is a ${environment} key (vg_${environment}_pk_…) but ${what}. ` +
        'Live and sandbox share nothing: use the key of the environment you call.',
    );
  if (sandbox !== undefined && sandbox !== (environment === 'sandbox')) {
    throw mixUp(`init was called with sandbox: ${sandbox}`);
  }
  const chosen = baseUrl ?? scriptOrigin ?? DEFAULT_BASE_URLS[environment];
  let url: string;
  try {
    url = trim(new URL(chosen).href);
  } catch {
    throw new TypeError(`verigate: baseUrl must be an absolute URL, got ${JSON.stringify(chosen)}`);
  }
  const served = environmentOf(url);
  if (served !== undefined && served !== environment) throw mixUp(`${url} is the ${served} gateway`);
  return { environment, baseUrl: url };
}
