import { VerigateError } from './errors';
import type { IdentityTokenUses } from './identity-token-uses';
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
 * the site's identity secret(s), create the user on first sight or update
 * email, name and attributes (never product access), then open a session.
 * Under the site's `identityTokenReuse: "refuse"`, a token signs in once:
 * its use is claimed before anything is written, and given back if the
 * sign-in fails after that (a store fault), so the visitor can retry.
 */
export async function signInWithIdentityToken(
  deps: { sites: Sites; users: Users; sessions: Sessions; identityTokenUses: IdentityTokenUses; clock: Clock },
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
  const release = await deps.identityTokenUses.claim(site, check.use);
  const { userId, email, name, attributes } = check.identity;
  try {
    const { user } = await deps.users.upsertUser(site.siteId, userId, { email, name, attributes });
    const { session, sessionToken } = await deps.sessions.createSessionForKnownUser(site.siteId, userId);
    return { site, user, session, sessionToken };
  } catch (err) {
    // Best effort: if this fails too, the token stays used (the page signs a new one).
    await release().catch(() => undefined);
    throw err;
  }
}
