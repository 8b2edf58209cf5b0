import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { AdminAccess, AdminPrincipal } from '../../domain/admin-access';
import { VerigateError } from '../../domain/errors';
import { bearerToken } from '../body';
import { checkCsrf, consoleCookie, isMutation, resumeSession } from '../console-session';
import { requestState } from '../pipeline';
import type { RateLimit } from '../rate-limits';

const PRINCIPAL = Symbol('verigate.adminPrincipal');
type WithPrincipal = Response & { [PRINCIPAL]?: AdminPrincipal };

/** Who is calling, once adminAuth has let the request through. */
export function adminPrincipal(res: Response): AdminPrincipal {
  const principal = (res as WithPrincipal)[PRINCIPAL];
  if (!principal) throw new Error('adminAuth did not run for this request');
  return principal;
}

/**
 * The principal of a presented admin token (a bearer token, or the token
 * typed into the console's sign-in). A refused one counts against the
 * caller's address (RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS, SPEC §7); past
 * the limit the refusal is 429 instead of 401. Only refusals count, and a
 * right token is never refused by the count: an operator behind the same
 * NAT as a guesser still gets in.
 */
export async function authenticateAdminToken(
  access: AdminAccess,
  failures: RateLimit | undefined,
  res: ServerResponse,
  presented: string | undefined,
): Promise<AdminPrincipal> {
  try {
    return await access.authenticate(presented);
  } catch (err) {
    if (failures && presented !== undefined && err instanceof VerigateError && err.code === 'unauthorized') {
      await failures.consume(requestState(res).addressKey);
    }
    throw err;
  }
}

/**
 * The admin listener's guard, before routing: a bearer token (the root
 * token or a scoped `vg_admin_…` one), or else the console's session
 * cookie, whose mutations must also come from the console's own page
 * (same Origin, and the session's CSRF token). Anything else is 401
 * `unauthorized`; what the principal may do is each route's `access`
 * (routes.ts, authorize()).
 */
export function adminAuth(access: AdminAccess, failures?: RateLimit) {
  return async function adminAuth(req: Request, res: Response, next: NextFunction): Promise<void> {
    const presented = bearerToken(req);
    let principal: AdminPrincipal;
    if (presented !== undefined || consoleCookie(req) === undefined) {
      principal = await authenticateAdminToken(access, failures, res, presented);
    } else {
      const session = await resumeSession(access, req);
      if (!session) {
        throw new VerigateError('unauthorized', 'The console session has ended; sign in again', undefined, {
          'WWW-Authenticate': 'Bearer realm="verigate-admin"',
        });
      }
      if (isMutation(req.method)) checkCsrf(req, session);
      principal = session.principal;
    }
    (res as WithPrincipal)[PRINCIPAL] = principal;
    next();
  };
}
