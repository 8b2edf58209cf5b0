/**
 * The registry of every error code a caller can see. Codes are stable
 * snake_case strings; the HTTP status of each is fixed here, so a new code
 * cannot be added without one.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'not_found'
  | 'rate_limited'
  | 'store_unavailable'
  | 'missing_api_key'
  | 'invalid_api_key'
  | 'api_key_wrong_environment'
  | 'no_session'
  | 'invalid_identity_token'
  | 'invalid_publishable_key'
  | 'publishable_key_wrong_environment'
  | 'origin_not_allowed'
  | 'unauthorized'
  | 'site_not_found'
  | 'user_not_found'
  | 'api_key_not_found'
  | 'forbidden'
  | 'cursor_expired'
  | 'webhook_endpoint_not_found'
  | 'request_timeout'
  | 'headers_too_large'
  | 'seat_limit_reached'
  | 'internal_error';

export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  not_found: 404,
  rate_limited: 429,
  store_unavailable: 503,
  missing_api_key: 401,
  invalid_api_key: 401,
  api_key_wrong_environment: 401,
  no_session: 401,
  invalid_identity_token: 401,
  invalid_publishable_key: 401,
  publishable_key_wrong_environment: 401,
  origin_not_allowed: 403,
  unauthorized: 401,
  site_not_found: 404,
  user_not_found: 404,
  api_key_not_found: 404,
  forbidden: 403,
  cursor_expired: 410,
  webhook_endpoint_not_found: 404,
  request_timeout: 408,
  headers_too_large: 431,
  seat_limit_reached: 409,
  internal_error: 500,
} as const satisfies Record<ErrorCode, number>;

export const ERROR_TITLES = {
  invalid_request: 'The request is not valid',
  invalid_json: 'The body is not valid JSON',
  payload_too_large: 'The body is too large',
  unsupported_media_type: 'The body must be application/json',
  method_not_allowed: 'Method not allowed',
  not_found: 'Not found',
  rate_limited: 'Too many requests',
  store_unavailable: 'The store is unavailable; try again shortly',
  missing_api_key: 'The X-API-KEY header is missing',
  invalid_api_key: 'The API key is not valid',
  api_key_wrong_environment: 'The API key belongs to the other environment',
  no_session: 'There is no active session',
  invalid_identity_token: 'The identity token is not valid',
  invalid_publishable_key: 'The publishable key is not valid',
  publishable_key_wrong_environment: 'The publishable key belongs to the other environment',
  origin_not_allowed: 'This origin is not allowed for the site',
  unauthorized: 'Missing or wrong admin token',
  site_not_found: 'Site not found',
  user_not_found: 'User not found',
  api_key_not_found: 'API key not found',
  forbidden: 'Outside what this admin token may do',
  cursor_expired: 'The cursor is older than the events kept',
  webhook_endpoint_not_found: 'Webhook endpoint not found',
  request_timeout: 'The request did not arrive in time',
  headers_too_large: 'The request headers are too large',
  seat_limit_reached: 'The site has as many users as its maxUsers allows',
  internal_error: 'Internal error',
} as const satisfies Record<ErrorCode, string>;

/**
 * Every error meant for a caller. `detail` is shown to the caller, so it must
 * never contain a secret; `extra` members are added to the problem body
 * (e.g. `reason`, `errors`).
 */
export class VerigateError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly extra?: Readonly<Record<string, unknown>>,
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(detail ?? ERROR_TITLES[code]);
    this.name = 'VerigateError';
    this.status = ERROR_STATUS[code];
  }
}

/** The store could not answer (down, frozen, timed out). Always a 503; never a guess. */
export class StoreUnavailableError extends VerigateError {
  constructor(cause?: unknown) {
    super('store_unavailable', 'The store is unavailable; try again shortly', undefined, { 'Retry-After': '1' });
    this.name = 'StoreUnavailableError';
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}
