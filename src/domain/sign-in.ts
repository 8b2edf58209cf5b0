import { VerigateError } from './errors';
import { verifyIdentityToken } from './identity-tokens';
import type { SessionRecord, Sessions } from './sessions';
import type { SiteRecord, Sites } from './sites';
import type { UserRecord, Users } from './users';
import type { Clock } from './clock';

export interface SignInResult {
  readonly site: SiteRecord;
  readonly user: UserRecord;
  readonly session: SessionRecord;
  readonly sessionToken: string;
}

/**
 * Signs a visitor in with a customer-signed identity token: verify it with
 * the site's identity secret(s), create the user on first sight (within the
 * site's seats) or update email, name and attributes (never product
 * access), or find the existing user by email when the token has no id;
 * then open a session.
 */
export async function signInWithIdentityToken(
  deps: { sites: Sites; users: Users; sessions: Sessions; clock: Clock },
  site: SiteRecord,
  identityToken: string,
): Promise<SignInResult> {
  const check = await verifyIdentityToken(identityToken, {
    secrets: deps.sites.identitySecretsFor(site),
    publishableKey: site.publishableKey,
    maxIdentityTokenAgeSeconds: site.maxIdentityTokenAgeSeconds,
    now: deps.clock.now(),
  });
  if (!check.ok) throw new VerigateError('invalid_identity_token', check.detail, { reason: check.reason });
  const user = await deps.users.signInUser(site, check.identity);
  if (user === 'unknown_user') {
    throw new VerigateError('invalid_identity_token', 'The site has no user, or more than one, with the email of this token', {
      reason: 'unknown_user',
    });
  }
  if (user === 'seat_limit_reached') {
    throw new VerigateError('invalid_identity_token', 'The site has as many users as its maxUsers allows; existing users can still sign in', {
      reason: 'seat_limit_reached',
    });
  }
  const { session, sessionToken } = await deps.sessions.createSessionForKnownUser(site.siteId, user.userId);
  return { site, user, session, sessionToken };
}
