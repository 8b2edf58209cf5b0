import { hash } from 'node:crypto';
import { VerigateError } from './errors';
import { generateCredential, last4, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import type { DomainContext } from './context';
import type { ApiKeyStore } from './ports';
import type { ApiKeyRecord } from './records';
import type { Sites } from './sites';
import type { ChangeCause } from './events';

export type { ApiKeyRecord } from './records';

export interface ApiKeyView {
  keyId: string;
  siteId: string;
  name: string;
  last4: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** `lastUsedAt` is written at most this often per key and instance, never once per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;
/** Presented keys whose keyed hash is remembered (by their SHA-256, never the secret itself). */
const MAX_REMEMBERED_HASHES = 50_000;

const newKeyId = (): string => `key_${randomBase62(20)}`;

/** Secret API keys of one environment: issue, authenticate, revoke, roll. */
export class ApiKeys {
  private readonly lastUsedWritten = new Map<string, number>();
  /** SHA-256 of a presented key -> its keyed hash: a one-shot digest costs a fraction of an HMAC. */
  private readonly rememberedHashes = new Map<string, string>();

  constructor(
    private readonly ctx: DomainContext,
    private readonly store: ApiKeyStore,
    private readonly sites: Sites,
  ) {}

  private hashOf(secret: string): string {
    return this.ctx.secrets.hash('api-key', secret);
  }

  /**
   * As hashOf, for keys presented on every exchange. Remembered by the
   * SHA-256 of the key, a one-way digest of a 190-bit random secret, so
   * memory holds no secret; bounded, oldest first out.
   */
  private rememberedHashOf(secret: string): string {
    const digest = hash('sha256', secret, 'base64url');
    const known = this.rememberedHashes.get(digest);
    if (known !== undefined) return known;
    const keyed = this.hashOf(secret);
    if (this.rememberedHashes.size >= MAX_REMEMBERED_HASHES) {
      const oldest = this.rememberedHashes.keys().next();
      if (!oldest.done) this.rememberedHashes.delete(oldest.value);
    }
    this.rememberedHashes.set(digest, keyed);
    return keyed;
  }


  async createApiKey(
    siteId: string,
    input: { name: string; expiresAt?: number | null },
    cause?: ChangeCause,
  ): Promise<{ record: ApiKeyRecord; apiKey: string }> {
    await this.sites.getSite(siteId);
    const now = this.ctx.clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw new VerigateError('invalid_request', 'expiresAt must be in the future', {
        errors: [{ path: 'expiresAt', message: 'must be in the future' }],
      });
    }
    const apiKey = generateCredential(this.ctx.environment, 'sk');
    const record: ApiKeyRecord = {
      keyId: newKeyId(),
      siteId,
      name: input.name,
      last4: last4(apiKey),
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
    };
    await this.store.create(this.hashOf(apiKey), record, [this.ctx.events(cause)('api_key.created', siteId, this.eventData(record))]);
    return { record, apiKey };
  }

  /**
   * The key record for a presented secret, or a coded error: `missing_api_key`,
   * `api_key_wrong_environment`, `invalid_api_key` (malformed, unknown,
   * revoked, expired). A malformed key costs no store lookup.
   */
  async authenticate(presented: string | undefined): Promise<ApiKeyRecord> {
    if (presented === undefined || presented === '') {
      throw new VerigateError('missing_api_key', 'Send the secret API key in the X-API-KEY header');
    }
    const check = parseCredential(presented, 'sk');
    if (!check.ok) {
      throw new VerigateError(
        'invalid_api_key',
        check.problem === 'wrong_kind'
          ? 'This is not a secret API key (vg_<env>_sk_…); publishable keys belong in the browser'
          : 'The API key is malformed (its checksum does not match)',
      );
    }
    if (check.environment !== this.ctx.environment) {
      throw new VerigateError(
        'api_key_wrong_environment',
        `This is a ${check.environment} API key; this is the ${this.ctx.environment} API`,
      );
    }
    const record = await this.store.findByHash(this.rememberedHashOf(presented));
    if (!record) throw new VerigateError('invalid_api_key', 'Unknown API key');
    const now = this.ctx.clock.now();
    if (record.revokedAt !== null) throw new VerigateError('invalid_api_key', 'The API key has been revoked');
    if (record.expiresAt !== null && now >= record.expiresAt) {
      throw new VerigateError('invalid_api_key', 'The API key has expired');
    }
    this.noteUse(record.keyId, now);
    return record;
  }

  /** Coalesced `lastUsedAt`: one background write per key and instance per minute at most. */
  private noteUse(keyId: string, now: number): void {
    const last = this.lastUsedWritten.get(keyId);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(keyId, now);
    this.store
      .recordUse(keyId, now)
      .catch((err: unknown) => {
        this.lastUsedWritten.delete(keyId);
        this.ctx.onBackgroundError(err, 'api key lastUsedAt');
      });
  }

  private async recordForKeyId(siteId: string, keyId: string): Promise<{ keyHash: string; record: ApiKeyRecord }> {
    const found = await this.store.findByKeyId(siteId, keyId);
    if (!found) throw new VerigateError('api_key_not_found', `No API key ${keyId} on site ${siteId}`);
    return found;
  }

  async listApiKeys(siteId: string): Promise<ApiKeyView[]> {
    await this.sites.getSite(siteId);
    const keys = await this.store.listForSite(siteId);
    return keys.map(({ record, lastUsedAt }) => this.view(record, lastUsedAt)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  view(record: ApiKeyRecord, lastUsedAt: number | null = null): ApiKeyView {
    return {
      keyId: record.keyId,
      siteId: record.siteId,
      name: record.name,
      last4: record.last4,
      createdAt: iso(record.createdAt),
      expiresAt: record.expiresAt === null ? null : iso(record.expiresAt),
      revokedAt: record.revokedAt === null ? null : iso(record.revokedAt),
      lastUsedAt: lastUsedAt === null ? null : iso(lastUsedAt),
    };
  }

  /** Revokes at once, on every instance sharing the store (pub/sub invalidation). */
  /** An API key event's data: the key as the admin API lists it, without when it was last used. */
  private eventData(record: ApiKeyRecord): Record<string, unknown> {
    const { lastUsedAt: _unused, ...view } = this.view(record);
    return view;
  }

  async revokeApiKey(siteId: string, keyId: string, cause?: ChangeCause): Promise<void> {
    const { keyHash, record } = await this.recordForKeyId(siteId, keyId);
    if (record.revokedAt !== null) return;
    const revoked: ApiKeyRecord = { ...record, revokedAt: this.ctx.clock.now() };
    await this.store.update(keyHash, revoked, [this.ctx.events(cause)('api_key.revoked', siteId, this.eventData(revoked))]);
  }

  /**
   * Issues a replacement key; the old one keeps working for
   * `expiresInSeconds` (0 = stops now), or until its own earlier expiry.
   */
  async rollApiKey(
    siteId: string,
    keyId: string,
    expiresInSeconds: number,
    cause?: ChangeCause,
  ): Promise<{ record: ApiKeyRecord; apiKey: string; previous: ApiKeyRecord }> {
    const { keyHash, record } = await this.recordForKeyId(siteId, keyId);
    if (record.revokedAt !== null) throw new VerigateError('invalid_request', 'A revoked key cannot be rolled');
    const created = await this.createApiKey(siteId, { name: record.name }, cause);
    const until = this.ctx.clock.now() + expiresInSeconds * 1000;
    const previous: ApiKeyRecord = {
      ...record,
      expiresAt: record.expiresAt === null ? until : Math.min(record.expiresAt, until),
    };
    await this.store.update(keyHash, previous, [
      this.ctx.events(cause)('api_key.rolled', siteId, { ...this.eventData(previous), replacedByKeyId: created.record.keyId }),
    ]);
    return { ...created, previous };
  }
}
