import { VerigateError } from './errors';
import { generateCredential, generateIdentitySecret, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import type { DomainContext } from './context';
import type { SiteStore } from './ports';
import { sessionsEnded, type ChangeCause } from './events';
import { DEFAULT_IDENTITY_TOKEN_REUSE, identityTokenReuseOf, type IdentityTokenReuse, type SiteRecord } from './records';

export type { SiteRecord } from './records';

export const DEFAULT_MAX_IDENTITY_TOKEN_AGE_SECONDS = 3600;
export const MAX_IDENTITY_TOKEN_AGE_SECONDS = 7 * 24 * 3600;
/** The largest `maxUsers` a site may be given (a bound on input, not a product limit). */
export const MAX_SITE_USERS = 1_000_000_000;

/** What admins see; no secret. */
export interface SiteView {
  siteId: string;
  environment: string;
  name: string;
  allowedOrigins: string[];
  publishableKey: string;
  maxIdentityTokenAgeSeconds: number;
  identityTokenReuse: IdentityTokenReuse;
  /** Seats: at most this many users; null for no limit. */
  maxUsers: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface SiteInput {
  name: string;
  allowedOrigins?: string[] | undefined;
  maxIdentityTokenAgeSeconds?: number | undefined;
  identityTokenReuse?: IdentityTokenReuse | undefined;
  /** null: no limit (the default). */
  maxUsers?: number | null | undefined;
}

export interface IdentitySecrets {
  identitySecret: string;
  previousSecretValidUntil: string | null;
}

const newSiteId = (): string => `site_${randomBase62(20)}`;

/** A site whose deletion has begun reads as absent. */
const live = (site: SiteRecord | null): SiteRecord | null => (site && !site.deletedAt ? site : null);

/** Sites of one environment: create, read, update, identity secrets. */
export class Sites {
  constructor(
    private readonly ctx: DomainContext,
    private readonly store: SiteStore,
  ) {}

  private checkOrigins(origins: readonly string[]): void {
    if (origins.includes('*') && this.ctx.environment !== 'sandbox') {
      throw new VerigateError('invalid_request', 'allowedOrigins may contain "*" only in sandbox', {
        errors: [{ path: 'allowedOrigins', message: '"*" is allowed only in sandbox' }],
      });
    }
  }

  private sealSecret(siteId: string, secret: string): string {
    return this.ctx.secrets.encrypt(secret, `identity-secret:${siteId}`);
  }

  private openSecret(siteId: string, sealed: string): string {
    return this.ctx.secrets.decrypt(sealed, `identity-secret:${siteId}`);
  }

  view(site: SiteRecord): SiteView {
    return {
      siteId: site.siteId,
      environment: this.ctx.environment,
      name: site.name,
      allowedOrigins: [...site.allowedOrigins],
      publishableKey: site.publishableKey,
      maxIdentityTokenAgeSeconds: site.maxIdentityTokenAgeSeconds,
      identityTokenReuse: identityTokenReuseOf(site),
      maxUsers: site.maxUsers ?? null,
      createdAt: iso(site.createdAt),
      updatedAt: iso(site.updatedAt),
    };
  }

  async createSite(input: SiteInput, cause?: ChangeCause): Promise<{ site: SiteRecord; identitySecret: string }> {
    const allowedOrigins = input.allowedOrigins ?? [];
    this.checkOrigins(allowedOrigins);
    const now = this.ctx.clock.now();
    const siteId = newSiteId();
    const identitySecret = generateIdentitySecret(this.ctx.environment);
    const site: SiteRecord = {
      siteId,
      name: input.name,
      allowedOrigins,
      publishableKey: generateCredential(this.ctx.environment, 'pk'),
      maxIdentityTokenAgeSeconds: input.maxIdentityTokenAgeSeconds ?? DEFAULT_MAX_IDENTITY_TOKEN_AGE_SECONDS,
      identityTokenReuse: input.identityTokenReuse ?? DEFAULT_IDENTITY_TOKEN_REUSE,
      maxUsers: input.maxUsers ?? null,
      identitySecretSealed: this.sealSecret(siteId, identitySecret),
      previousIdentitySecretSealed: null,
      previousIdentitySecretValidUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.create(site, [this.ctx.events(cause)('site.created', siteId, { ...this.view(site) })]);
    return { site, identitySecret };
  }

  /** The site, or null when there is none or its deletion has begun. */
  async findSite(siteId: string): Promise<SiteRecord | null> {
    return live(await this.store.find(siteId));
  }

  async getSite(siteId: string): Promise<SiteRecord> {
    return this.found(siteId, await this.findSite(siteId));
  }

  /** As getSite, from memory while invalidations are guaranteed to arrive; for the browser endpoints. */
  async getSiteCached(siteId: string): Promise<SiteRecord> {
    return this.found(siteId, live(await this.store.findCached(siteId)));
  }

  private found(siteId: string, site: SiteRecord | null): SiteRecord {
    if (!site) throw new VerigateError('site_not_found', `No site ${siteId} in ${this.ctx.environment}`);
    return site;
  }

  /** Every site, oldest first. */
  async listSites(): Promise<SiteRecord[]> {
    return (await this.store.list()).filter((s) => live(s) !== null).sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Deletes the site and everything in it. First the site is marked deleted
   * (every instance then refuses it: sign-ins, session reads, token mints),
   * then the store removes its keys (refused everywhere before this
   * resolves), users and sessions, and the record. A deletion cut short by
   * a store fault is finished by calling this again.
   */
  async deleteSite(siteId: string, cause?: ChangeCause): Promise<void> {
    const site = await this.store.find(siteId);
    if (!site) throw new VerigateError('site_not_found', `No site ${siteId} in ${this.ctx.environment}`);
    const make = this.ctx.events(cause);
    if (!site.deletedAt) {
      await this.store.update({ ...site, deletedAt: this.ctx.clock.now() }, [make('site.deleted', siteId, { siteId })]);
    }
    await this.store.purge(siteId, sessionsEnded(make, 'site_deleted'));
  }

  async updateSite(siteId: string, patch: Partial<SiteInput>, cause?: ChangeCause): Promise<SiteRecord> {
    const site = await this.getSite(siteId);
    if (patch.allowedOrigins) this.checkOrigins(patch.allowedOrigins);
    const updated: SiteRecord = {
      ...site,
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.allowedOrigins !== undefined && { allowedOrigins: patch.allowedOrigins }),
      ...(patch.maxIdentityTokenAgeSeconds !== undefined && {
        maxIdentityTokenAgeSeconds: patch.maxIdentityTokenAgeSeconds,
      }),
      ...(patch.identityTokenReuse !== undefined && { identityTokenReuse: patch.identityTokenReuse }),
      // Lowering it below the users the site has refuses new users only; none is removed.
      ...(patch.maxUsers !== undefined && { maxUsers: patch.maxUsers }),
      updatedAt: this.ctx.clock.now(),
    };
    await this.store.update(updated, [this.ctx.events(cause)('site.updated', siteId, { ...this.view(updated) })]);
    return updated;
  }

  /**
   * The site a publishable key names, for the browser endpoints. Refuses a
   * malformed key, another environment's key, or an unknown one.
   */
  async siteForPublishableKey(publishableKey: string): Promise<SiteRecord> {
    const check = parseCredential(publishableKey, 'pk');
    if (!check.ok) {
      if (check.problem === 'wrong_kind') {
        throw new VerigateError('invalid_publishable_key', 'This is not a publishable key (vg_<env>_pk_…)');
      }
      throw new VerigateError('invalid_publishable_key', 'The publishable key is malformed');
    }
    if (check.environment !== this.ctx.environment) {
      throw new VerigateError(
        'publishable_key_wrong_environment',
        `This is a ${check.environment} publishable key; this is the ${this.ctx.environment} API`,
      );
    }
    const site = live(await this.store.findByPublishableKey(publishableKey));
    if (!site) throw new VerigateError('invalid_publishable_key', 'Unknown publishable key');
    return site;
  }

  /**
   * The identity secrets a token may be signed with now: the current one and,
   * during a rotation's grace period, the previous one.
   */
  identitySecretsFor(site: SiteRecord): string[] {
    const secrets = [this.openSecret(site.siteId, site.identitySecretSealed)];
    if (
      site.previousIdentitySecretSealed &&
      site.previousIdentitySecretValidUntil !== null &&
      this.ctx.clock.now() < site.previousIdentitySecretValidUntil
    ) {
      secrets.push(this.openSecret(site.siteId, site.previousIdentitySecretSealed));
    }
    return secrets;
  }

  async revealIdentitySecret(siteId: string): Promise<IdentitySecrets> {
    const site = await this.getSite(siteId);
    return this.identitySecretsView(site);
  }

  private identitySecretsView(site: SiteRecord): IdentitySecrets {
    const graceRuns =
      site.previousIdentitySecretValidUntil !== null && this.ctx.clock.now() < site.previousIdentitySecretValidUntil;
    return {
      identitySecret: this.openSecret(site.siteId, site.identitySecretSealed),
      previousSecretValidUntil: graceRuns ? iso(site.previousIdentitySecretValidUntil as number) : null,
    };
  }

  /**
   * Replaces the identity secret. Without grace, tokens signed with the old
   * one fail at once (on every instance: the site cache is invalidated);
   * with grace, both work until it runs out.
   */
  async rotateIdentitySecret(siteId: string, graceSeconds = 0, cause?: ChangeCause): Promise<IdentitySecrets> {
    const site = await this.getSite(siteId);
    const now = this.ctx.clock.now();
    const fresh = generateIdentitySecret(this.ctx.environment);
    const rotated: SiteRecord = {
      ...site,
      identitySecretSealed: this.sealSecret(siteId, fresh),
      previousIdentitySecretSealed: graceSeconds > 0 ? site.identitySecretSealed : null,
      previousIdentitySecretValidUntil: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
      updatedAt: now,
    };
    const view = this.identitySecretsView(rotated);
    // The event says that and until when the old secret works, never a secret.
    await this.store.update(rotated, [
      this.ctx.events(cause)('identity_secret.rotated', siteId, { siteId, previousSecretValidUntil: view.previousSecretValidUntil }),
    ]);
    return view;
  }
}
