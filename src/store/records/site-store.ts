import type { SiteStore } from '../../domain/ports';
import type { SiteRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { InvalidatingCache } from './invalidating-cache';
import type { InvalidationBus } from './invalidation';
import { decode, encode } from './json';
import { keys } from './keys';

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

  async create(site: SiteRecord): Promise<void> {
    // Record first, then the indexes that make it findable (each in its own
    // slot): a failure in between leaves an unreachable record, never a
    // dangling pointer.
    await this.kv.write([{ op: 'set', key: keys.site(site.siteId), value: encode(site) }]);
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

  async update(site: SiteRecord): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.site(site.siteId), value: encode(site) }]);
    this.byPublishableKey.delete(site.publishableKey);
    this.byId.delete(site.siteId);
    await this.bus.publish({ t: 'site', siteId: site.siteId, publishableKey: site.publishableKey });
  }
}
