import { VerigateError } from './errors';
import { generateCredential, last4, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import { parseRecord, type DomainContext } from './context';
import type { Sites } from './sites';
import { InvalidatingCache } from '../store/invalidating-cache';
import { keys } from '../store/keys';

/** An API key as stored, under the keyed hash of its secret. The secret itself is never stored. */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly siteId: string;
  readonly name: string;
  readonly last4: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

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
const MAX_CACHED_KEYS = 50_000;

const newKeyId = (): string => `key_${randomBase62(20)}`;

/** Secret API keys of one environment: issue, authenticate, revoke, roll. */
export class ApiKeys {
  private readonly cache = new InvalidatingCache<ApiKeyRecord>(MAX_CACHED_KEYS);
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly ctx: DomainContext,
    private readonly sites: Sites,
  ) {
    this.cache.bind(ctx.bus);
    ctx.bus.register({
      onInvalidation: (m) => {
        if (m.t === 'api-key') this.cache.delete(m.hash);
      },
      onReset: () => this.cache.clear(),
    });
  }

  private hashOf(secret: string): string {
    return this.ctx.secrets.hash('api-key', secret);
  }

  async createApiKey(
    siteId: string,
    input: { name: string; expiresAt?: number | null },
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
    const hash = this.hashOf(apiKey);
    // The record (found by hash) and the site's index live in different slots:
    // write the record first so an index entry never points at nothing.
    await this.ctx.store.write([{ op: 'set', key: keys.apiKeyByHash(hash), value: JSON.stringify(record) }]);
    await this.ctx.store.write([
      { op: 'set', key: keys.siteApiKey(siteId, record.keyId), value: hash },
      { op: 'sadd', key: keys.siteApiKeyIndex(siteId), member: record.keyId },
    ]);
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
    const hash = this.hashOf(presented);
    let record = this.cache.get(hash);
    if (!record) {
      const stored = parseRecord<ApiKeyRecord>(await this.ctx.store.get(keys.apiKeyByHash(hash)));
      if (!stored) throw new VerigateError('invalid_api_key', 'Unknown API key');
      record = stored;
      this.cache.set(hash, record);
    }
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
    this.ctx.store
      .write([{ op: 'set', key: keys.apiKeyLastUsed(keyId), value: String(now) }])
      .catch((err: unknown) => {
        this.lastUsedWritten.delete(keyId);
        this.ctx.onBackgroundError(err, 'api key lastUsedAt');
      });
  }

  private async hashForKeyId(siteId: string, keyId: string): Promise<string> {
    const hash = await this.ctx.store.get(keys.siteApiKey(siteId, keyId));
    if (!hash) throw new VerigateError('api_key_not_found', `No API key ${keyId} on site ${siteId}`);
    return hash;
  }

  private async recordForKeyId(siteId: string, keyId: string): Promise<{ hash: string; record: ApiKeyRecord }> {
    const hash = await this.hashForKeyId(siteId, keyId);
    const record = parseRecord<ApiKeyRecord>(await this.ctx.store.get(keys.apiKeyByHash(hash)));
    if (!record) throw new VerigateError('api_key_not_found', `No API key ${keyId} on site ${siteId}`);
    return { hash, record };
  }

  async listApiKeys(siteId: string): Promise<ApiKeyView[]> {
    await this.sites.getSite(siteId);
    const ids = await this.ctx.store.members(keys.siteApiKeyIndex(siteId));
    const hashes = ids.length ? await this.ctx.store.getMany(ids.map((id) => keys.siteApiKey(siteId, id))) : [];
    const views = await Promise.all(
      hashes.map(async (hash) => {
        if (!hash) return null;
        const record = parseRecord<ApiKeyRecord>(await this.ctx.store.get(keys.apiKeyByHash(hash)));
        if (!record) return null;
        const lastUsed = await this.ctx.store.get(keys.apiKeyLastUsed(record.keyId));
        return this.view(record, lastUsed === null ? null : Number(lastUsed));
      }),
    );
    return views.filter((v): v is ApiKeyView => v !== null).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
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

  private async replace(hash: string, record: ApiKeyRecord): Promise<void> {
    await this.ctx.store.write([{ op: 'set', key: keys.apiKeyByHash(hash), value: JSON.stringify(record) }]);
    this.cache.delete(hash);
    await this.ctx.bus.publish({ t: 'api-key', hash });
  }

  /** Revokes at once, on every instance sharing the store (pub/sub invalidation). */
  async revokeApiKey(siteId: string, keyId: string): Promise<void> {
    const { hash, record } = await this.recordForKeyId(siteId, keyId);
    if (record.revokedAt !== null) return;
    await this.replace(hash, { ...record, revokedAt: this.ctx.clock.now() });
  }

  /**
   * Issues a replacement key; the old one keeps working for
   * `expiresInSeconds` (0 = stops now), or until its own earlier expiry.
   */
  async rollApiKey(
    siteId: string,
    keyId: string,
    expiresInSeconds: number,
  ): Promise<{ record: ApiKeyRecord; apiKey: string; previous: ApiKeyRecord }> {
    const { hash, record } = await this.recordForKeyId(siteId, keyId);
    if (record.revokedAt !== null) throw new VerigateError('invalid_request', 'A revoked key cannot be rolled');
    const created = await this.createApiKey(siteId, { name: record.name });
    const until = this.ctx.clock.now() + expiresInSeconds * 1000;
    const previous: ApiKeyRecord = {
      ...record,
      expiresAt: record.expiresAt === null ? until : Math.min(record.expiresAt, until),
    };
    await this.replace(hash, previous);
    return { ...created, previous };
  }
}
