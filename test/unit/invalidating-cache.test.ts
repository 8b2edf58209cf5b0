import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/domain/clock';
import { InvalidatingCache } from '../../src/store/records/invalidating-cache';
import { MemoryBackend } from '../../src/store/memory-kv';
import { keys } from '../../src/store/records/keys';
import type { ApiKeyRecord } from '../../src/domain/api-keys';
import { SecretBox } from '../../src/domain/secrets';
import { embeddedGateway } from '../support/embedded-gateway';

/** A subscription whose liveness the test controls. */
class FakeSubscription {
  active = true;
}

describe('InvalidatingCache', () => {
  it('serves nothing until bound to a subscription', () => {
    const cache = new InvalidatingCache<string>(10);
    cache.set('a', '1');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('serves what it was given while the subscription is active', () => {
    const cache = new InvalidatingCache<string>(10);
    cache.bind(new FakeSubscription());
    cache.set('a', '1');
    expect(cache.get('a')).toBe('1');
    expect(cache.get('b')).toBeUndefined();
    cache.set('a', '2');
    expect(cache.get('a')).toBe('2');
    expect(cache.size).toBe(1);
  });

  it('serves nothing, and stores nothing, while the subscription is down', () => {
    const sub = new FakeSubscription();
    const cache = new InvalidatingCache<string>(10);
    cache.bind(sub);
    cache.set('a', '1');
    sub.active = false;
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', '2');
    sub.active = true;
    // What was offered while down was not kept.
    expect(cache.get('b')).toBeUndefined();
  });

  it('delete and clear forget entries', () => {
    const cache = new InvalidatingCache<string>(10);
    cache.bind(new FakeSubscription());
    cache.set('a', '1');
    cache.set('b', '2');
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('2');
    cache.delete('missing');
    cache.clear();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded: past maxEntries the oldest entry goes first', () => {
    const cache = new InvalidatingCache<number>(3);
    cache.bind(new FakeSubscription());
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.set('d', 4);
    expect(cache.size).toBe(3);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('b'), cache.get('c'), cache.get('d')]).toEqual([2, 3, 4]);
  });

  it('replacing an entry at capacity evicts nothing', () => {
    const cache = new InvalidatingCache<number>(2);
    cache.bind(new FakeSubscription());
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('b', 20);
    expect(cache.size).toBe(2);
    expect([cache.get('a'), cache.get('b')]).toEqual([1, 20]);
  });
});

/**
 * The caches as the domain uses them: an API key cached by one instance is
 * dropped when another instance revokes it (pub/sub), and everything is
 * dropped when the subscription resets.
 */
describe('API key cache across instances (embedded store)', () => {
  const clock = new FrozenClock();
  const backend = new MemoryBackend();
  const masterKey = randomBytes(32);
  const instance = () => embeddedGateway({ clock, memoryBackend: backend, masterKey });
  const gatewayA = instance();
  const gatewayB = instance();
  const a = gatewayA.domains.live;
  const b = gatewayB.domains.live;

  beforeAll(async () => {
    await gatewayA.start();
    await gatewayB.start();
  });
  afterAll(async () => {
    await gatewayA.close();
    await gatewayB.close();
  });

  /** Where the embedded store holds the record of an API key (namespace + relative key). */
  const recordKey = (apiKey: string) => `vg:live:${keys.apiKeyByHash(new SecretBox(masterKey, 'live').hash('api-key', apiKey))}`;

  /** Resolves once every message published so far has been delivered (the embedded store delivers on setImmediate). */
  const delivered = () => new Promise((resolve) => setImmediate(resolve));

  it('B serves a cached key without the store, and drops it when A revokes it', async () => {
    const site = (await a.sites.createSite({ name: 'Shop' })).site;
    const { record, apiKey } = await a.apiKeys.createApiKey(site.siteId, { name: 'k' });

    expect((await b.apiKeys.authenticate(apiKey)).keyId).toBe(record.keyId);

    // Prove B serves from memory: hide the record from the store behind B's back.
    const fullKey = recordKey(apiKey);
    const entry = backend.data.get(fullKey);
    expect(entry).toBeDefined();
    backend.data.delete(fullKey);
    expect((await b.apiKeys.authenticate(apiKey)).keyId).toBe(record.keyId);
    backend.data.set(fullKey, entry!);

    await a.apiKeys.revokeApiKey(site.siteId, record.keyId);
    await delivered();
    await expect(b.apiKeys.authenticate(apiKey)).rejects.toMatchObject({ code: 'invalid_api_key' });
  });

  it('a subscription reset drops everything B cached', async () => {
    const site = (await a.sites.createSite({ name: 'Reset' })).site;
    const { apiKey } = await a.apiKeys.createApiKey(site.siteId, { name: 'k' });
    await b.apiKeys.authenticate(apiKey);

    // Change the record behind everyone's back (no invalidation), then reset B's subscription.
    const full = recordKey(apiKey);
    const rec = JSON.parse((backend.data.get(full) as { value: string }).value) as ApiKeyRecord;
    backend.data.set(full, { kind: 'string', value: JSON.stringify({ ...rec, revokedAt: clock.now() }), expiresAt: null });
    // Still served from B's cache: nothing told it.
    expect((await b.apiKeys.authenticate(apiKey)).keyId).toBe(rec.keyId);

    const subscription = gatewayB.records.live as NonNullable<typeof gatewayB.records.live>;
    await subscription.stop();
    await subscription.start(); // a fresh subscription starts with a reset
    await expect(b.apiKeys.authenticate(apiKey)).rejects.toMatchObject({ code: 'invalid_api_key' });
  });
});
