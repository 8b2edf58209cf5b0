import { apiKeyEnvironment } from './credentials.js';
import { VerigateError } from './errors.js';
import type { Environment } from './protocol.js';

/**
 * Where each environment listens when no `baseUrl` is given: the gateway's
 * own defaults (`LIVE_PORT` 8080, `SANDBOX_PORT` 8081). A production
 * integration passes its deployment's `baseUrl`.
 *
 * @example
 * ```ts
 * import { createVerigateClient, DEFAULT_BASE_URLS } from '@verigate/node';
 *
 * const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY!, baseUrl: DEFAULT_BASE_URLS.sandbox });
 * ```
 */
export const DEFAULT_BASE_URLS: Readonly<Record<Environment, string>> = Object.freeze({
  live: 'http://localhost:8080',
  sandbox: 'http://localhost:8081',
});

function normalise(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}

/**
 * What a base URL says about its environment: the default URL of either
 * environment, or a host with a `sandbox` label (`api-sandbox.example.com`).
 * `undefined` when it does not say; the gateway then has the last word
 * (401 `api_key_wrong_environment`).
 */
function baseUrlEnvironment(url: string): Environment | undefined {
  if (url === normalise(DEFAULT_BASE_URLS.live)) return 'live';
  if (url === normalise(DEFAULT_BASE_URLS.sandbox)) return 'sandbox';
  if (/(^|[.-])sandbox([.-]|$)/i.test(new URL(url).hostname)) return 'sandbox';
  return undefined;
}

/**
 * Picks the base URL and refuses, before anything is sent, a key whose
 * environment does not match the `sandbox` flag or the base URL.
 */
export function resolveEnvironment(
  apiKey: string,
  sandbox: boolean | undefined,
  baseUrl: string | undefined,
): { environment: Environment; baseUrl: string } {
  const environment = apiKeyEnvironment(apiKey);
  const mixUp = (what: string) =>
    new VerigateError(
      'api_key_wrong_environment',
      `The API key is a ${environment} key (vg_${environment}_sk_…) but ${what}. ` +
        'Live and sandbox share nothing: use the key of the environment you call.',
    );
  if (sandbox !== undefined && sandbox !== (environment === 'sandbox')) {
    throw mixUp(`the client was created with sandbox: ${String(sandbox)}`);
  }
  if (baseUrl === undefined) return { environment, baseUrl: DEFAULT_BASE_URLS[environment] };
  let normalised: string;
  try {
    normalised = normalise(baseUrl);
  } catch {
    throw new TypeError(`baseUrl must be an absolute http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  if (!/^https?:\/\//.test(normalised)) throw new TypeError('baseUrl must be an http:// or https:// URL');
  const urlEnvironment = baseUrlEnvironment(normalised);
  if (urlEnvironment !== undefined && urlEnvironment !== environment) {
    throw mixUp(`baseUrl ${normalised} is the ${urlEnvironment} gateway`);
  }
  return { environment, baseUrl: normalised };
}
