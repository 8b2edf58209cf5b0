import type { NewEvent } from '../../domain/events';
import type { SiteStore } from '../../domain/ports';
import type { SessionRecord, SiteRecord } from '../../domain/records';
import type { KvEventLog } from './event-log';
import type { KvStore } from '../kv';
import { InvalidatingCache } from './invalidating-cache';
import type { InvalidationBus } from './invalidation';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocation } from './revocations';
import { KvUserStore } from './user-store';

/** Users deleted per round of a site purge. */
const PURGE_BATCH = 200;

const MAX_CACHED_SITES = 10_000;

/**
 * Sites on the key-value store: the record under the site's hash tag, a
 * pointer from the publishable key, and the set of every site id. Two
 * caches (by id, by publishable key) serve the browser endpoints while the
 * invalidation channel delivers.
 */
export class KvSiteStore implements SiteStore {
  private readonly byPublishableKey = new InvalidatingCache<SiteRecord>(MAX_CACHED_SITES);
  private readonly byId = new InvalidatingCache<SiteRecord>(MAX_CACHED_SITES);

  constructor(
    private readonly kv: KvStore,
    private readonly bus: InvalidationBus,
    private readonly eventLog: KvEventLog,
  ) {
    this.byPublishableKey.bind(bus);
    this.byId.bind(bus);
    bus.register({
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

  async create(site: SiteRecord, events: readonly NewEvent[]): Promise<void> {
    await this.eventLog.noteAuditedSite(site.siteId);
    // Record (with its events) first, then the indexes that make it findable
    // (each in its own slot): a failure in between leaves an unreachable
    // record, never a dangling pointer.
    await this.kv.write([{ op: 'set', key: keys.site(site.siteId), value: encode(site) }, ...this.eventLog.ops(events)]);
    await this.eventLog.announce(events);
    await this.kv.write([{ op: 'set', key: keys.publishableKey(site.publishableKey), value: site.siteId }]);
    await this.kv.write([{ op: 'sadd', key: keys.siteIndex(), member: site.siteId }]);
  }

  async find(siteId: string): Promise<SiteRecord | null> {
    return decode<SiteRecord>(await this.kv.get(keys.site(siteId)));
  }

  async findCached(siteId: string): Promise<SiteRecord | null> {
    const cached = this.byId.get(siteId);
    if (cached) return cached;
    const site = await this.find(siteId);
    if (site) this.byId.set(siteId, site);
    return site;
  }

  async findByPublishableKey(publishableKey: string): Promise<SiteRecord | null> {
    const cached = this.byPublishableKey.get(publishableKey);
    if (cached) return cached;
    const siteId = await this.kv.get(keys.publishableKey(publishableKey));
    const site = siteId ? await this.find(siteId) : null;
    // A pointer left by a site whose record says otherwise leads nowhere.
    if (!site || site.publishableKey !== publishableKey) return null;
    this.byPublishableKey.set(publishableKey, site);
    return site;
  }

  async list(): Promise<SiteRecord[]> {
    const ids = (await this.kv.members(keys.siteIndex())).sort();
    // Sites live under different hash tags, so read them one by one (pipelined by the client).
    const sites = await Promise.all(ids.map((id) => this.find(id)));
    return sites.filter((s): s is SiteRecord => s !== null);
  }

  async update(site: SiteRecord, events: readonly NewEvent[]): Promise<void> {
    // Every site change is acknowledged as a revocation: it may rotate the
    // identity secret, drop an allowed origin or mark the site deleted.
    await writeRevocation(this.kv, [{ op: 'set', key: keys.site(site.siteId), value: encode(site) }, ...this.eventLog.ops(events)]);
    await this.eventLog.announce(events);
    this.byPublishableKey.delete(site.publishableKey);
    this.byId.delete(site.siteId);
    await this.bus.publish({ t: 'site', siteId: site.siteId, publishableKey: site.publishableKey });
  }

  async purge(siteId: string, endedEvents: (sessions: readonly SessionRecord[]) => readonly NewEvent[]): Promise<void> {
    // 1. API keys: each record (found by hash) goes first, so the key is
    //    refused from then on; every instance drops its cached copy.
    const keyIds = await this.kv.members(keys.siteApiKeyIndex(siteId));
    for (const keyId of keyIds) {
      const keyHash = await this.kv.get(keys.siteApiKey(siteId, keyId));
      if (keyHash) {
        await writeRevocation(this.kv, [{ op: 'del', key: keys.apiKeyByHash(keyHash) }]);
        await this.bus.publish({ t: 'api-key', hash: keyHash });
      }
      await this.kv.write([{ op: 'del', key: keys.apiKeyLastUsed(keyId) }]);
      await this.kv.write([
        { op: 'del', key: keys.siteApiKey(siteId, keyId) },
        { op: 'srem', key: keys.siteApiKeyIndex(siteId), member: keyId },
      ]);
    }
    // 2. Users with their sessions (and the sessions' token pointers), a page of the index at a time.
    const users = new KvUserStore(this.kv, this.eventLog);
    for (;;) {
      const userIds = await users.someUserIds(siteId, PURGE_BATCH);
      if (userIds.length === 0) break;
      for (const userId of userIds) await users.deleteWithSessions(siteId, userId, endedEvents);
    }
    // 3. What is left under the site's tag, the pointers, and last the record (so a purge cut short can be run again).
    await this.kv.write([
      { op: 'del', key: keys.userIndex(siteId) },
      { op: 'del', key: keys.siteApiKeyIndex(siteId) },
    ]);
    const site = await this.find(siteId);
    if (site) await this.kv.write([{ op: 'del', key: keys.publishableKey(site.publishableKey) }]);
    await this.kv.write([{ op: 'srem', key: keys.siteIndex(), member: siteId }]);
    await writeRevocation(this.kv, [{ op: 'del', key: keys.site(siteId) }]);
    this.byId.delete(siteId);
    if (site) this.byPublishableKey.delete(site.publishableKey);
    await this.bus.publish({ t: 'site', siteId, ...(site && { publishableKey: site.publishableKey }) });
  }
}
