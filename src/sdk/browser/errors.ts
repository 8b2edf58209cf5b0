/**
 * Codes a browser-SDK error may carry: the gateway's own error codes (see
 * openapi.yaml `ErrorCode`), plus `network_error` (no answer at all) and
 * `unexpected_response` (an answer that is not the gateway's).
 *
 * @example
 * ```ts
 * if (Verigate.lastError?.code === 'origin_not_allowed') console.warn('add this origin to the site');
 * ```
 */
export type VerigateErrorCode =
  | 'invalid_identity_token'
  | 'invalid_publishable_key'
  | 'publishable_key_wrong_environment'
  | 'origin_not_allowed'
  | 'no_session'
  | 'rate_limited'
  | 'store_unavailable'
  | 'invalid_request'
  | 'network_error'
  | 'unexpected_response'
  | (string & {});

/**
 * Every error the browser SDK reports, thrown or kept in `Verigate.lastError`.
 * Branch on `code` (and `reason` for `invalid_identity_token`), never on `message`.
 *
 * @example
 * ```ts
 * const user = await Verigate.identify(identityToken);
 * if (!user && Verigate.lastError?.reason === 'expired') refreshIdentityToken();
 * ```
 */
export class VerigateError extends Error {
  constructor(
    readonly code: VerigateErrorCode,
    message: string,
    /** HTTP status of the gateway's answer; 0 when there was none. */
    readonly status = 0,
    /** A finer cause, e.g. `expired` or `bad_signature` for `invalid_identity_token`. */
    readonly reason: string | null = null,
    /** The gateway's request id, to quote to support. */
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'VerigateError';
  }
}
