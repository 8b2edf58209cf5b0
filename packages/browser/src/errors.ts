import type { ApiErrorCode, IdentityTokenFailureReason } from './protocol.js';

/**
 * Codes a browser-SDK error may carry: the gateway's own error codes
 * (openapi.yaml `ErrorCode`), plus `network_error` (no answer at all) and
 * `unexpected_response` (an answer that is not the gateway's).
 *
 * @example
 * ```ts
 * if (verigate.lastError?.code === 'origin_not_allowed') console.warn('add this origin to the site');
 * ```
 */
export type VerigateErrorCode = ApiErrorCode | 'network_error' | 'unexpected_response';

/**
 * Every error the browser SDK reports, thrown or kept in `lastError`.
 * Branch on `code` (and `reason` for `invalid_identity_token`), never on `message`.
 *
 * @example
 * ```ts
 * const user = await verigate.identify(identityToken);
 * if (!user && verigate.lastError?.reason === 'expired') refreshIdentityToken();
 * ```
 */
export class VerigateError extends Error {
  constructor(
    readonly code: VerigateErrorCode,
    message: string,
    /** HTTP status of the gateway's answer; 0 when there was none. */
    readonly status = 0,
    /** For `invalid_identity_token`: why, e.g. `expired` or `bad_signature`. */
    readonly reason: IdentityTokenFailureReason | null = null,
    /** The gateway's request id, to quote to support. */
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'VerigateError';
  }
}
