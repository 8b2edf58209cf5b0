import type { NewEvent } from '../../domain/events';
import type { ApiKeyStore } from '../../domain/ports';
import type { KvEventLog } from './event-log';
import type { ApiKeyRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { InvalidatingCache } from './invalidating-cache';
import type { InvalidationBus } from './invalidation';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocation } from './revocations';

const MAX_CACHED_KEYS = 50_000;

/**
 * API keys on the key-value store: the record under the keyed hash of the
 * secret (its own slot), and per site (under the site's hash tag) keyId ->
 * hash plus the set of the site's key ids. Lookups by hash are cached while
 * the invalidation channel delivers: no store read per exchange.
 */
export class KvApiKeyStore implements ApiKeyStore {
  private readonly cache = new InvalidatingCache<ApiKeyRecord>(MAX_CACHED_KEYS);

  constructor(
    private readonly kv: KvStore,
    private readonly bus: InvalidationBus,
    private readonly eventLog: KvEventLog,
  ) {
    this.cache.bind(bus);
    bus.register({
      onInvalidation: (m) => {
        if (m.t === 'api-key') this.cache.delete(m.hash);
      },
      onReset: () => this.cache.clear(),
    });
  }

  async create(keyHash: string, record: ApiKeyRecord, events: readonly NewEvent[]): Promise<void> {
    // The record (found by hash) and the site's index live in different slots:
    // write the record first so an index entry never points at nothing.
    await this.kv.write([{ op: 'set', key: keys.apiKeyByHash(keyHash), value: encode(record) }]);
    await this.kv.write([
      { op: 'set', key: keys.siteApiKey(record.siteId, record.keyId), value: keyHash },
      { op: 'sadd', key: keys.siteApiKeyIndex(record.siteId), member: record.keyId },
      ...this.eventLog.ops(events),
    ]);
    await this.eventLog.announce(events);
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const cached = this.cache.get(keyHash);
    if (cached) return cached;
    const record = decode<ApiKeyRecord>(await this.kv.get(keys.apiKeyByHash(keyHash)));
    if (record) this.cache.set(keyHash, record);
    return record;
  }

  async findByKeyId(siteId: string, keyId: string): Promise<{ keyHash: string; record: ApiKeyRecord } | null> {
    const keyHash = await this.kv.get(keys.siteApiKey(siteId, keyId));
    if (!keyHash) return null;
    const record = decode<ApiKeyRecord>(await this.kv.get(keys.apiKeyByHash(keyHash)));
    return record ? { keyHash, record } : null;
  }

  async listForSite(siteId: string): Promise<{ record: ApiKeyRecord; lastUsedAt: number | null }[]> {
    const ids = await this.kv.members(keys.siteApiKeyIndex(siteId));
    const hashes = ids.length ? await this.kv.getMany(ids.map((id) => keys.siteApiKey(siteId, id))) : [];
    const found = await Promise.all(
      hashes.map(async (hash) => {
        if (!hash) return null;
        const record = decode<ApiKeyRecord>(await this.kv.get(keys.apiKeyByHash(hash)));
        if (!record) return null;
        const lastUsed = await this.kv.get(keys.apiKeyLastUsed(record.keyId));
        return { record, lastUsedAt: lastUsed === null ? null : Number(lastUsed) };
      }),
    );
    return found.filter((f) => f !== null);
  }

  async update(keyHash: string, record: ApiKeyRecord, events: readonly NewEvent[]): Promise<void> {
    // Revoked or rolled: a revocation (src/store/records/revocations.ts).
    await writeRevocation(this.kv, [{ op: 'set', key: keys.apiKeyByHash(keyHash), value: encode(record) }]);
    this.cache.delete(keyHash);
    await this.bus.publish({ t: 'api-key', hash: keyHash });
    // The record lives in its own slot (found by hash): the events follow in
    // the site's. If this write fails the call fails (503), so no change is
    // acknowledged without its events.
    if (events.length > 0) {
      await this.kv.write(this.eventLog.ops(events));
      await this.eventLog.announce(events);
    }
  }

  async recordUse(keyId: string, at: number): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.apiKeyLastUsed(keyId), value: String(at) }]);
  }
}
