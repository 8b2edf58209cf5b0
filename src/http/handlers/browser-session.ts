import type { Request, Response } from 'express';
import { bearerToken } from '../body';
import type { EnvironmentDeps } from '../deps';
import { iso } from '../../domain/clock';
import { checkOrigin } from '../middleware/cors';
import { requestState } from '../pipeline';

/**
 * The browser's session calls count against the caller's address
 * (RATE_LIMIT_SESSION_PER_ADDRESS, SPEC §7) before anything is looked up.
 */
async function limitByAddress(deps: EnvironmentDeps, res: Response): Promise<void> {
  await deps.rateLimits.sessionPerIp.consume(requestState(res).addressKey);
}

/** POST /live_api/v1/users/verification-token — a 5-minute token for the signed-in visitor. */
export function issueVerificationTokenHandler(deps: EnvironmentDeps) {
  const { sessions, verificationTokens } = deps.domain;
  return async function issueVerificationToken(req: Request, res: Response): Promise<void> {
    await limitByAddress(deps, res);
    const session = await sessions.requireSessionByToken(bearerToken(req));
    requestState(res).siteId = session.siteId;
    checkOrigin(res, await deps.domain.sites.getSiteCached(session.siteId));
    const active = await sessions.touchSession(session);
    const { token, expiresAt } = await verificationTokens.issueVerificationToken(active);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ userVerificationToken: token, expiresAt: iso(expiresAt) });
  };
}

/** GET /live_api/v1/session — who is signed in, if anyone. */
export function getSessionHandler(deps: EnvironmentDeps) {
  const { sessions, users } = deps.domain;
  return async function getSession(req: Request, res: Response): Promise<void> {
    await limitByAddress(deps, res);
    const session = await sessions.findSessionByToken(bearerToken(req));
    if (session) {
      requestState(res).siteId = session.siteId;
      checkOrigin(res, await deps.domain.sites.getSiteCached(session.siteId));
    }
    const user = session ? await users.findUser(session.siteId, session.userId) : null;
    if (session && user) await sessions.touchSession(session);
    res.setHeader('Cache-Control', 'no-store');
    res.json(session && user ? { isAuthenticated: true, user: users.view(user) } : { isAuthenticated: false, user: null });
  };
}

/** DELETE /live_api/v1/session — signs out. */
export function endSessionHandler(deps: EnvironmentDeps) {
  const { sessions } = deps.domain;
  return async function endSession(req: Request, res: Response): Promise<void> {
    await limitByAddress(deps, res);
    const session = await sessions.requireSessionByToken(bearerToken(req));
    requestState(res).siteId = session.siteId;
    checkOrigin(res, await deps.domain.sites.getSiteCached(session.siteId));
    await sessions.endSession(session);
    res.status(204).end();
  };
}
