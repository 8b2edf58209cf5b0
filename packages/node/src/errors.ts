import type { ApiErrorCode } from './protocol.js';

/**
 * Codes of errors the SDK raises itself, before or instead of a gateway answer.
 * - `invalid_api_key`, `api_key_wrong_environment`: caught locally, nothing was sent.
 * - `network_error`: no HTTP answer (refused, reset, DNS).
 * - `timeout`: no answer within `timeoutMs`.
 * - `redirect_refused`: the base URL answered with a redirect. Redirects are
 *   never followed, so the API key never reaches another origin.
 * - `unexpected_response`: an answer that is not the gateway's (a proxy's HTML page, bad JSON).
 * - `webhook_invalid`: `verifyWebhook` refused a request: a header missing,
 *   no signature made with the secret, or a timestamp too far from now.
 *
 * @example
 * ```ts
 * const local: ClientErrorCode[] = ['network_error', 'timeout'];
 * ```
 */
export type ClientErrorCode =
  | 'invalid_api_key'
  | 'api_key_wrong_environment'
  | 'network_error'
  | 'timeout'
  | 'redirect_refused'
  | 'unexpected_response'
  | 'webhook_invalid';

/**
 * Every code a {@link VerigateError} may carry: the gateway's
 * ({@link ApiErrorCode}) and the SDK's own ({@link ClientErrorCode}).
 *
 * @example
 * ```ts
 * const transient: VerigateErrorCode[] = ['store_unavailable', 'rate_limited', 'network_error', 'timeout'];
 * ```
 */
export type VerigateErrorCode = ApiErrorCode | ClientErrorCode;

const TRANSIENT: ReadonlySet<VerigateErrorCode> = new Set(['store_unavailable', 'rate_limited', 'network_error', 'timeout']);

/**
 * Base class of every error this SDK throws for bad data or a failed call.
 * Branch on `code`, never on `message`. (Misuse, such as calling without an
 * API key, throws a plain `TypeError` instead.)
 *
 * Deliberately without a `status` or `statusCode` property: a framework's
 * error handler that reads one (Express's, Fastify's) would pass the
 * gateway's 401 for *your* API key on to the browser. Uncaught, a
 * `VerigateError` is a 500, as a server misconfiguration should be.
 *
 * @example
 * ```ts
 * try {
 *   await verigate.verifyUser(token);
 * } catch (err) {
 *   if (err instanceof VerigateError && err.transient) retryLater();
 *   else throw err;
 * }
 * ```
 */
export class VerigateError extends Error {
  constructor(
    readonly code: VerigateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VerigateError';
  }

  /**
   * `true` when trying again later may succeed: the gateway's 503
   * `store_unavailable` or 429 `rate_limited`, network trouble, a timeout.
   * `false` means the call cannot succeed as configured (a refused API key,
   * a redirect, an answer that is not the gateway's).
   */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }
}

/**
 * The gateway answered with an error (`application/problem+json`), or with
 * something that is not the gateway's (`unexpected_response`,
 * `redirect_refused`). Carries the server's `code`, the `httpStatus` it
 * answered, and the `requestId` to quote to support.
 *
 * @example
 * ```ts
 * try {
 *   await verigate.verifyUser(token);
 * } catch (err) {
 *   if (err instanceof VerigateApiError && err.code === 'invalid_api_key') {
 *     console.error(`verigate refused our API key (request ${err.requestId}): was it revoked?`);
 *   }
 *   throw err;
 * }
 * ```
 */
export class VerigateApiError extends VerigateError {
  constructor(
    code: ApiErrorCode | 'unexpected_response' | 'redirect_refused',
    message: string,
    /** The HTTP status the gateway (or whatever answered at `baseUrl`) sent. */
    readonly httpStatus: number,
    readonly requestId: string | null,
    /** Seconds from the `Retry-After` header (429, 503), when sent. */
    readonly retryAfterSeconds: number | null = null,
    /** The problem body's `detail`, when sent. */
    readonly detail: string | null = null,
  ) {
    super(code, message);
    this.name = 'VerigateApiError';
  }
}
