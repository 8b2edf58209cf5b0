import { VerigateApiError, VerigateError } from './errors.js';
import { resolveEnvironment } from './environment.js';
import { parseRetryAfter, retryDelayMs, sleep } from './retry.js';
import type { ApiErrorCode, Environment, NotVerified, VerificationResult, VerifiedUserWithProduct } from './protocol.js';
import { SDK_VERSION } from './version.js';
import { LocalVerifier, type LocalVerificationStatus, type OnlineAnswer } from './local/local-verifier.js';
import { DEFAULT_MAX_CACHED_SESSIONS } from './local/session-cache.js';
import { DEFAULT_JWKS_REFRESH_INTERVAL_MS } from './local/jwks.js';

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
   * How tokens are verified.
   * - `'online'` (the default): every call is an exchange with the gateway,
   *   the authority on sign-out and product access.
   * - `'local'` (SPEC §12): the signature is checked in this process against
   *   the environment's JWKS, and a session the gateway verified before is
   *   answered from memory, kept current by the site's event stream (one
   *   long-lived HTTP connection per client, opened at creation; `close()`
   *   ends it). The first sight of a session, and every call while the
   *   stream's last heartbeat is older than `maxStalenessMs`, goes online;
   *   when that fails too, the call fails: never a remembered success.
   *   Answers have exactly the online shape.
   */
  verification?: 'online' | 'local';
  /**
   * Local mode: how old the stream's last heartbeat (sent every 250 ms) may
   * be for an answer from memory, in ms (default 1000). Past it every call
   * goes online until the stream is back.
   */
  maxStalenessMs?: number;
  /** Local mode: sessions held in memory at most, least recently used dropped first (default 10,000; ~1 KiB each). */
  maxCachedSessions?: number;
  /** Local mode: the JWKS is fetched again for an unknown `kid` at most once per this many ms (default 30,000). */
  jwksRefreshIntervalMs?: number;
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
  /** `'online'` or `'local'`, as created. */
  readonly verification: 'online' | 'local';
  /** Local mode: the stream's freshness, the cache and the counts of local and online answers; `null` online. */
  localStatus(): LocalVerificationStatus | null;
  /**
   * Stops the event stream of local mode (after that every call goes
   * online) and forgets what it held. Nothing to stop online; resolves at once.
   */
  close(): Promise<void>;
}

/**
 * Statuses worth another attempt: the gateway's fail-closed 503, and a
 * proxy's 502/504 in front of it. Not 429: the limit is per minute, so an
 * attempt within `maxRetryDelayMs` would only be refused again.
 */
const RETRYABLE_STATUS = new Set([502, 503, 504]);

interface Attempt {
  readonly result?: OnlineAnswer;
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
 * `api_key_wrong_environment`) here, before any request. Creating an online
 * client sends nothing and starts nothing; a local one (`verification:
 * 'local'`) fetches the JWKS and opens the site's event stream at once
 * (its socket does not keep the process alive), until `close()`.
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
  if (options.verification !== undefined && options.verification !== 'online' && options.verification !== 'local') {
    throw new TypeError(`verification must be 'online' or 'local', got ${JSON.stringify(options.verification)}`);
  }
  const verification = options.verification ?? 'online';
  const { apiKey } = options;
  const { environment, baseUrl } = resolveEnvironment(apiKey, options.sandbox, options.baseUrl);
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 5000, 1);
  const retries = integerOption('retries', options.retries, 2);
  const maxRetryDelayMs = integerOption('maxRetryDelayMs', options.maxRetryDelayMs, 2000);
  const maxStalenessMs = integerOption('maxStalenessMs', options.maxStalenessMs, 1000, 1);
  const maxCachedSessions = integerOption('maxCachedSessions', options.maxCachedSessions, DEFAULT_MAX_CACHED_SESSIONS, 1);
  const jwksRefreshIntervalMs = integerOption('jwksRefreshIntervalMs', options.jwksRefreshIntervalMs, DEFAULT_JWKS_REFRESH_INTERVAL_MS, 0);
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
      const answer: OnlineAnswer = {
        result: body,
        reusableUntil: instantHeader(res.headers.get('x-verigate-reusable-until')),
        apiKeyExpiresAt: instantHeader(res.headers.get('x-verigate-api-key-expires-at')),
      };
      return { result: answer, retryable: false, retryAfterSeconds: null };
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

  async function exchangeOnline(token: string, productId: string | undefined, signal: AbortSignal | undefined): Promise<OnlineAnswer> {
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

  const userAgent = `verigate-node/${SDK_VERSION}`;
  const local =
    verification === 'local'
      ? new LocalVerifier({
          environment,
          baseUrl,
          apiKey,
          userAgent,
          fetch: doFetch,
          timeoutMs,
          maxStalenessMs,
          maxCachedSessions,
          jwksRefreshIntervalMs,
          online: exchangeOnline,
        })
      : null;

  async function verifyUser(token: string, verifyOptions: VerifyUserOptions = {}): Promise<VerificationResult> {
    if (typeof token !== 'string') throw new TypeError('verifyUser needs the verification token string');
    const { productId, signal } = verifyOptions;
    if (productId !== undefined && (typeof productId !== 'string' || productId === '')) {
      throw new TypeError('productId must be a non-empty string');
    }
    if (local !== null) return local.verify(token, productId, signal);
    return (await exchangeOnline(token, productId, signal)).result;
  }

  return Object.freeze({
    environment,
    baseUrl,
    verification,
    verifyUser,
    localStatus: () => local?.status() ?? null,
    close: async () => local?.close(),
  }) as VerigateClient;
}

/** An ISO instant header as epoch ms; null when absent or unreadable (local mode then keeps nothing). */
function instantHeader(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function isVerificationResult(body: unknown): body is VerificationResult {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return b.isAuthenticated === true ? typeof b.userInfo === 'object' && b.userInfo !== null : b.isAuthenticated === false;
}

function isProblem(body: unknown): body is { code: ApiErrorCode; detail?: string; requestId?: string } {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}
