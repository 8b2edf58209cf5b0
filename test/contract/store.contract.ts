import { RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../../src/domain/errors';
import type { KvStore as Store, Subscription } from '../../src/store/kv';
import { uniquePrefix } from '../support/redis';
import { RecordingListener } from '../support/recording-listener';

export interface StoreContractOptions {
  /**
   * Moves the store's clock forward. Without it, TTL tests use short real
   * TTLs and poll until the key is gone.
   */
  readonly advanceTime?: (ms: number) => void;
}

/**
 * The promises of `KvStore` (src/store/kv.ts), for every implementation.
 * `makeStore(namespace)` must return stores over one shared backend (one
 * Redis, one MemoryBackend): two stores with the same namespace see the same
 * data, like two gateway instances.
 */
export function storeContract(
  name: string,
  makeStore: (namespace: string) => Promise<Store> | Store,
  opts: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let opened: Store[] = [];
    let prefix: string;

    const open = async (namespace: string): Promise<Store> => {
      const store = await makeStore(namespace);
      opened.push(store);
      return store;
    };
    /** A fresh store in `<unique>:live:` (or the given environment). */
    const fresh = async (environment = 'live'): Promise<Store> => open(`${prefix}:${environment}:`);

    /** Waits for a key written with `ttlMs` to expire (by clock or by polling). */
    const awaitExpiry = async (store: Store, key: string, ttlMs: number): Promise<void> => {
      opts.advanceTime?.(ttlMs + 1);
      for (let attempt = 0; attempt < 500; attempt++) {
        if ((await store.get(key)) === null) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`${key} did not expire`);
    };

    beforeEach(() => {
      prefix = uniquePrefix();
    });

    afterEach(async () => {
      const stores = opened;
      opened = [];
      await Promise.all(stores.map((store) => store.close()));
    });

    describe('reads and writes', () => {
      it('reads an absent key as null, and a written key as its value', async () => {
        const store = await fresh();
        await expect(store.get('{t}:a')).resolves.toBeNull();
        await store.write([{ op: 'set', key: '{t}:a', value: 'one' }]);
        await expect(store.get('{t}:a')).resolves.toBe('one');
        await store.write([{ op: 'set', key: '{t}:a', value: 'two' }]);
        await expect(store.get('{t}:a')).resolves.toBe('two');
      });

      it('keeps values exactly, unicode and empty strings included', async () => {
        const store = await fresh();
        const values = ['', 'héllo ✓ 𝄞', '{"a":[1,2]}', ' spaced \n line '];
        await store.write(values.map((value, i) => ({ op: 'set' as const, key: `{t}:v${i}`, value })));
        await expect(store.getMany(values.map((_, i) => `{t}:v${i}`))).resolves.toEqual(values);
      });

      it('getMany returns values in key order, null for absent keys', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:a', value: 'A' },
          { op: 'set', key: '{t}:c', value: 'C' },
        ]);
        await expect(store.getMany(['{t}:c', '{t}:b', '{t}:a'])).resolves.toEqual(['C', null, 'A']);
        await expect(store.getMany([])).resolves.toEqual([]);
      });

      it('setIfAbsent writes only when the key is absent', async () => {
        const store = await fresh();
        await expect(store.setIfAbsent('{t}:once', 'first')).resolves.toBe(true);
        await expect(store.setIfAbsent('{t}:once', 'second')).resolves.toBe(false);
        await expect(store.get('{t}:once')).resolves.toBe('first');
      });

      it('setIfAbsent with a TTL expires, after which the key can be taken again', async () => {
        const store = await fresh();
        await expect(store.setIfAbsent('{t}:lock', 'a', 50)).resolves.toBe(true);
        await expect(store.setIfAbsent('{t}:lock', 'b', 50)).resolves.toBe(false);
        await awaitExpiry(store, '{t}:lock', 50);
        await expect(store.setIfAbsent('{t}:lock', 'c')).resolves.toBe(true);
        await expect(store.get('{t}:lock')).resolves.toBe('c');
      });

      it('rejects a TTL that is not a positive number, writing nothing', async () => {
        const store = await fresh();
        await expect(store.setIfAbsent('{t}:k', 'v', 0)).rejects.toThrow(RangeError);
        await expect(
          store.write([
            { op: 'set', key: '{t}:x', value: 'v' },
            { op: 'set', key: '{t}:k', value: 'v', ttlMs: -5 },
          ]),
        ).rejects.toThrow(RangeError);
        await expect(store.getMany(['{t}:k', '{t}:x'])).resolves.toEqual([null, null]);
      });

      it('del removes a key; deleting an absent key is fine', async () => {
        const store = await fresh();
        await store.write([{ op: 'set', key: '{t}:gone', value: 'x' }]);
        await store.write([{ op: 'del', key: '{t}:gone' }]);
        await expect(store.get('{t}:gone')).resolves.toBeNull();
        await expect(store.write([{ op: 'del', key: '{t}:never' }])).resolves.toBeUndefined();
      });

      it('an empty batch is a no-op', async () => {
        const store = await fresh();
        await expect(store.write([])).resolves.toBeUndefined();
      });
    });

    describe('write batches', () => {
      it('a replicated write on a store asking for no replicas is a plain write (its ops applied, the guard honoured)', async () => {
        const store = await fresh();
        await store.write([{ op: 'set', key: '{r}:a', value: '1' }, { op: 'sadd', key: '{r}:s', member: 'x' }], { replicated: true });
        await expect(store.get('{r}:a')).resolves.toBe('1');
        await expect(store.writeIf({ key: '{r}:a', equals: '1' }, [{ op: 'del', key: '{r}:a' }], { replicated: true })).resolves.toBe(true);
        await expect(store.writeIf({ key: '{r}:a', equals: '1' }, [{ op: 'set', key: '{r}:a', value: '2' }], { replicated: true })).resolves.toBe(false);
        await expect(store.getMany(['{r}:a'])).resolves.toEqual([null]);
        expect(await store.members('{r}:s')).toEqual(['x']);
      });

      it('applies every op of a batch', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:old', value: 'old' },
          { op: 'sadd', key: '{t}:set', member: 'm0' },
        ]);
        await store.write([
          { op: 'set', key: '{t}:a', value: 'A' },
          { op: 'set', key: '{t}:b', value: 'B', ttlMs: 60_000 },
          { op: 'del', key: '{t}:old' },
          { op: 'sadd', key: '{t}:set', member: 'm1' },
          { op: 'sadd', key: '{t}:set', member: 'm2' },
          { op: 'srem', key: '{t}:set', member: 'm0' },
        ]);
        await expect(store.getMany(['{t}:a', '{t}:b', '{t}:old'])).resolves.toEqual(['A', 'B', null]);
        expect((await store.members('{t}:set')).sort()).toEqual(['m1', 'm2']);
      });

      it('applies ops in order within a batch', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:k', value: '1' },
          { op: 'del', key: '{t}:k' },
          { op: 'set', key: '{t}:k', value: '2' },
          { op: 'sadd', key: '{t}:s', member: 'x' },
          { op: 'srem', key: '{t}:s', member: 'x' },
          { op: 'sadd', key: '{t}:s', member: 'y' },
        ]);
        await expect(store.get('{t}:k')).resolves.toBe('2');
        await expect(store.members('{t}:s')).resolves.toEqual(['y']);
      });

      it('a set with ttlMs expires; other keys of the batch stay', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:short', value: 's', ttlMs: 50 },
          { op: 'set', key: '{t}:long', value: 'l' },
        ]);
        await expect(store.get('{t}:short')).resolves.toBe('s');
        await awaitExpiry(store, '{t}:short', 50);
        await expect(store.get('{t}:long')).resolves.toBe('l');
      });

      it('a set without ttlMs clears an earlier expiry', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:k', value: 'temp', ttlMs: 50 },
          { op: 'set', key: '{t}:witness', value: 'w', ttlMs: 50 },
        ]);
        await store.write([{ op: 'set', key: '{t}:k', value: 'kept' }]);
        // Once the witness (same TTL, written no later) is gone, k's old expiry has passed.
        await awaitExpiry(store, '{t}:witness', 50);
        await expect(store.get('{t}:k')).resolves.toBe('kept');
      });

      /**
       * Atomic for readers: while one instance writes batches that set every
       * key of a group to the batch's number, readers on another instance
       * read the whole group again and again; no read may mix two batches.
       * Built so a non-atomic write shows: the batch is big (24 keys of 2 KiB),
       * so a Redis pipeline without MULTI spans several of the server's 16 KiB
       * reads, between which it serves the readers' MGETs; the readers yield
       * on microtasks and to the event loop every 256 reads, so an embedded
       * store that pauses between ops, on either, lets them in.
       */
      it('readers on another instance never see half a batch', async () => {
        const writer = await fresh();
        const reader = await fresh();
        const KEYS = Array.from({ length: 24 }, (_, i) => `{t}:k${i}`);
        const PAD = 'x'.repeat(2048);
        const BATCHES = 150;
        const READERS = 6;
        const batchOf = (value: string | null): string => (value === null ? 'none' : value.slice(0, value.indexOf('|')));
        let writing = true;
        const mixed: string[][] = [];
        const seen = new Set<string>();
        const readUntilDone = async (): Promise<void> => {
          for (let i = 0; writing && mixed.length === 0; i++) {
            const batches = (await reader.getMany(KEYS)).map(batchOf);
            if (writing) seen.add(batches[0] as string);
            if (new Set(batches).size > 1) mixed.push(batches);
            if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
          }
        };
        const readers = Array.from({ length: READERS }, readUntilDone);
        try {
          // Stops at the first mixed read: the property has failed, and a store that yields to the event loop between ops would be slow to finish.
          for (let batch = 0; batch < BATCHES && mixed.length === 0; batch++) {
            await writer.write(KEYS.map((key) => ({ op: 'set' as const, key, value: `${batch}|${PAD}` })));
          }
        } finally {
          writing = false;
          await Promise.all(readers);
        }
        expect(mixed.slice(0, 3)).toEqual([]);
        // Not vacuous: the readers saw many batches come and go, so they read between and during writes.
        expect(seen.size).toBeGreaterThanOrEqual(BATCHES / 10);
        expect((await reader.getMany(KEYS)).map(batchOf)).toEqual(KEYS.map(() => String(BATCHES - 1)));
      });
    });

    describe('sets', () => {
      it('sadd, srem and members', async () => {
        const store = await fresh();
        await expect(store.members('{t}:s')).resolves.toEqual([]);
        await store.write([
          { op: 'sadd', key: '{t}:s', member: 'a' },
          { op: 'sadd', key: '{t}:s', member: 'b' },
          { op: 'sadd', key: '{t}:s', member: 'a' },
        ]);
        expect((await store.members('{t}:s')).sort()).toEqual(['a', 'b']);
        await store.write([
          { op: 'srem', key: '{t}:s', member: 'a' },
          { op: 'srem', key: '{t}:s', member: 'not-there' },
          { op: 'srem', key: '{t}:absent', member: 'x' },
        ]);
        await expect(store.members('{t}:s')).resolves.toEqual(['b']);
        await store.write([{ op: 'srem', key: '{t}:s', member: 'b' }]);
        await expect(store.members('{t}:s')).resolves.toEqual([]);
      });

      it('del removes a whole set', async () => {
        const store = await fresh();
        await store.write([
          { op: 'sadd', key: '{t}:s', member: 'a' },
          { op: 'sadd', key: '{t}:s', member: 'b' },
        ]);
        await store.write([{ op: 'del', key: '{t}:s' }]);
        await expect(store.members('{t}:s')).resolves.toEqual([]);
      });
    });

    describe('conditional writes (writeIf)', () => {
      it('writes only while the guard key holds the expected value', async () => {
        const store = await fresh();
        await store.write([{ op: 'set', key: '{t}:rec', value: 'v1' }]);
        await expect(
          store.writeIf({ key: '{t}:rec', equals: 'v0' }, [{ op: 'set', key: '{t}:rec', value: 'stale' }]),
        ).resolves.toBe(false);
        await expect(store.get('{t}:rec')).resolves.toBe('v1');
        await expect(
          store.writeIf({ key: '{t}:rec', equals: 'v1' }, [
            { op: 'set', key: '{t}:rec', value: 'v2' },
            { op: 'sadd', key: '{t}:s', member: 'a' },
            { op: 'zadd', key: '{t}:z', member: 'm' },
          ]),
        ).resolves.toBe(true);
        await expect(store.get('{t}:rec')).resolves.toBe('v2');
        await expect(store.members('{t}:s')).resolves.toEqual(['a']);
        await expect(store.rangeByLex('{t}:z', { prefix: '', limit: 10 })).resolves.toEqual(['m']);
      });

      it('a null guard means "absent": creates once, then refuses', async () => {
        const store = await fresh();
        const create = () => store.writeIf({ key: '{t}:new', equals: null }, [{ op: 'set', key: '{t}:new', value: 'x' }]);
        await expect(create()).resolves.toBe(true);
        await expect(create()).resolves.toBe(false);
        await expect(
          store.writeIf({ key: '{t}:new', equals: 'x' }, [{ op: 'del', key: '{t}:new' }, { op: 'srem', key: '{t}:s', member: 'a' }]),
        ).resolves.toBe(true);
        await expect(store.get('{t}:new')).resolves.toBeNull();
      });

      it('of many racing compare-and-set increments, none is lost', async () => {
        const [one, two] = [await fresh(), await fresh()];
        const increment = async (store: Store): Promise<void> => {
          for (;;) {
            const current = await store.get('{t}:n');
            const next = String(Number(current ?? '0') + 1);
            if (await store.writeIf({ key: '{t}:n', equals: current }, [{ op: 'set', key: '{t}:n', value: next }])) return;
          }
        };
        await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 ? one : two)));
        await expect(one.get('{t}:n')).resolves.toBe('20');
      });

      it('with several guards, writes only while every one holds', async () => {
        const store = await fresh();
        await store.write([{ op: 'set', key: '{t}:a', value: '1' }]);
        const both = (a: string | null, b: string | null) =>
          store.writeIf(
            [
              { key: '{t}:a', equals: a },
              { key: '{t}:b', equals: b },
            ],
            [{ op: 'set', key: '{t}:out', value: `${a}-${b}` }],
          );
        await expect(both('1', 'x')).resolves.toBe(false);
        await expect(both('2', null)).resolves.toBe(false);
        await expect(store.get('{t}:out')).resolves.toBeNull();
        await expect(both('1', null)).resolves.toBe(true);
        await expect(store.get('{t}:out')).resolves.toBe('1-null');
      });

      it('a fewerThan guard bounds the members of a lexicographic set with a prefix; countByLex counts them', async () => {
        const store = await fresh();
        const add = (member: string) =>
          store.writeIf({ key: '{t}:ix', prefix: 'u:', fewerThan: 2 }, [{ op: 'zadd', key: '{t}:ix', member }]);
        await expect(store.countByLex('{t}:ix', 'u:')).resolves.toBe(0);
        await expect(add('u:a')).resolves.toBe(true);
        // Members of another prefix do not count.
        await store.write([{ op: 'zadd', key: '{t}:ix', member: 'e:a@x.test' }, { op: 'zadd', key: '{t}:ix', member: 'u' }]);
        await expect(add('u:b')).resolves.toBe(true);
        await expect(add('u:c')).resolves.toBe(false);
        await expect(store.countByLex('{t}:ix', 'u:')).resolves.toBe(2);
        await expect(store.countByLex('{t}:ix', '')).resolves.toBe(4);
        await expect(store.countByLex('{t}:ix', 'e:')).resolves.toBe(1);
        await store.write([{ op: 'zrem', key: '{t}:ix', member: 'u:a' }]);
        await expect(add('u:c')).resolves.toBe(true);
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:', limit: 10 })).resolves.toEqual(['u:b', 'u:c']);
        await expect(store.writeIf({ key: '{t}:ix', prefix: '', fewerThan: 0 }, [])).resolves.toBe(false);
        await expect(store.writeIf({ key: '{t}:ix', prefix: 'u:', fewerThan: -1 }, [])).rejects.toThrow(RangeError);
      });

      it('of many racing creates under a fewerThan guard, exactly as many as it allows land', async () => {
        const [one, two] = [await fresh(), await fresh()];
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 ? one : two).writeIf(
              [
                { key: `{t}:rec:${i}`, equals: null },
                { key: '{t}:ix', prefix: 'u:', fewerThan: 7 },
              ],
              [
                { op: 'set', key: `{t}:rec:${i}`, value: 'x' },
                { op: 'zadd', key: '{t}:ix', member: `u:${i}` },
              ],
            ),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(7);
        await expect(one.countByLex('{t}:ix', 'u:')).resolves.toBe(7);
      });

      it('a set with ttlMs in a conditional write expires', async () => {
        const store = await fresh();
        await store.writeIf({ key: '{t}:k', equals: null }, [{ op: 'set', key: '{t}:k', value: 'v', ttlMs: 50 }]);
        await awaitExpiry(store, '{t}:k', 50);
      });
    });

    describe('lexicographic sets', () => {
      it('pages members that start with a prefix, in byte order, after a cursor', async () => {
        const store = await fresh();
        const members = ['u:bob', 'u:ada', 'u:adam', 'u:Ada', 'u:ad\u00e9le', 'u:ad\u{1F600}', 'e:ada@x.test', 'u:b'];
        await store.write(members.map((member) => ({ op: 'zadd' as const, key: '{t}:ix', member })));
        // Byte order: 'A' < 'a'; U+00E9 (C3 A9) < U+1F600 (F0 9F 98 80); a prefix match ends the range.
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:ad', limit: 10 })).resolves.toEqual([
          'u:ada',
          'u:adam',
          'u:ad\u00e9le',
          'u:ad\u{1F600}',
        ]);
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:ad', limit: 2 })).resolves.toEqual(['u:ada', 'u:adam']);
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:ad', after: 'u:adam', limit: 10 })).resolves.toEqual([
          'u:ad\u00e9le',
          'u:ad\u{1F600}',
        ]);
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:', limit: 3 })).resolves.toEqual(['u:Ada', 'u:ada', 'u:adam']);
        await expect(store.rangeByLex('{t}:ix', { prefix: '', limit: 1 })).resolves.toEqual(['e:ada@x.test']);
        await expect(store.rangeByLex('{t}:absent', { prefix: '', limit: 5 })).resolves.toEqual([]);
        await store.write([{ op: 'zrem', key: '{t}:ix', member: 'u:ada' }, { op: 'zrem', key: '{t}:ix', member: 'u:none' }]);
        await expect(store.rangeByLex('{t}:ix', { prefix: 'u:ada', limit: 10 })).resolves.toEqual(['u:adam']);
      });
    });

    describe('counters', () => {
      it('hincrby adds to fields of a hash that pexpire makes expire', async () => {
        const store = await fresh();
        await expect(store.hashGetAll('{t}:h')).resolves.toEqual({});
        await store.write([
          { op: 'hincrby', key: '{t}:h', field: 'a', by: 2 },
          { op: 'hincrby', key: '{t}:h', field: 'b', by: 1 },
          { op: 'pexpire', key: '{t}:h', ttlMs: 60_000 },
        ]);
        await store.write([{ op: 'hincrby', key: '{t}:h', field: 'a', by: 3 }]);
        await expect(store.hashGetAll('{t}:h')).resolves.toEqual({ a: '5', b: '1' });
        await store.write([{ op: 'pexpire', key: '{t}:h', ttlMs: 50 }, { op: 'pexpire', key: '{t}:absent', ttlMs: 50 }]);
        opts.advanceTime?.(51);
        for (let attempt = 0; attempt < 500; attempt++) {
          if (Object.keys(await store.hashGetAll('{t}:h')).length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await expect(store.hashGetAll('{t}:h')).resolves.toEqual({});
      });
    });

    describe('pexpire extendOnly', () => {
      it('gives a key without expiry one, extends a sooner one, never shortens a later one', async () => {
        const store = await fresh();
        const gone = async (key: string) => (await store.members(key)).length === 0;
        await store.write([
          { op: 'sadd', key: '{t}:persistent', member: 'm' },
          { op: 'sadd', key: '{t}:sooner', member: 'm' },
          { op: 'sadd', key: '{t}:later', member: 'm' },
          { op: 'pexpire', key: '{t}:later', ttlMs: 60_000 },
          // The control: expires in 50 ms, whatever else happens.
          { op: 'sadd', key: '{t}:control', member: 'm' },
          { op: 'pexpire', key: '{t}:control', ttlMs: 50 },
        ]);
        await store.write([
          { op: 'pexpire', key: '{t}:persistent', ttlMs: 50, extendOnly: true },
          // The sooner expiry in the same (atomic) batch: set in the first one, a loaded
          // machine could take its 50 ms to reach this one and find the key gone.
          { op: 'pexpire', key: '{t}:sooner', ttlMs: 50 },
          { op: 'pexpire', key: '{t}:sooner', ttlMs: 60_000, extendOnly: true },
          { op: 'pexpire', key: '{t}:later', ttlMs: 50, extendOnly: true },
          { op: 'pexpire', key: '{t}:absent', ttlMs: 50, extendOnly: true },
        ]);
        opts.advanceTime?.(51);
        for (let attempt = 0; attempt < 500 && !((await gone('{t}:control')) && (await gone('{t}:persistent'))); attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // Once the control has expired: the persistent key got the 50 ms, the other two live on.
        expect(await gone('{t}:control')).toBe(true);
        expect(await gone('{t}:persistent')).toBe(true);
        await expect(store.members('{t}:sooner')).resolves.toEqual(['m']);
        await expect(store.members('{t}:later')).resolves.toEqual(['m']);
        await expect(store.members('{t}:absent')).resolves.toEqual([]);
      });

      it('the same through writeIf', async () => {
        const store = await fresh();
        await store.write([{ op: 'sadd', key: '{t}:ix', member: 'm' }, { op: 'pexpire', key: '{t}:ix', ttlMs: 60_000 }]);
        await store.write([{ op: 'sadd', key: '{t}:control', member: 'm' }, { op: 'pexpire', key: '{t}:control', ttlMs: 50 }]);
        expect(await store.writeIf({ key: '{t}:guard', equals: null }, [
          { op: 'pexpire', key: '{t}:ix', ttlMs: 50, extendOnly: true },
          { op: 'sadd', key: '{t}:new', member: 'm' },
          { op: 'pexpire', key: '{t}:new', ttlMs: 50, extendOnly: true },
        ])).toBe(true);
        opts.advanceTime?.(51);
        for (let attempt = 0; attempt < 500 && (await store.members('{t}:new')).length > 0; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await expect(store.members('{t}:new')).resolves.toEqual([]);
        await expect(store.members('{t}:ix')).resolves.toEqual(['m']);
      });
    });

    describe('append-only logs', () => {
      const parse = (id: string) => id.split('-').map(Number) as [number, number];
      const before = (a: string, b: string) => {
        const [am, as] = parse(a);
        const [bm, bs] = parse(b);
        return am < bm || (am === bm && as < bs);
      };

      it('appends entries under increasing ids and pages them after a cursor, oldest first', async () => {
        const store = await fresh();
        await expect(store.logRange('{t}:log', null, 10)).resolves.toEqual([]);
        await expect(store.logLastId('{t}:log')).resolves.toBeNull();
        await store.write([
          { op: 'xadd', key: '{t}:log', value: 'one' },
          { op: 'xadd', key: '{t}:log', value: 'two' },
        ]);
        await store.write([{ op: 'xadd', key: '{t}:log', value: 'three' }]);
        const all = await store.logRange('{t}:log', null, 10);
        expect(all.map((e) => e.value)).toEqual(['one', 'two', 'three']);
        for (const e of all) expect(e.id).toMatch(/^\d+-\d+$/);
        expect(before(all[0]!.id, all[1]!.id) && before(all[1]!.id, all[2]!.id)).toBe(true);
        await expect(store.logLastId('{t}:log')).resolves.toBe(all[2]!.id);
        await expect(store.logRange('{t}:log', all[0]!.id, 1)).resolves.toEqual([all[1]]);
        await expect(store.logRange('{t}:log', all[2]!.id, 10)).resolves.toEqual([]);
        // A cursor between entries (or before the first) pages from the next one.
        await expect(store.logRange('{t}:log', '0-0', 1)).resolves.toEqual([all[0]]);
      });

      it('appends in the same atomic write as other ops, and in a conditional write only when it holds', async () => {
        const store = await fresh();
        await store.write([
          { op: 'set', key: '{t}:rec', value: 'v1' },
          { op: 'xadd', key: '{t}:log', value: 'changed to v1' },
        ]);
        expect(await store.writeIf({ key: '{t}:rec', equals: 'v0' }, [{ op: 'xadd', key: '{t}:log', value: 'lost' }])).toBe(false);
        expect(
          await store.writeIf({ key: '{t}:rec', equals: 'v1' }, [
            { op: 'set', key: '{t}:rec', value: 'v2' },
            { op: 'xadd', key: '{t}:log', value: 'changed to v2', minIdMs: 0 },
          ]),
        ).toBe(true);
        expect((await store.logRange('{t}:log', null, 10)).map((e) => e.value)).toEqual(['changed to v1', 'changed to v2']);
        // A failing batch appends nothing.
        await store.write([{ op: 'sadd', key: '{t}:set', member: 'x' }]);
        await expect(
          store.write([
            { op: 'xadd', key: '{t}:log', value: 'never' },
            { op: 'xadd', key: '{t}:set', value: 'wrong type' },
          ]),
        ).rejects.toBeInstanceOf(StoreUnavailableError);
        if (name === 'MemoryStore') {
          // Redis' MULTI runs the commands before the failing one; the embedded store refuses the batch whole.
          expect((await store.logRange('{t}:log', null, 10)).map((e) => e.value)).toEqual(['changed to v1', 'changed to v2']);
        }
      });

      it('keeps every entry at or after minIdMs, and the log expires by pexpire', async () => {
        const store = await fresh();
        await store.write([{ op: 'xadd', key: '{t}:log', value: 'a' }]);
        const [first] = await store.logRange('{t}:log', null, 1);
        const [ms] = parse(first!.id);
        await store.write([{ op: 'xadd', key: '{t}:log', value: 'b', minIdMs: ms }]);
        expect((await store.logRange('{t}:log', null, 10)).map((e) => e.value)).toEqual(['a', 'b']);
        await store.write([{ op: 'pexpire', key: '{t}:log', ttlMs: 50 }]);
        opts.advanceTime?.(51);
        for (let attempt = 0; attempt < 500 && (await store.logLastId('{t}:log')) !== null; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await expect(store.logRange('{t}:log', null, 10)).resolves.toEqual([]);
      });

      it('pages a log backwards, newest first, before a cursor (inclusive when asked)', async () => {
        const store = await fresh();
        await store.write(['a', 'b', 'c', 'd'].map((value) => ({ op: 'xadd' as const, key: '{t}:log', value })));
        const all = await store.logRange('{t}:log', null, 10);
        expect((await store.logRangeBefore('{t}:log', null, 2)).map((e) => e.value)).toEqual(['d', 'c']);
        expect((await store.logRangeBefore('{t}:log', all[2]!.id, 10)).map((e) => e.value)).toEqual(['b', 'a']);
        expect((await store.logRangeBefore('{t}:log', all[2]!.id, 2, true)).map((e) => e.value)).toEqual(['c', 'b']);
        await expect(store.logRangeBefore('{t}:none', null, 2)).resolves.toEqual([]);
      });

      it('refuses a malformed cursor as a store error, never as an empty page', async () => {
        const store = await fresh();
        await expect(store.logRange('{t}:log', 'not-an-id', 1)).rejects.toBeInstanceOf(StoreUnavailableError);
      });
    });

    describe('scored sets', () => {
      it('ranges members by score up to a bound, lowest first; zscore moves a member, zrem removes it', async () => {
        const store = await fresh();
        await store.write([
          { op: 'zscore', key: '{t}:due', member: 'late', score: 3000 },
          { op: 'zscore', key: '{t}:due', member: 'early', score: 1000 },
          { op: 'zscore', key: '{t}:due', member: 'middle', score: 2000 },
        ]);
        await expect(store.rangeByScore('{t}:due', 2000, 10)).resolves.toEqual(['early', 'middle']);
        await expect(store.rangeByScore('{t}:due', 5000, 1)).resolves.toEqual(['early']);
        expect(await store.writeIf({ key: '{t}:g', equals: null }, [{ op: 'zscore', key: '{t}:due', member: 'early', score: 4000 }])).toBe(true);
        await store.write([{ op: 'zrem', key: '{t}:due', member: 'middle' }]);
        await expect(store.rangeByScore('{t}:due', 5000, 10)).resolves.toEqual(['late', 'early']);
        await expect(store.rangeByScore('{t}:none', 5000, 10)).resolves.toEqual([]);
      });
    });

    describe('instances over one backend', () => {
      it('two stores with the same namespace share data', async () => {
        const one = await fresh();
        const two = await fresh();
        await one.write([
          { op: 'set', key: '{t}:k', value: 'v' },
          { op: 'sadd', key: '{t}:s', member: 'm' },
        ]);
        await expect(two.get('{t}:k')).resolves.toBe('v');
        await expect(two.members('{t}:s')).resolves.toEqual(['m']);
        await expect(two.setIfAbsent('{t}:k', 'other')).resolves.toBe(false);
      });

      it('stores in different namespaces never see each other’s keys', async () => {
        const live = await fresh('live');
        const sandbox = await fresh('sandbox');
        expect(live.namespace).toBe(`${prefix}:live:`);
        expect(sandbox.namespace).toBe(`${prefix}:sandbox:`);
        await live.write([
          { op: 'set', key: '{t}:k', value: 'live' },
          { op: 'sadd', key: '{t}:s', member: 'live' },
        ]);
        await expect(sandbox.get('{t}:k')).resolves.toBeNull();
        await expect(sandbox.getMany(['{t}:k'])).resolves.toEqual([null]);
        await expect(sandbox.members('{t}:s')).resolves.toEqual([]);
        await expect(sandbox.setIfAbsent('{t}:k', 'sandbox')).resolves.toBe(true);
        await sandbox.write([{ op: 'del', key: '{t}:s' }]);
        await expect(live.get('{t}:k')).resolves.toBe('live');
        await expect(sandbox.get('{t}:k')).resolves.toBe('sandbox');
        await expect(live.members('{t}:s')).resolves.toEqual(['live']);
      });

      it('stores in different namespaces never see each other’s messages', async () => {
        const live = await fresh('live');
        const sandbox = await fresh('sandbox');
        const liveListener = new RecordingListener();
        const sandboxListener = new RecordingListener();
        await live.subscribe('invalidate', liveListener);
        await sandbox.subscribe('invalidate', sandboxListener);

        await live.publish('invalidate', 'from-live');
        // Published after from-live on the same backend, so it arrives after
        // from-live would have, had it leaked.
        await sandbox.publish('invalidate', 'from-sandbox');
        await sandboxListener.untilMessage('from-sandbox');
        await liveListener.untilMessage('from-live');
        expect(sandboxListener.messages).toEqual(['from-sandbox']);

        await live.publish('invalidate', 'fence');
        await liveListener.untilMessage('fence');
        expect(liveListener.messages).toEqual(['from-live', 'fence']);
      });
    });

    describe('pub/sub', () => {
      it('delivers a message published by one instance to a subscriber on another', async () => {
        const publisher = await fresh();
        const subscriber = await fresh();
        const listener = new RecordingListener();
        const subscription = await subscriber.subscribe('invalidate', listener);
        expect(listener.resets).toBe(1);
        expect(subscription.active).toBe(true);
        expect(listener.messages).toEqual([]);

        await publisher.publish('invalidate', 'site:123');
        await listener.untilMessage('site:123');
        await publisher.publish('invalidate', 'site:456');
        await listener.untilMessage('site:456');
        expect(listener.messages).toEqual(['site:123', 'site:456']);
        expect(listener.resets).toBe(1);
        expect(subscription.active).toBe(true);
      });

      it('an instance hears its own messages, and every subscriber of a channel hears them', async () => {
        const store = await fresh();
        const first = new RecordingListener();
        const second = new RecordingListener();
        await store.subscribe('invalidate', first);
        await store.subscribe('invalidate', second);
        await store.publish('invalidate', 'hello');
        await first.untilMessage('hello');
        await second.untilMessage('hello');
        expect(first.messages).toEqual(['hello']);
        expect(second.messages).toEqual(['hello']);
      });

      it('delivers only the subscribed channel', async () => {
        const store = await fresh();
        const other = await fresh();
        const a = new RecordingListener();
        const b = new RecordingListener();
        await store.subscribe('chan-a', a);
        await store.subscribe('chan-b', b);
        await other.publish('chan-a', 'for-a');
        await other.publish('chan-b', 'for-b');
        await b.untilMessage('for-b');
        await a.untilMessage('for-a');
        expect(a.messages).toEqual(['for-a']);
        expect(b.messages).toEqual(['for-b']);
      });

      it('a closed subscription is inactive and hears nothing more', async () => {
        const store = await fresh();
        const other = await fresh();
        const closing = new RecordingListener();
        const staying = new RecordingListener();
        const fence = new RecordingListener();
        const subscription: Subscription = await store.subscribe('invalidate', closing);
        await store.subscribe('invalidate', staying);
        await store.subscribe('fence', fence);

        await subscription.close();
        expect(subscription.active).toBe(false);
        await other.publish('invalidate', 'after-close');
        await other.publish('fence', 'done');
        await fence.untilMessage('done');
        await staying.untilMessage('after-close');
        expect(closing.messages).toEqual([]);
      });
    });

    describe('rate limiter', () => {
      it('consumes points, then rejects with RateLimiterRes', async () => {
        const store = await fresh();
        const limiter = store.rateLimiter({ keyPrefix: 'rl:test', points: 3, durationSeconds: 60 });
        const remaining: number[] = [];
        for (let i = 0; i < 3; i++) remaining.push((await limiter.consume('1.2.3.4')).remainingPoints);
        expect(remaining).toEqual([2, 1, 0]);

        const rejection: unknown = await limiter.consume('1.2.3.4').then(
          () => 'resolved',
          (err: unknown) => err,
        );
        expect(rejection).toBeInstanceOf(RateLimiterRes);
        expect((rejection as RateLimiterRes).remainingPoints).toBe(0);
        expect((rejection as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);

        await expect(limiter.consume('5.6.7.8')).resolves.toMatchObject({ remainingPoints: 2 });
      });

      it('shares counts between instances and not between namespaces or prefixes', async () => {
        const one = await fresh('live');
        const two = await fresh('live');
        const sandbox = await fresh('sandbox');
        const options = { keyPrefix: 'rl:shared', points: 2, durationSeconds: 60 };
        await one.rateLimiter(options).consume('k');
        await expect(two.rateLimiter(options).consume('k')).resolves.toMatchObject({ remainingPoints: 0 });
        await expect(one.rateLimiter(options).consume('k')).rejects.toBeInstanceOf(RateLimiterRes);

        await expect(sandbox.rateLimiter(options).consume('k')).resolves.toMatchObject({ remainingPoints: 1 });
        await expect(
          one.rateLimiter({ ...options, keyPrefix: 'rl:other' }).consume('k'),
        ).resolves.toMatchObject({ remainingPoints: 1 });
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while the store is open', async () => {
        const store = await fresh();
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('after close, every call rejects with StoreUnavailableError', async () => {
        const store = await fresh();
        const listener = new RecordingListener();
        const subscription = await store.subscribe('invalidate', listener);
        const limiter = store.rateLimiter({ keyPrefix: 'rl:closed', points: 5, durationSeconds: 60 });
        await store.close();
        expect(subscription.active).toBe(false);

        const calls: [string, () => Promise<unknown>][] = [
          ['get', () => store.get('{t}:k')],
          ['getMany', () => store.getMany(['{t}:k'])],
          ['setIfAbsent', () => store.setIfAbsent('{t}:k', 'v')],
          ['write', () => store.write([{ op: 'set', key: '{t}:k', value: 'v' }])],
          ['writeIf', () => store.writeIf({ key: '{t}:k', equals: null }, [{ op: 'set', key: '{t}:k', value: 'v' }])],
          ['rangeByLex', () => store.rangeByLex('{t}:z', { prefix: '', limit: 1 })],
          ['countByLex', () => store.countByLex('{t}:z', '')],
          ['hashGetAll', () => store.hashGetAll('{t}:h')],
          ['members', () => store.members('{t}:s')],
          ['logRange', () => store.logRange('{t}:l', null, 1)],
          ['logLastId', () => store.logLastId('{t}:l')],
          ['logRangeBefore', () => store.logRangeBefore('{t}:l', null, 1)],
          ['rangeByScore', () => store.rangeByScore('{t}:z', 1, 1)],
          ['publish', () => store.publish('invalidate', 'x')],
          ['subscribe', () => store.subscribe('invalidate', new RecordingListener())],
          ['ping', () => store.ping()],
          ['rateLimiter.consume', () => limiter.consume('k')],
          ['new rateLimiter.consume', () => store.rateLimiter({ keyPrefix: 'rl:x', points: 1, durationSeconds: 1 }).consume('k')],
        ];
        for (const [label, call] of calls) {
          const err: unknown = await call().then(
            () => new Error(`${label} resolved after close`),
            (e: unknown) => e,
          );
          expect([label, err]).toEqual([label, expect.any(StoreUnavailableError)]);
          expect((err as StoreUnavailableError).code).toBe('store_unavailable');
          expect((err as StoreUnavailableError).status).toBe(503);
        }
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
