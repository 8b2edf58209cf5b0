import type { Request, Response } from 'express';
import { z } from 'zod';
import { iso } from '../../domain/clock';
import { readJsonBody, validate } from '../body';
import type { EnvironmentDeps } from '../deps';
import { requestState } from '../pipeline';
import { checkOrigin } from '../middleware/cors';
import type { RateLimits } from '../rate-limits';

const SignInBody = z.strictObject({
  publishableKey: z.string({ error: 'publishableKey must be a string' }).max(256),
  identityToken: z.string({ error: 'identityToken is required' }).min(1).max(8192),
});

/**
 * POST /live_api/v1/sessions — signs a visitor in with a customer-signed
 * identity token: rate limit by address, read the body, find the site, check
 * the origin, rate limit by site, verify and sign in.
 */
export function signInHandler(deps: EnvironmentDeps, limits: RateLimits) {
  const { domain } = deps;
  return async function signIn(req: Request, res: Response): Promise<void> {
    await limits.signInPerIp.consume(requestState(res).clientAddress);
    const body = validate(SignInBody, await readJsonBody(req));
    const site = await domain.sites.siteForPublishableKey(body.publishableKey);
    checkOrigin(res, site);
    await limits.signInPerSite.consume(site.siteId);
    const { user, session, sessionToken } = await domain.signIn(site, body.identityToken);
    res.status(201).setHeader('Cache-Control', 'no-store');
    res.json({ sessionToken, expiresAt: iso(session.expiresAt), user: domain.users.view(user) });
  };
}
