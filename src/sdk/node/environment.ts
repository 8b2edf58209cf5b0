import { crc32 } from 'node:zlib';
import { VerigateError } from './errors';
import type { Environment } from './types';

/**
 * Where each environment listens when no `baseUrl` is given: the gateway's
 * own defaults (`LIVE_PORT` 8080, `SANDBOX_PORT` 8081). A production
 * integration passes its deployment's `baseUrl`.
 *
 * @example
 * ```ts
 * const verigate = createVerigateClient({ apiKey, baseUrl: DEFAULT_BASE_URLS.sandbox });
 * ```
 */
export const DEFAULT_BASE_URLS: Readonly<Record<Environment, string>> = Object.freeze({
  live: 'http://localhost:8080',
  sandbox: 'http://localhost:8081',
});

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_KEY_RE = /^vg_(live|sandbox)_(sk|pk|st)_[0-9A-Za-z]{38}$/;

function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  while (value > 0) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out.padStart(6, '0');
}

/**
 * The environment a secret API key belongs to, checked locally (shape and
 * CRC32 checksum, as the gateway does) so a typo, a truncated key or a
 * publishable key pasted by mistake fails at start-up, not on the first request.
 */
export function apiKeyEnvironment(apiKey: string): Environment {
  const m = SECRET_KEY_RE.exec(apiKey);
  const split = apiKey.length - 6;
  if (!m || checksum(apiKey.slice(0, split)) !== apiKey.slice(split)) {
    throw new VerigateError(
      'invalid_api_key',
      'apiKey is not a verigate secret API key (expected vg_live_sk_… or vg_sandbox_sk_…; check for a typo or a truncated copy)',
    );
  }
  if (m[2] !== 'sk') {
    const what = m[2] === 'pk' ? 'a publishable key (it belongs in the page)' : 'a session token';
    throw new VerigateError('invalid_api_key', `apiKey is ${what}, not a secret API key (vg_${m[1]}_sk_…)`);
  }
  return m[1] as Environment;
}

function normalise(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}

/**
 * What a base URL says about its environment: the default URL of either
 * environment, or a host with a `sandbox` label (`api-sandbox.example.com`).
 * `undefined` when it does not say; the gateway then has the last word
 * (401 `api_key_wrong_environment`).
 */
export function baseUrlEnvironment(baseUrl: string): Environment | undefined {
  const url = normalise(baseUrl);
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
