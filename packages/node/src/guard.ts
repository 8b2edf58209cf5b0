import { VerigateApiError, VerigateError } from './errors.js';
import type { VerigateClient } from './client.js';
import type { NotVerifiedReason, VerifiedUser } from './protocol.js';

/**
 * Where the adapters write their one line about a server-side problem (a
 * refused API key, an unreachable gateway). `console` fits, and so does a
 * pino or winston logger. Never given a secret.
 *
 * @example
 * ```ts
 * const logger: VerigateLogger = { error: (message) => myLogger.error(message) };
 * ```
 */
export interface VerigateLogger {
  error(message: string): void;
}

/**
 * Options shared by every framework adapter.
 *
 * @example
 * ```ts
 * const options: GuardOptions = { productId: 'reports', logger: console };
 * ```
 */
export interface GuardOptions {
  /** Also require access to this product: 403 `product_access_required` without it. */
  productId?: string;
  /** Where the one line about a misconfiguration goes (default `console`; Fastify: `request.log`). */
  logger?: VerigateLogger;
}

/**
 * Why an adapter answered 401: no bearer token, or the gateway's reason for
 * not verifying it.
 *
 * @example
 * ```ts
 * const expired = (reason: UnauthenticatedReason) => reason === 'token_expired';
 * ```
 */
export type UnauthenticatedReason = 'missing_token' | NotVerifiedReason;

/**
 * The `code` of an adapter's refusal (`application/problem+json`):
 * - `not_authenticated` (401): no token, or the gateway did not verify it (`reason` says why);
 * - `product_access_required` (403): verified, without the route's product;
 * - `verification_unavailable` (503, `Retry-After`): the gateway cannot answer right now;
 * - `verification_misconfigured` (500): the gateway refused *this server's*
 *   call (API key revoked, expired or of the other environment, a redirect,
 *   an answer that is not the gateway's). The browser learns nothing more;
 *   the cause goes to the log, in one line.
 *
 * @example
 * ```ts
 * const res = await fetch('/api/reports', { headers: { Authorization: `Bearer ${token}` } });
 * const { code } = (await res.json()) as { code: GuardProblemCode };
 * if (code === 'not_authenticated') signInAgain();
 * ```
 */
export type GuardProblemCode = 'not_authenticated' | 'product_access_required' | 'verification_unavailable' | 'verification_misconfigured';

/**
 * The body of an adapter's refusal: RFC 9457 problem details.
 *
 * @example
 * ```ts
 * const problem: GuardProblem = await res.json();
 * console.log(problem.code, problem.reason);
 * ```
 */
export interface GuardProblem {
  readonly type: string;
  readonly title: string;
  readonly status: 401 | 403 | 500 | 503;
  readonly code: GuardProblemCode;
  readonly detail: string;
  /** With `not_authenticated`. */
  readonly reason?: UnauthenticatedReason;
  /** With `product_access_required`. */
  readonly productId?: string;
}

/** What an adapter does with a request: let it through with the user, or answer for it. */
export type GuardOutcome =
  | { readonly ok: true; readonly user: VerifiedUser }
  | { readonly ok: false; readonly status: GuardProblem['status']; readonly headers: Readonly<Record<string, string>>; readonly problem: GuardProblem };

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * A verification token is well under 2 KB. Anything longer than this is not
 * one; refused here, it never reaches the gateway, whose body limit (16 KiB)
 * would answer 413, which would read as a server-side problem.
 */
const MAX_TOKEN_LENGTH = 8192;

const refuse = (status: GuardProblem['status'], problem: Omit<GuardProblem, 'type' | 'status'>, headers: Record<string, string> = {}): GuardOutcome => ({
  ok: false,
  status,
  headers: { 'Content-Type': 'application/problem+json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  problem: { type: `urn:verigate:error:${problem.code}`, status, ...problem },
});

const unauthenticated = (reason: UnauthenticatedReason): GuardOutcome =>
  refuse(
    401,
    {
      title: 'Sign-in required',
      code: 'not_authenticated',
      detail: reason === 'missing_token' ? 'Send Authorization: Bearer <verification token>' : `The verification token was refused (${reason})`,
      reason,
    },
    { 'WWW-Authenticate': 'Bearer' },
  );

/** One line, no stack, no secret: what failed, what the gateway said, what to check. */
function describeServerSide(err: VerigateError, answer: string): string {
  const where = err instanceof VerigateApiError ? `HTTP ${err.httpStatus}${err.requestId ? `, requestId ${err.requestId}` : ''}` : 'no answer';
  const hint =
    err.code === 'invalid_api_key' || err.code === 'missing_api_key'
      ? ' Check VERIGATE_API_KEY: revoked, expired, or not this site\'s key?'
      : err.code === 'api_key_wrong_environment'
        ? ' The API key and baseUrl are of different environments (live vs sandbox).'
        : err.code === 'network_error' || err.code === 'timeout'
          ? ' Is the gateway up, and is baseUrl right?'
          : '';
  return `verigate: ${err.code} (${where}): ${err.message.replace(/\s+/g, ' ')}.${hint} Answered ${answer}.`;
}

/**
 * The framework-neutral core of every adapter: reads the `Authorization`
 * header, verifies the token and decides. Resolves an outcome for every
 * `VerigateError`; rejects only on a bug (an error that is not one).
 */
export async function guardRequest(client: VerigateClient, authorization: string | null | undefined, options: GuardOptions): Promise<GuardOutcome> {
  const token = BEARER.exec(authorization ?? '')?.[1];
  if (token === undefined) return unauthenticated('missing_token');
  if (token.length > MAX_TOKEN_LENGTH) return unauthenticated('token_malformed');
  const { productId } = options;
  let result;
  try {
    result = productId === undefined ? await client.verifyUser(token) : await client.verifyUser(token, { productId });
  } catch (err) {
    if (!(err instanceof VerigateError)) throw err;
    const logger = options.logger ?? console;
    if (err.transient) {
      logger.error(describeServerSide(err, '503 verification_unavailable'));
      const retryAfter = err instanceof VerigateApiError && err.retryAfterSeconds !== null ? err.retryAfterSeconds : 1;
      return refuse(
        503,
        { title: 'Sign-in cannot be checked right now', code: 'verification_unavailable', detail: 'The verification service is unavailable; try again shortly' },
        { 'Retry-After': String(Math.max(1, retryAfter)) },
      );
    }
    logger.error(describeServerSide(err, '500 verification_misconfigured'));
    return refuse(500, {
      title: 'Sign-in cannot be checked',
      code: 'verification_misconfigured',
      detail: 'This server cannot verify sign-ins: its verigate configuration was refused (see its log)',
    });
  }
  if (!result.isAuthenticated) return unauthenticated(result.reason);
  if (productId !== undefined && result.hasProductAccess !== true) {
    return refuse(403, {
      title: 'No access to this product',
      code: 'product_access_required',
      detail: `This route requires access to ${productId}`,
      productId,
    });
  }
  return { ok: true, user: result };
}
