import { ERROR_TITLES, VerigateError, type ErrorCode } from '../domain/errors';

/** RFC 9457 problem details, as every error on every listener is answered. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  requestId: string;
  [extra: string]: unknown;
}

/**
 * Turns anything thrown into a caller-safe error. Only a VerigateError keeps
 * its words; everything else becomes `internal_error`, so no internal detail
 * (a stack, a store message) can reach a caller.
 */
export function toVerigateError(err: unknown): VerigateError {
  if (err instanceof VerigateError) return err;
  return new VerigateError('internal_error', 'Something went wrong on our side; the request id identifies it');
}

/** The only place an error becomes a response body (the pipeline sends it: pipeline.ts `fail`). */
export function problemBody(err: VerigateError, requestId: string): ProblemBody {
  return {
    type: `urn:verigate:error:${err.code}`,
    title: ERROR_TITLES[err.code],
    status: err.status,
    code: err.code,
    ...(err.detail !== undefined && { detail: err.detail }),
    requestId,
    ...err.extra,
  };
}
