import type { VerigateClient } from './client.js';
import { guardRequest, type GuardOptions } from './guard.js';
import type { VerifiedUser } from './protocol.js';

declare global {
  // Merges into Express's own `Express.Request` (@types/express-serve-static-core)
  // when Express's types are installed; harmless when they are not.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `requireVerifiedUser` once the gateway has verified the caller. */
      verigateUser?: VerifiedUser;
    }
  }
}

/**
 * The request `requireVerifiedUser` reads and writes: Express's `Request`
 * fits (so does any Node `IncomingMessage`). Typed by shape, so this package
 * needs neither Express nor its types.
 *
 * @example
 * ```ts
 * const fake: ExpressRequestLike = { headers: { authorization: `Bearer ${token}` } };
 * ```
 */
export interface ExpressRequestLike {
  readonly headers: { readonly authorization?: string | undefined };
  verigateUser?: VerifiedUser;
}

/**
 * The response `requireVerifiedUser` answers on: Express's `Response` (any
 * Node `ServerResponse`).
 *
 * @example
 * ```ts
 * import type { ServerResponse } from 'node:http';
 * const fits = (res: ServerResponse): ExpressResponseLike => res;
 * ```
 */
export interface ExpressResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/**
 * Options of {@link requireVerifiedUser}.
 *
 * @example
 * ```ts
 * const options: RequireVerifiedUserOptions = { productId: 'reports', logger: console };
 * ```
 */
export interface RequireVerifiedUserOptions extends GuardOptions {}

/**
 * Express middleware for a protected route (Express 4 and 5). Reads
 * `Authorization: Bearer <verification token>`, verifies it with the
 * gateway, and then, as `application/problem+json`:
 * - verified (and, with `productId`, entitled): sets `req.verigateUser` and calls `next()`;
 * - no token, or not verified: 401 `not_authenticated` with the `reason`, `WWW-Authenticate: Bearer`;
 * - verified without the product: 403 `product_access_required`;
 * - gateway unreachable or 503 after the client's retries: 503
 *   `verification_unavailable` with `Retry-After` — fails closed;
 * - the gateway refused this server's call (API key revoked, expired or of
 *   the other environment; a redirect): 500 `verification_misconfigured`,
 *   and one line to `logger` naming the cause — never a 401 to the browser,
 *   never a stack trace.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createVerigateClient, requireVerifiedUser } from '@verigate/node';
 *
 * const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY!, baseUrl: process.env.VERIGATE_BASE_URL });
 * const app = express();
 * app.get('/api/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
 *   res.json({ hello: req.verigateUser!.userInfo.name });
 * });
 * ```
 */
export function requireVerifiedUser(
  client: VerigateClient,
  options: RequireVerifiedUserOptions = {},
): (req: ExpressRequestLike, res: ExpressResponseLike, next: (err?: unknown) => void) => Promise<void> {
  if (!client || typeof client.verifyUser !== 'function') {
    throw new TypeError('requireVerifiedUser needs a client from createVerigateClient()');
  }
  return async function verigateRequireVerifiedUser(req, res, next): Promise<void> {
    let outcome;
    try {
      outcome = await guardRequest(client, req.headers.authorization, options);
    } catch (err) {
      return next(err); // a bug, not a verdict: Express 4 would not catch a rejection itself
    }
    if (outcome.ok) {
      req.verigateUser = outcome.user;
      return next();
    }
    res.statusCode = outcome.status;
    for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
    res.end(JSON.stringify(outcome.problem));
  };
}
