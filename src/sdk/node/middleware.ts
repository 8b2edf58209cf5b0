import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { VerigateError } from './errors';
import type { VerigateClient } from './client';
import type { NotVerifiedReason, VerifiedUser } from './types';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `requireVerifiedUser` once the gateway has verified the caller. */
      verigateUser?: VerifiedUser;
    }
  }
}

/**
 * Options of {@link requireVerifiedUser}.
 *
 * @example
 * ```ts
 * const options: RequireVerifiedUserOptions = { productId: 'reports' };
 * ```
 */
export interface RequireVerifiedUserOptions {
  /** Also require access to this product: 403 without it. */
  productId?: string;
}

/**
 * Why `requireVerifiedUser` answered 401: no bearer token, or the gateway's
 * reason for not verifying it.
 *
 * @example
 * ```ts
 * const expired = (reason: UnauthenticatedReason) => reason === 'token_expired';
 * ```
 */
export type UnauthenticatedReason = 'missing_token' | NotVerifiedReason;

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

function sendProblem(res: Response, status: number, code: string, title: string, extra: Record<string, unknown>): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ type: `urn:verigate:error:${code}`, title, status, code, ...extra }));
}

/**
 * Express middleware for a protected route. Reads `Authorization: Bearer
 * <verification token>`, verifies it with the gateway, and then:
 * - verified (and, with `productId`, entitled): sets `req.verigateUser` and calls `next()`;
 * - no token, or not verified: 401 `application/problem+json`, code
 *   `not_authenticated`, `reason` from the gateway, `WWW-Authenticate: Bearer`;
 * - verified without the product: 403, code `product_access_required`;
 * - gateway unreachable or 503 after the client's retries: 503, code
 *   `verification_unavailable` — fails closed, never lets the request through;
 * - any other error (e.g. a revoked API key): `next(err)`, for your error handler to log.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createVerigateClient, requireVerifiedUser } from './sdk/node';
 *
 * const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY! });
 * const app = express();
 * app.get('/api/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
 *   res.json({ hello: req.verigateUser!.userInfo.name });
 * });
 * ```
 */
export function requireVerifiedUser(client: VerigateClient, options: RequireVerifiedUserOptions = {}): RequestHandler {
  if (!client || typeof client.verifyUser !== 'function') {
    throw new TypeError('requireVerifiedUser needs a client from createVerigateClient()');
  }
  const { productId } = options;
  return async function verigateRequireVerifiedUser(req: Request, res: Response, next: NextFunction): Promise<void> {
    const match = BEARER.exec(req.headers.authorization ?? '');
    const token = match?.[1];
    const unauthenticated = (reason: UnauthenticatedReason): void => {
      res.setHeader('WWW-Authenticate', 'Bearer');
      sendProblem(res, 401, 'not_authenticated', 'Sign-in required', {
        detail: reason === 'missing_token' ? 'Send Authorization: Bearer <verification token>' : `The verification token was refused (${reason})`,
        reason,
      });
    };
    if (token === undefined) return unauthenticated('missing_token');
    let result;
    try {
      result = productId === undefined ? await client.verifyUser(token) : await client.verifyUser(token, { productId });
    } catch (err) {
      if (err instanceof VerigateError && err.transient) {
        res.setHeader('Retry-After', '1');
        return sendProblem(res, 503, 'verification_unavailable', 'Sign-in cannot be checked right now', {
          detail: 'The verification service is unavailable; try again shortly',
        });
      }
      return next(err);
    }
    if (!result.isAuthenticated) return unauthenticated(result.reason);
    if (productId !== undefined && result.hasProductAccess !== true) {
      return sendProblem(res, 403, 'product_access_required', 'No access to this product', {
        detail: `This route requires access to ${productId}`,
        productId,
      });
    }
    req.verigateUser = result;
    next();
  };
}
