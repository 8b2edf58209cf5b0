import type { DomainContext } from './context';
import { VerigateError } from './errors';
import { IDENTITY_CLOCK_TOLERANCE_SECONDS, type IdentityTokenUse } from './identity-tokens';
import type { IdentityTokenUseStore } from './ports';
import { identityTokenReuseOf, type SiteRecord } from './records';

/**
 * One identity token, one sign-in (SPEC §7). Under `refuse` the first
 * sign-in with a token records its use; every later one, on any instance,
 * is `invalid_identity_token` reason `replayed` until the token could no
 * longer be accepted anyway (its `exp` plus the clock tolerance).
 */
export class IdentityTokenUses {
  constructor(
    private readonly ctx: DomainContext,
    private readonly store: IdentityTokenUseStore,
  ) {}

  /**
   * Claims the token's one sign-in, or refuses it as `replayed`. Resolves
   * with a function that gives the claim back, for a sign-in that then
   * fails before it opens a session (so the visitor may try again).
   */
  async claim(site: SiteRecord, use: IdentityTokenUse): Promise<() => Promise<void>> {
    if (identityTokenReuseOf(site) === 'allow') return async () => {};
    // Keyed, so the store holds nothing that says who signed in or with what.
    const useHash = this.ctx.secrets.hash('identity-token-use', use.identifier);
    const ttlMs = Math.max(1, (use.exp + IDENTITY_CLOCK_TOLERANCE_SECONDS) * 1000 - this.ctx.clock.now());
    const first = await this.store.recordFirstUse(site.siteId, useHash, ttlMs);
    if (!first) {
      throw new VerigateError('invalid_identity_token', 'This identity token has signed in already; sign a new one for each sign-in', {
        reason: 'replayed',
      });
    }
    return () => this.store.forget(site.siteId, useHash);
  }
}
