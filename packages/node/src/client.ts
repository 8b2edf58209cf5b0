import { VerigateApiError, VerigateError } from './errors.js';
import { resolveEnvironment } from './environment.js';
import { parseRetryAfter, retryDelayMs, sleep } from './retry.js';
import type { ApiErrorCode, Environment, NotVerified, VerificationResult, VerifiedUserWithProduct } from './protocol.js';
import { SDK_VERSION } from './version.js';

const EXCHANGE_PATH = '/live_api/s2s/v1/users/verification';

/**
 * Options of {@link createVerigateClient}.
 *
 * @example
 * ```ts
 * const options: VerigateClientOptions = { apiKey: process.env.VERIGATE_API_KEY!, timeoutMs: 2000 };
 * ```
 */
export interface VerigateClientOptions {
  /** The site's secret API key, `vg_live_sk_…` or `vg_sandbox_sk_…`. Server-side only. */
  apiKey: string;
  /**
   * Which environment you mean to call. Optional: the key already says; when
   * given, a key of the other environment is refused before anything is sent.
   */
  sandbox?: boolean;
  /**
   * The gateway's base URL for the key's environment (e.g.
   * `https://api-sandbox.example.com`). Default: {@link DEFAULT_BASE_URLS}.
   * Redirects are never followed: give the URL that answers.
   */
  baseUrl?: string;
  /**
   * How tokens are verified. `'online'` (the default, and today the only
   * mode): every call is an exchange with the gateway, which is the
   * authority on sign-out and product access.
   */
  verification?: 'online';
  /** Per attempt, in ms (default 5000). */
  timeoutMs?: number;
  /** Further attempts after a 503 or a network error/timeout (default 2; 0 disables). */
  retries?: number;
  /** Upper bound of one wait between attempts, `Retry-After` included, in ms (default 2000). */
  maxRetryDelayMs?: number;
  /** A `fetch` to use instead of the global one (a proxy agent, instrumentation). */
  fetch?: typeof fetch;
}

/**
 * Options of {@link VerigateClient.verifyUser}.
 *
 * @example
 * ```ts
 * const options: VerifyUserOptions = { productId: 'reports', signal: AbortSignal.timeout(3000) };
 * ```
 */
export interface VerifyUserOptions {
  /** Also answer `hasProductAccess` for this product. */
  productId?: string;
  /** Aborts the call (and any retry wait). */
  signal?: AbortSignal;
}

/**
 * A client for one environment of the gateway. Create it once at start-up
 * and share it; it holds no connection state. The framework adapters
 * (`requireVerifiedUser`, `authenticateRequest`, the Fastify plugin) need
 * nothing of it but `verifyUser`.
 *
 * @example
 * ```ts
 * const verigate: VerigateClient = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY! });
 * console.log(`verigate ${verigate.environment} at ${verigate.baseUrl}`);
 * ```
 */
export interface VerigateClient {
  /** The key's environment. */
  readonly environment: Environment;
  /** The base URL calls go to, without trailing slash. */
  readonly baseUrl: string;
  /**
   * Exchanges a verification token (from the browser SDK's
   * `getUserVerificationToken()`) for the user it stands for.
   *
   * Resolves `{ isAuthenticated: false, reason }` when the token or its
   * session is not valid; that is an answer, not an error. Rejects with a
   * {@link VerigateApiError} when the gateway refuses the call itself (bad
   * API key, 503 after every retry, a redirect) and a {@link VerigateError}
   * with code `network_error` or `timeout` when it cannot be reached.
   * Retries 503s and network errors (not 4xx) with bounded exponential
   * backoff.
   */
  verifyUser(token: string, options: VerifyUserOptions & { productId: string }): Promise<VerifiedUserWithProduct | NotVerified>;
  verifyUser(token: string, options?: VerifyUserOptions): Promise<VerificationResult>;
}

/**
 * Statuses worth another attempt: the gateway's fail-closed 503, and a
 * proxy's 502/504 in front of it. Not 429: the limit is per minute, so an
 * attempt within `maxRetryDelayMs` would only be refused again.
 */
const RETRYABLE_STATUS = new Set([502, 503, 504]);

interface Attempt {
  readonly result?: VerificationResult;
  readonly error?: VerigateError;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | null;
}

