import { FrozenClock } from '../../src/domain/clock';
import type { StoredKeyring } from '../../src/domain/records';
import { MemoryBackend, MemoryKvStore } from '../../src/store/memory-kv';
import { InvalidationBus } from '../../src/store/records/invalidation';
import { DecodeMemo } from '../../src/store/records/json';
import { KvKeyringStore } from '../../src/store/records/keyring-store';

/** Resolves once every message published so far has been delivered (the embedded store delivers on setImmediate). */
const delivered = () => new Promise((resolve) => setImmediate(resolve));

const keyring = (currentKid: string): StoredKeyring => ({
  currentKid,
  keys: [{ kid: currentKid, createdAt: 0, publicJwk: { kty: 'EC' }, privateSealed: 'sealed', retiresAt: null }],
});

describe('KvKeyringStore: the keyring served from memory', () => {
  const clock = new FrozenClock();
  const backend = new MemoryBackend();
  const open = () => {
    const kv = new MemoryKvStore({ namespace: 'vg:live:', shared: backend, now: () => clock.now() });
    const bus = new InvalidationBus(kv);
    return { kv, bus, store: new KvKeyringStore(kv, bus, clock) };
  };

  it('hands out the very same object while subscribed, and drops it when another instance replaces it', async () => {
    const a = open();
    const b = open();
    await a.bus.start();
    await b.bus.start();
    try {
      await a.store.createIfAbsent(keyring('live_one'));
      const first = await b.store.read();
      expect(first?.currentKid).toBe('live_one');
      expect(b.store.readCached()).toBe(first);
      clock.advance(60_000);
      expect(await b.store.read()).toBe(first);

      await a.store.update(() => keyring('live_two'));
      await delivered();
      expect(b.store.readCached()).toBeNull();
      expect((await b.store.read())?.currentKid).toBe('live_two');
    } finally {
      await a.bus.stop();
      await b.bus.stop();
    }
  });

  it('without a subscription, trusts what it read for one second only', async () => {
    const { kv, store } = open();
    await kv.write([{ op: 'set', key: 'signing-keys', value: JSON.stringify(keyring('live_three')) }]);
    const read = await store.read({ fresh: true });
    expect(store.readCached()).toBe(read);
    clock.advance(999);
    expect(store.readCached()).toBe(read);
    clock.advance(1);
    expect(store.readCached()).toBeNull();
    const again = await store.read();
    expect(again).not.toBe(read);
    expect(again).toEqual(read);
  });
});

describe('DecodeMemo', () => {
  it('decodes the same text to the same object, changed text afresh, absence to null', () => {
    const memo = new DecodeMemo(10);
    const a = memo.decode<{ n: number }>('k', '{"n":1}');
    expect(a).toEqual({ n: 1 });
    expect(memo.decode('k', `{"n":${1}}`)).toBe(a);
    const b = memo.decode<{ n: number }>('k', '{"n":2}');
    expect(b).toEqual({ n: 2 });
    expect(memo.decode('k', null)).toBeNull();
    // Forgotten once absent: the same text again is a new object.
    expect(memo.decode('k', '{"n":2}')).not.toBe(b);
  });

  it('is bounded: past maxEntries the oldest key goes first', () => {
    const memo = new DecodeMemo(2);
    const one = memo.decode('one', '[1]');
    memo.decode('two', '[2]');
    const three = memo.decode('three', '[3]');
    // 'one' was pushed out by 'three': decoded afresh.
    expect(memo.decode('one', '[1]')).not.toBe(one);
    // 'three' is still remembered.
    expect(memo.decode('three', '[3]')).toBe(three);
  });
});
