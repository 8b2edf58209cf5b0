import type { Request, Response } from 'express';
import { z } from 'zod';
import { iso } from '../../domain/clock';
import { VerigateError } from '../../domain/errors';
import type { SiteRecord } from '../../domain/sites';
import { readJsonBody, validate } from '../body';
import type { EnvironmentDeps } from '../deps';
import { requestState } from '../pipeline';
import { checkOrigin } from '../middleware/cors';
import type { RateLimits } from '../rate-limits';

const SignInBody = z.strictObject({
  publishableKey: z.string({ error: 'publishableKey must be a string' }).max(256),
  identityToken: z.string({ error: 'identityToken is required' }).min(1).max(8192),
});

/** The outcome label of a refused sign-in: the identity token's reason, else the error code. */
function refusalOutcome(err: unknown): string {
  if (!(err instanceof VerigateError)) return 'internal_error';
  const reason = err.extra?.reason;
  return err.code === 'invalid_identity_token' && typeof reason === 'string' ? reason : err.code;
}

/**
 * POST /live_api/v1/sessions — signs a visitor in with a customer-signed
 * identity token: rate limit by address, read the body, find the site, check
 * the origin, verify and sign in; a refused token counts against the site's
 * failure budget.
 *
 * The per-site limit counts refusals only, and is consulted only for a
 * token already refused (SPEC §7): a valid identity token signs in however
 * many bad ones others have sent for the site, since anyone holding the
 * site's public publishable key could otherwise lock all its visitors out.
 * Past the budget a refused token is answered 429 instead of 401 with its
 * reason, so a flood of guesses learns nothing more.
 */
export function signInHandler(deps: EnvironmentDeps, limits: RateLimits) {
  const { domain } = deps;
  const outcomes = deps.metrics.signInOutcomes;
  const environment = domain.environment;
  const count = (outcome: string): void => outcomes.inc({ environment, outcome });

  const signInCountingRefusals = async (res: Response, site: SiteRecord, identityToken: string) => {
    try {
      return await domain.signIn(site, identityToken);
    } catch (err) {
      if (err instanceof VerigateError && err.code === 'invalid_identity_token') {
        const reason = err.extra?.reason;
        if (typeof reason === 'string') requestState(res).reason = reason;
        await limits.signInFailuresPerSite.consume(site.siteId);
      }
      throw err;
    }
  };

  return async function signIn(req: Request, res: Response): Promise<void> {
    const state = requestState(res);
    try {
      await limits.signInPerIp.consume(state.addressKey);
      const body = validate(SignInBody, await readJsonBody(req));
      const site = await domain.sites.siteForPublishableKey(body.publishableKey);
      state.siteId = site.siteId;
      checkOrigin(res, site);
      const { user, session, sessionToken } = await signInCountingRefusals(res, site, body.identityToken);
      count('signed_in');
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json({ sessionToken, expiresAt: iso(session.expiresAt), user: domain.users.view(user) });
    } catch (err) {
      count(refusalOutcome(err));
      throw err;
    }
  };
}