function integerOption(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}`);
  return value;
}

/**
 * Creates the backend client. Checks the API key locally first: a malformed
 * key, a publishable key, or a key of the other environment than `sandbox` /
 * `baseUrl` say throws a {@link VerigateError} (`invalid_api_key` or
 * `api_key_wrong_environment`) here, before any request. Creating a client
 * sends nothing and starts nothing.
 *
 * @example
 * ```ts
 * import { createVerigateClient } from '@verigate/node';
 *
 * const verigate = createVerigateClient({
 *   apiKey: process.env.VERIGATE_API_KEY!, // vg_sandbox_sk_…
 *   baseUrl: process.env.VERIGATE_BASE_URL, // https://api-sandbox.example.com
 * });
 * const result = await verigate.verifyUser(tokenFromTheBrowser, { productId: 'reports' });
 * if (result.isAuthenticated && result.hasProductAccess) {
 *   console.log(`${result.userInfo.userId} may open reports`);
 * }
 * ```
 */
export function createVerigateClient(options: VerigateClientOptions): VerigateClient {
  if (typeof options !== 'object' || options === null) throw new TypeError('createVerigateClient needs an options object');
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new TypeError('createVerigateClient needs { apiKey: "vg_live_sk_…" } (the site\'s secret API key)');
  }
  if (options.verification !== undefined && options.verification !== 'online') {
    throw new TypeError(`verification must be 'online', got ${JSON.stringify(options.verification)}`);
  }
  const { apiKey } = options;
  const { environment, baseUrl } = resolveEnvironment(apiKey, options.sandbox, options.baseUrl);
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 5000, 1);
  const retries = integerOption('retries', options.retries, 2);
  const maxRetryDelayMs = integerOption('maxRetryDelayMs', options.maxRetryDelayMs, 2000);
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
  const url = `${baseUrl}${EXCHANGE_PATH}`;

  const send = async (body: string, signal: AbortSignal | undefined): Promise<Response> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await doFetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, application/problem+json',
          'X-API-KEY': apiKey,
          'User-Agent': `verigate-node/${SDK_VERSION}`,
        },
        body,
        // Never follow: a redirect would carry X-API-KEY to wherever it points.
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new VerigateError('timeout', `verigate did not answer within ${timeoutMs} ms (${baseUrl})`);
      // undici says "fetch failed"; the why (ECONNREFUSED, ENOTFOUND, …) is in its cause.
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (err as Error).message;
      throw new VerigateError('network_error', `Could not reach verigate at ${baseUrl} (${why})`, { cause: err });
    }
  };

  const readAnswer = async (res: Response): Promise<Attempt> => {
    const requestId = res.headers.get('x-request-id');
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
      await res.body?.cancel();
      const location = res.headers.get('location');
      let target = 'elsewhere';
      try {
        if (location) target = new URL(location, url).origin;
      } catch {
        // an unreadable Location: say nothing more
      }
      const error = new VerigateApiError(
        'redirect_refused',
        `verigate at ${baseUrl} answered ${res.status} redirecting to ${target}; redirects are never followed ` +
          '(the API key must not travel): set baseUrl to the URL that answers',
        res.status,
        requestId,
      );
      return { error, retryable: false, retryAfterSeconds: null };
    }
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (res.status === 200 && isVerificationResult(body)) {
      return { result: body, retryable: false, retryAfterSeconds: null };
    }
    const problem = isProblem(body) ? body : undefined;
    const error = problem
      ? new VerigateApiError(
          problem.code,
          `verigate answered ${res.status} ${problem.code}${problem.detail ? `: ${problem.detail}` : ''}`,
          res.status,
          problem.requestId ?? requestId,
          retryAfterSeconds,
          problem.detail ?? null,
        )
      : new VerigateApiError(
          'unexpected_response',
          `verigate answered ${res.status} with a body that is not the gateway's (is ${baseUrl} the gateway?)`,
          res.status,
          requestId,
          retryAfterSeconds,
        );
    return { error, retryable: RETRYABLE_STATUS.has(res.status), retryAfterSeconds };
  };

  async function verifyUser(token: string, verifyOptions: VerifyUserOptions = {}): Promise<VerificationResult> {
    if (typeof token !== 'string') throw new TypeError('verifyUser needs the verification token string');
    const { productId, signal } = verifyOptions;
    if (productId !== undefined && (typeof productId !== 'string' || productId === '')) {
      throw new TypeError('productId must be a non-empty string');
    }
    const body = JSON.stringify(productId === undefined ? { userVerificationToken: token } : { userVerificationToken: token, productId });
    for (let attempt = 0; ; attempt++) {
      let outcome: Attempt;
      try {
        outcome = await readAnswer(await send(body, signal));
      } catch (err) {
        if (!(err instanceof VerigateError)) throw err; // the caller's abort
        outcome = { error: err, retryable: true, retryAfterSeconds: null };
      }
      if (outcome.result) return outcome.result;
      if (!outcome.retryable || attempt >= retries) throw outcome.error as VerigateError;
      await sleep(retryDelayMs(attempt, outcome.retryAfterSeconds, maxRetryDelayMs), signal);
    }
  }

  return Object.freeze({ environment, baseUrl, verifyUser }) as VerigateClient;
}

function isVerificationResult(body: unknown): body is VerificationResult {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return b.isAuthenticated === true ? typeof b.userInfo === 'object' && b.userInfo !== null : b.isAuthenticated === false;
}

function isProblem(body: unknown): body is { code: ApiErrorCode; detail?: string; requestId?: string } {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}
