import type { ApiErrorCode } from './types';

/**
 * Codes of errors the SDK raises itself, before or instead of a gateway answer.
 * - `invalid_api_key`, `api_key_wrong_environment`: caught locally, nothing was sent.
 * - `network_error`: no HTTP answer (refused, reset, DNS).
 * - `timeout`: no answer within `timeoutMs`.
 * - `unexpected_response`: an answer that is not the gateway's (a proxy's HTML page, bad JSON).
 */
export type ClientErrorCode =
  | 'invalid_api_key'
  | 'api_key_wrong_environment'
  | 'network_error'
  | 'timeout'
  | 'unexpected_response';

/**
 * Every code a {@link VerigateError} may carry.
 *
 * @example
 * ```ts
 * const transient: VerigateErrorCode[] = ['store_unavailable', 'network_error', 'timeout'];
 * ```
 */
export type VerigateErrorCode = ApiErrorCode | ClientErrorCode;

/**
 * Base class of every error this SDK throws for bad data or a failed call.
 * Branch on `code`, never on `message`. (Misuse, such as calling without an
 * API key, throws a plain `TypeError` instead.)
 *
 * @example
 * ```ts
 * try {
 *   await verigate.verifyUser(token);
 * } catch (err) {
 *   if (err instanceof VerigateError && err.code === 'timeout') retryLater();
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

  /** `true` when trying again later may succeed (503, network trouble, timeout). */
  get transient(): boolean {
    return this.code === 'store_unavailable' || this.code === 'network_error' || this.code === 'timeout';
  }
}

/**
 * The gateway answered with an error (`application/problem+json`). Carries
 * the server's `code`, the HTTP `status`, and the `requestId` to quote to
 * support. An answer that is not the gateway's has code `unexpected_response`.
 *
 * @example
 * ```ts
 * try {
 *   await verigate.verifyUser(token);
 * } catch (err) {
 *   if (err instanceof VerigateApiError && err.code === 'invalid_api_key') {
 *     log.error({ requestId: err.requestId }, 'verigate rejected our API key: was it revoked?');
 *   }
 *   throw err;
 * }
 * ```
 */
export class VerigateApiError extends VerigateError {
  constructor(
    code: ApiErrorCode | 'unexpected_response',
    message: string,
    readonly status: number,
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
