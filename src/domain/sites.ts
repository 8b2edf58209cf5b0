import { VerigateError } from './errors';
import { generateCredential, generateIdentitySecret, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import { parseRecord, type DomainContext } from './context';
import { InvalidatingCache } from '../store/invalidating-cache';
import { keys } from '../store/keys';
import type { WriteOp } from '../store/kv';

export const DEFAULT_MAX_IDENTITY_TOKEN_AGE_SECONDS = 3600;
export const MAX_IDENTITY_TOKEN_AGE_SECONDS = 7 * 24 * 3600;

/** A site as stored. The identity secrets are sealed (AES-256-GCM). */
export interface SiteRecord {
  readonly siteId: string;
  readonly name: string;
  readonly allowedOrigins: readonly string[];
  readonly publishableKey: string;
  readonly maxIdentityTokenAgeSeconds: number;
  readonly identitySecretSealed: string;
  /** The secret replaced by the last rotation, while its grace period runs. */
  readonly previousIdentitySecretSealed: string | null;
  readonly previousIdentitySecretValidUntil: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What admins see; no secret. */
export interface SiteView {
  siteId: string;
  environment: string;
  name: string;
  allowedOrigins: string[];
  publishableKey: string;
  maxIdentityTokenAgeSeconds: number;
  createdAt: string;
  updatedAt: string;
}

export interface SiteInput {
  name: string;
  allowedOrigins?: string[] | undefined;
  maxIdentityTokenAgeSeconds?: number | undefined;
}

export interface IdentitySecrets {
  identitySecret: string;
  previousSecretValidUntil: string | null;
}

const newSiteId = (): string => `site_${randomBase62(20)}`;

/** Sites of one environment: create, read, update, identity secrets. */
export class Sites {
  private readonly byPublishableKey = new InvalidatingCache<SiteRecord>(10_000);
  private readonly byId = new InvalidatingCache<SiteRecord>(10_000);

  constructor(private readonly ctx: DomainContext) {
    this.byPublishableKey.bind(ctx.bus);
    this.byId.bind(ctx.bus);
    ctx.bus.register({
      onInvalidation: (m) => {
        if (m.t !== 'site') return;
        this.byId.delete(m.siteId);
        if (m.publishableKey) this.byPublishableKey.delete(m.publishableKey);
      },
      onReset: () => {
        this.byPublishableKey.clear();
        this.byId.clear();
      },
    });
  }

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
      createdAt: iso(site.createdAt),
      updatedAt: iso(site.updatedAt),
    };
  }

  async createSite(input: SiteInput): Promise<{ site: SiteRecord; identitySecret: string }> {
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
      identitySecretSealed: this.sealSecret(siteId, identitySecret),
      previousIdentitySecretSealed: null,
      previousIdentitySecretValidUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    // Record first, then the indexes that make it findable: a failure in
    // between leaves an unreachable record, never a dangling pointer.
    await this.ctx.store.write([{ op: 'set', key: keys.site(siteId), value: JSON.stringify(site) }]);
    await this.ctx.store.write([{ op: 'set', key: keys.publishableKey(site.publishableKey), value: siteId }]);
    await this.ctx.store.write([{ op: 'sadd', key: keys.siteIndex(), member: siteId }]);
    return { site, identitySecret };
  }

  async findSite(siteId: string): Promise<SiteRecord | null> {
    return parseRecord<SiteRecord>(await this.ctx.store.get(keys.site(siteId)));
  }

  async getSite(siteId: string): Promise<SiteRecord> {
    const site = await this.findSite(siteId);
    if (!site) throw new VerigateError('site_not_found', `No site ${siteId} in ${this.ctx.environment}`);
    return site;
  }

  /** As getSite, from memory while invalidations are guaranteed to arrive; for the browser endpoints. */
  async getSiteCached(siteId: string): Promise<SiteRecord> {
    const cached = this.byId.get(siteId);
    if (cached) return cached;
    const site = await this.getSite(siteId);
    this.byId.set(siteId, site);
    return site;
  }

  async listSites(): Promise<SiteRecord[]> {
    const ids = (await this.ctx.store.members(keys.siteIndex())).sort();
    // Sites live under different hash tags, so read them one by one (pipelined by the client).
    const sites = await Promise.all(ids.map((id) => this.findSite(id)));
    return sites.filter((s): s is SiteRecord => s !== null).sort((a, b) => a.createdAt - b.createdAt);
  }

  async updateSite(siteId: string, patch: Partial<SiteInput>): Promise<SiteRecord> {
    const site = await this.getSite(siteId);
    if (patch.allowedOrigins) this.checkOrigins(patch.allowedOrigins);
    const updated: SiteRecord = {
      ...site,
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.allowedOrigins !== undefined && { allowedOrigins: patch.allowedOrigins }),
      ...(patch.maxIdentityTokenAgeSeconds !== undefined && {
        maxIdentityTokenAgeSeconds: patch.maxIdentityTokenAgeSeconds,
      }),
      updatedAt: this.ctx.clock.now(),
    };
    await this.saveAndAnnounce(updated);
    return updated;
  }

  private async saveAndAnnounce(site: SiteRecord, extra: WriteOp[] = []): Promise<void> {
    await this.ctx.store.write([{ op: 'set', key: keys.site(site.siteId), value: JSON.stringify(site) }, ...extra]);
    this.byPublishableKey.delete(site.publishableKey);
    this.byId.delete(site.siteId);
    await this.ctx.bus.publish({ t: 'site', siteId: site.siteId, publishableKey: site.publishableKey });
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
    const cached = this.byPublishableKey.get(publishableKey);
    if (cached) return cached;
    const siteId = await this.ctx.store.get(keys.publishableKey(publishableKey));
    const site = siteId ? await this.findSite(siteId) : null;
    if (!site || site.publishableKey !== publishableKey) {
      throw new VerigateError('invalid_publishable_key', 'Unknown publishable key');
    }
    this.byPublishableKey.set(publishableKey, site);
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
  async rotateIdentitySecret(siteId: string, graceSeconds = 0): Promise<IdentitySecrets> {
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
    await this.saveAndAnnounce(rotated);
    return this.identitySecretsView(rotated);
  }
}
