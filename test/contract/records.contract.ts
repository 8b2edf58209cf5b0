import { FrozenClock } from '../../src/domain/clock';
import { StoreUnavailableError } from '../../src/domain/errors';
import type {
  ApiKeyRecord,
  SessionRecord,
  SiteRecord,
  StoredKeyring,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
} from '../../src/domain/records';
import type { NewEvent } from '../../src/domain/events';
import type { KvStore } from '../../src/store/kv';
import { createRecordStores, type RecordStores } from '../../src/store/records';
import { keys } from '../../src/store/records/keys';
import { pollUntil } from '../support/poll';
import { uniquePrefix } from '../support/redis';

const none = (): [] => [];

export interface RecordsContractOptions {
  /** Moves the key-value store's clock (the embedded store); without it, expiry is awaited in real time. */
  readonly advanceTime?: (ms: number) => void;
}

/**
 * The promises of the domain's ports (src/domain/ports.ts), as
 * src/store/records keeps them on a key-value engine. `makeKv(namespace)`
 * must return stores over one shared backend: two record stores over one
 * namespace are two instances of one deployment.
 */
export function recordsContract(name: string, makeKv: (namespace: string) => Promise<KvStore> | KvStore, opts: RecordsContractOptions = {}): void {
  describe(`Records contract: ${name}`, () => {
    const clock = new FrozenClock(Date.now());
    let opened: { kv: KvStore; records: RecordStores }[] = [];
    let namespace: string;

    /** An instance: record stores over a key-value store of `namespace`, subscribed. */
    const instance = async (): Promise<RecordStores> => {
      const kv = await makeKv(namespace);
      const records = createRecordStores(kv, { clock });
      await records.start();
      opened.push({ kv, records });
      return records;
    };

    /** Until the other instance has been told (delivery is asynchronous on every engine). */
    const eventually = (what: string, check: () => Promise<boolean>): Promise<boolean> =>
      pollUntil(check, (ok) => ok, { what, intervalMs: 5 });

    beforeEach(() => {
      namespace = `${uniquePrefix()}:live:`;
    });
    afterEach(async () => {
      const all = opened;
      opened = [];
      for (const { kv, records } of all) {
        await records.stop();
        await kv.close();
      }
    });

    const site = (siteId: string, overrides: Partial<SiteRecord> = {}): SiteRecord => ({
      siteId,
      name: 'Shop',
      allowedOrigins: [],
      publishableKey: `vg_live_pk_${siteId}`,
      maxIdentityTokenAgeSeconds: 3600,
      identitySecretSealed: 'sealed',
      previousIdentitySecretSealed: null,
      previousIdentitySecretValidUntil: null,
      createdAt: clock.now(),
      updatedAt: clock.now(),
      ...overrides,
    });
    const apiKey = (keyId: string, siteId: string): ApiKeyRecord => ({
      keyId,
      siteId,
      name: 'backend',
      last4: 'abcd',
      createdAt: clock.now(),
      expiresAt: null,
      revokedAt: null,
    });
    const user = (userId: string): UserRecord => ({
      userId,
      email: `${userId}@example.com`,
      name: null,
      attributes: { plan: 'pro' },
      productAccess: [{ productId: 'reports', expiresAt: null }],
      createdAt: clock.now(),
      updatedAt: clock.now(),
    });
    const session = (sessionId: string, siteId: string, userId: string, lifetimeMs = 3_600_000): SessionRecord => ({
      sessionId,
      siteId,
      userId,
      createdAt: clock.now(),
      expiresAt: clock.now() + lifetimeMs,
      idleTimeoutSeconds: 86_400,
      lastActiveAt: clock.now(),
      tokenHash: `hash-of-${sessionId}`,
    });
    const keyring = (kid: string): StoredKeyring => ({
      currentKid: kid,
      keys: [{ kid, createdAt: clock.now(), publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, privateSealed: 'sealed', retiresAt: null }],
    });

    describe('SiteStore', () => {
      it('finds a created site by id and by publishable key, and lists it; unknown ones are null', async () => {
        const { sites } = await instance();
        const shop = site('site_a');
        await sites.create(shop, []);
        expect(await sites.find('site_a')).toEqual(shop);
        expect(await sites.findCached('site_a')).toEqual(shop);
        expect(await sites.findByPublishableKey(shop.publishableKey)).toEqual(shop);
        expect(await sites.list()).toEqual([shop]);
        expect(await sites.find('site_none')).toBeNull();
        expect(await sites.findByPublishableKey('vg_live_pk_none')).toBeNull();
      });

      it('an update reaches the other instance’s cached copies', async () => {
        const a = await instance();
        const b = await instance();
        await a.sites.create(site('site_b'), []);
        expect((await b.sites.findCached('site_b'))?.name).toBe('Shop');
        expect((await b.sites.findByPublishableKey('vg_live_pk_site_b'))?.name).toBe('Shop');
        await a.sites.update(site('site_b', { name: 'Renamed' }), []);
        await eventually('the rename to reach b', async () => (await b.sites.findCached('site_b'))?.name === 'Renamed');
        expect((await b.sites.findByPublishableKey('vg_live_pk_site_b'))?.name).toBe('Renamed');
      });
    });

    describe('ApiKeyStore', () => {
      it('finds a key by hash and by id, lists it with when it was last used', async () => {
        const { apiKeys } = await instance();
        const record = apiKey('key_a', 'site_a');
        await apiKeys.create('hash-a', record, []);
        expect(await apiKeys.findByHash('hash-a')).toEqual(record);
        expect(await apiKeys.findByKeyId('site_a', 'key_a')).toEqual({ keyHash: 'hash-a', record });
        expect(await apiKeys.listForSite('site_a')).toEqual([{ record, lastUsedAt: null }]);
        await apiKeys.recordUse('key_a', 12345);
        expect(await apiKeys.listForSite('site_a')).toEqual([{ record, lastUsedAt: 12345 }]);
        expect(await apiKeys.findByHash('hash-none')).toBeNull();
        expect(await apiKeys.findByKeyId('site_a', 'key_none')).toBeNull();
        expect(await apiKeys.listForSite('site_none')).toEqual([]);
      });

      it('a revocation reaches the other instance’s cached copy', async () => {
        const a = await instance();
        const b = await instance();
        await a.apiKeys.create('hash-b', apiKey('key_b', 'site_a'), []);
        expect((await b.apiKeys.findByHash('hash-b'))?.revokedAt).toBeNull();
        await a.apiKeys.update('hash-b', { ...apiKey('key_b', 'site_a'), revokedAt: clock.now() }, []);
        await eventually('the revocation to reach b', async () => (await b.apiKeys.findByHash('hash-b'))?.revokedAt !== null);
      });
    });

    describe('UserStore and SessionStore', () => {
      it('a session is found by id, by token hash and under its user; ending it removes all three', async () => {
        const { users, sessions, sessionAndUser } = await instance();
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        const s = session('sess_1', 'site_a', 'ada');
        await sessions.create(s, []);
        expect(await sessions.find('site_a', 'sess_1')).toEqual(s);
        expect(await sessions.findByTokenHash(s.tokenHash)).toEqual(s);
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([s]);
        expect(await sessionAndUser.readSessionAndUser('site_a', 'sess_1', 'ada')).toEqual({ session: s, user: user('ada') });

        const touched = { ...s, lastActiveAt: s.lastActiveAt + 60_000 };
        await sessions.touch(touched);
        expect(await sessions.find('site_a', 'sess_1')).toEqual(touched);

        await sessions.end(touched, []);
        expect(await sessions.find('site_a', 'sess_1')).toBeNull();
        expect(await sessions.findByTokenHash(s.tokenHash)).toBeNull();
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([]);
        expect(await sessionAndUser.readSessionAndUser('site_a', 'sess_1', 'ada')).toEqual({ session: null, user: user('ada') });
      });

      it('ends every session of a user at once, and no other user’s', async () => {
        const { users, sessions } = await instance();
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        await users.saveChanges('site_a', 'bob', user('bob'), clock.now(), none);
        const mine = [session('sess_a1', 'site_a', 'ada'), session('sess_a2', 'site_a', 'ada')];
        const theirs = session('sess_b1', 'site_a', 'bob');
        for (const s of [...mine, theirs]) await sessions.create(s, []);
        await sessions.endAllForUser('site_a', 'ada', none);
        for (const s of mine) {
          expect(await sessions.find('site_a', s.sessionId)).toBeNull();
          expect(await sessions.findByTokenHash(s.tokenHash)).toBeNull();
        }
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([]);
        expect(await users.find('site_a', 'ada')).toEqual(user('ada'));
        expect(await sessions.findByTokenHash(theirs.tokenHash)).toEqual(theirs);
      });

      it('deletes a user with every session of theirs in one operation', async () => {
        const { users, sessions, sessionAndUser } = await instance();
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        const s = session('sess_c1', 'site_a', 'ada');
        await sessions.create(s, []);
        await users.deleteWithSessions('site_a', 'ada', none);
        expect(await sessionAndUser.readSessionAndUser('site_a', 'sess_c1', 'ada')).toEqual({ session: null, user: null });
        expect(await sessions.findByTokenHash(s.tokenHash)).toBeNull();
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([]);
      });

      it('a touch keeps every key of the session alive as long as the session: record, token pointer and index', async () => {
        const { users, sessions } = await instance();
        const kv = (opened[opened.length - 1] as { kv: KvStore }).kv;
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        const s = { ...session('sess_t1', 'site_a', 'ada'), idleTimeoutSeconds: 1 };
        await sessions.create(s, []);
        // A key made just after the session, expiring when the untouched session would: once it is gone, so would the session be.
        await kv.write([{ op: 'sadd', key: '{site_a}:control', member: 'm' }, { op: 'pexpire', key: '{site_a}:control', ttlMs: 1000 }]);
        const touched = { ...s, lastActiveAt: clock.now() + 60_000 };
        await sessions.touch(touched);
        opts.advanceTime?.(1001);
        await pollUntil(() => kv.members('{site_a}:control'), (m) => m.length === 0, { what: 'the control to expire', timeoutMs: 5000, intervalMs: 20 });
        expect(await sessions.findByTokenHash(s.tokenHash)).toEqual(touched);
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([touched]);
      });

      it('nothing of a session outlives it', async () => {
        const { users, sessions } = await instance();
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        // 1 s, not less: on Redis the clock is real, and on a loaded machine 200 ms could pass
        // between the create and the read below (which proves there was a session to outlive).
        const s = session('sess_d1', 'site_a', 'ada', 1000);
        await sessions.create(s, []);
        expect(await sessions.findByTokenHash(s.tokenHash)).toEqual(s);
        opts.advanceTime?.(1001);
        await pollUntil(
          async () => [await sessions.find('site_a', 'sess_d1'), await sessions.findByTokenHash(s.tokenHash)],
          ([record, byToken]) => record === null && byToken === null,
          { what: 'the session and its token pointer to expire', timeoutMs: 5000, intervalMs: 20 },
        );
        // Its id is pruned from the user's index once its record is gone.
        expect(await sessions.listForUser('site_a', 'ada')).toEqual([]);
      });
    });

    describe('IdentityTokenUseStore', () => {
      it('records a use once: of many calls at the same moment on two instances exactly one wins, per site', async () => {
        const [a, b] = [await instance(), await instance()];
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).identityTokenUses.recordFirstUse('site_a', 'use-1', 60_000)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await a.identityTokenUses.recordFirstUse('site_a', 'use-1', 60_000)).toBe(false);
        // The same hash on another site is another token.
        expect(await b.identityTokenUses.recordFirstUse('site_b', 'use-1', 60_000)).toBe(true);
      });

      it('a forgotten use can be recorded again', async () => {
        const { identityTokenUses } = await instance();
        expect(await identityTokenUses.recordFirstUse('site_a', 'use-2', 60_000)).toBe(true);
        await identityTokenUses.forget('site_a', 'use-2');
        expect(await identityTokenUses.recordFirstUse('site_a', 'use-2', 60_000)).toBe(true);
        expect(await identityTokenUses.recordFirstUse('site_a', 'use-2', 60_000)).toBe(false);
      });

      it('a use is forgotten when its time is up', async () => {
        const { identityTokenUses } = await instance();
        expect(await identityTokenUses.recordFirstUse('site_a', 'use-3', 200)).toBe(true);
        opts.advanceTime?.(201);
        await pollUntil(
          () => identityTokenUses.recordFirstUse('site_a', 'use-3', 60_000),
          (recorded) => recorded,
          { what: 'the use to expire', timeoutMs: 5000, intervalMs: 20 },
        );
      });
    });

    describe('KeyringStore', () => {
      it('keeps the first keyring made, and a replacement reaches the other instance', async () => {
        const a = await instance();
        const b = await instance();
        expect(await a.keyring.read()).toBeNull();
        const first = await a.keyring.createIfAbsent(keyring('live_one'));
        expect(await b.keyring.createIfAbsent(keyring('live_two'))).toEqual(first);
        expect((await b.keyring.read())?.currentKid).toBe('live_one');
        await a.keyring.update(() => keyring('live_three'));
        await eventually('the rotation to reach b', async () => (await b.keyring.read())?.currentKid === 'live_three');
      });
    });

    describe('UserStore: atomic changes and the search index', () => {
      it('grants from two instances and profile changes at once all land (compare-and-set)', async () => {
        const [one, two] = [await instance(), await instance()];
        await one.users.saveChanges('site_a', 'ada', { email: 'ada@example.com' }, clock.now(), none);
        await Promise.all([
          ...Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? one : two).users.grantProduct('site_a', 'ada', { productId: `p${i}`, expiresAt: null }, clock.now(), none),
          ),
          ...Array.from({ length: 5 }, (_, i) => (i % 2 ? two : one).users.saveChanges('site_a', 'ada', { name: `Ada ${i}` }, clock.now(), none)),
        ]);
        const ada = await one.users.find('site_a', 'ada');
        expect(ada?.productAccess.map((p) => p.productId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
        expect(ada?.email).toBe('ada@example.com');
        const revoked = await two.users.revokeProduct('site_a', 'ada', 'p3', clock.now(), none);
        expect(revoked?.productAccess.map((p) => p.productId)).not.toContain('p3');
        expect(await one.users.grantProduct('site_a', 'nobody', { productId: 'x', expiresAt: null }, clock.now(), none)).toBeNull();
        expect(await one.users.revokeProduct('site_a', 'nobody', 'x', clock.now(), none)).toBeNull();
      });

      it('finds users by the start of their id or email, follows email changes and deletions, a page at a time', async () => {
        const { users } = await instance();
        for (const [id, email] of [['ada', 'Ada@Example.com'], ['adam', null], ['bob', 'adele@example.com'], ['carl', 'c@example.com']] as const) {
          await users.saveChanges('site_a', id, { email }, clock.now(), none);
        }
        const ids = async (query: string, limit = 10) => (await users.search('site_a', { query, cursor: null, limit })).users.map((u) => u.userId);
        expect(await ids('ad')).toEqual(['ada', 'adam', 'bob']);
        expect(await ids('ADELE')).toEqual(['bob']);
        expect(await ids('')).toEqual(['ada', 'adam', 'bob', 'carl']);
        const first = await users.search('site_a', { query: '', cursor: null, limit: 3 });
        expect(first.users.map((u) => u.userId)).toEqual(['ada', 'adam', 'bob']);
        const second = await users.search('site_a', { query: '', cursor: first.nextCursor, limit: 3 });
        expect([second.users.map((u) => u.userId), second.nextCursor]).toEqual([['carl'], null]);
        await expect(users.search('site_a', { query: 'x', cursor: first.nextCursor, limit: 3 })).rejects.toMatchObject({ code: 'invalid_request' });
        await users.saveChanges('site_a', 'bob', { email: 'robert@example.com' }, clock.now(), none);
        expect(await ids('adele')).toEqual([]);
        expect(await ids('rob')).toEqual(['bob']);
        await users.deleteWithSessions('site_a', 'ada', none);
        expect(await ids('ad')).toEqual(['adam']);
        expect(await users.search('site_b', { query: '', cursor: null, limit: 5 })).toEqual({ users: [], nextCursor: null });
      });
    });

    describe('UserStore: sign-in by email (findByEmail) and seats (maxUsers)', () => {
      /** Every member of the site's index, straight from the key-value store: what a lookup could ever be led to. */
      const indexOf = async (siteId: string): Promise<string[]> =>
        (opened[0] as { kv: KvStore }).kv.rangeByLex(keys.userIndex(siteId), { prefix: '', limit: 1000 });
      const ids = (found: readonly UserRecord[]) => found.map((u) => u.userId);

      it('finds users by their whole email, case-insensitively; follows renames and deletions; another site is apart', async () => {
        const { users } = await instance();
        await users.saveChanges('site_a', 'ada', { email: 'Ada@Example.com' }, clock.now(), none);
        await users.saveChanges('site_a', 'adam', { email: 'ada@example.com.evil' }, clock.now(), none);
        await users.saveChanges('site_b', 'other', { email: 'ada@example.com' }, clock.now(), none);
        expect(ids(await users.findByEmail('site_a', 'ada@example.com', 2))).toEqual(['ada']);
        expect(ids(await users.findByEmail('site_a', 'ADA@EXAMPLE.COM', 2))).toEqual(['ada']);
        expect(await users.findByEmail('site_a', 'ada@example.co', 2)).toEqual([]);
        expect(await users.findByEmail('site_a', 'nobody@example.com', 2)).toEqual([]);

        await users.saveChanges('site_a', 'ada', { email: 'lovelace@example.com' }, clock.now(), none);
        expect(await users.findByEmail('site_a', 'ada@example.com', 2)).toEqual([]);
        expect(ids(await users.findByEmail('site_a', 'Lovelace@example.com', 2))).toEqual(['ada']);
        await users.saveChanges('site_a', 'ada', { email: null }, clock.now(), none);
        expect(await users.findByEmail('site_a', 'lovelace@example.com', 2)).toEqual([]);

        await users.saveChanges('site_a', 'ada', { email: 'ada@example.com' }, clock.now(), none);
        await users.deleteWithSessions('site_a', 'ada', none);
        expect(await users.findByEmail('site_a', 'ada@example.com', 2)).toEqual([]);
        expect(await indexOf('site_a')).toEqual(['e:ada@example.com.evil\u0000adam', 'u:adam']);
        expect(ids(await users.findByEmail('site_b', 'ada@example.com', 2))).toEqual(['other']);
      });

      it('two users with one email (in any case) are both found, so a lookup can tell one from several', async () => {
        const { users } = await instance();
        await users.saveChanges('site_a', 'zed', { email: 'Shared@example.com' }, clock.now(), none);
        await users.saveChanges('site_a', 'amy', { email: 'shared@EXAMPLE.com' }, clock.now(), none);
        await users.saveChanges('site_a', 'bea', { email: 'shared@example.com' }, clock.now(), none);
        expect(ids(await users.findByEmail('site_a', 'shared@example.com', 2))).toEqual(['amy', 'bea']);
        expect(ids(await users.findByEmail('site_a', 'shared@example.com', 10))).toEqual(['amy', 'bea', 'zed']);
        await users.deleteWithSessions('site_a', 'amy', none);
        await users.saveChanges('site_a', 'bea', { email: 'bea@example.com' }, clock.now(), none);
        expect(ids(await users.findByEmail('site_a', 'shared@example.com', 2))).toEqual(['zed']);
      });

      it('a deletion racing renames leaves no index entry for the deleted user (the delete is a compare-and-set)', async () => {
        const [one, two] = [await instance(), await instance()];
        for (let round = 0; round < 15; round++) {
          const id = `racer${round}`;
          await one.users.saveChanges('site_a', id, { email: `first${round}@example.com` }, clock.now(), none);
          await Promise.all([
            two.users.deleteWithSessions('site_a', id, none),
            ...Array.from({ length: 4 }, (_, i) => one.users.saveChanges('site_a', id, { email: `r${i}-${round}@example.com` }, clock.now(), none)),
          ]);
          // A rename that ran after the delete created the user again; then its index is exactly that user's.
          const left = await one.users.find('site_a', id);
          const entries = (await indexOf('site_a')).filter((m) => m.endsWith(id));
          expect(entries.sort()).toEqual(left ? [`e:${left.email}\u0000${id}`, `u:${id}`].sort() : []);
          await one.users.deleteWithSessions('site_a', id, none);
        }
        expect(await indexOf('site_a')).toEqual([]);
      });

      it('existingWithEmail changes only the user that still has that email, and never creates one', async () => {
        const { users } = await instance();
        await users.saveChanges('site_a', 'ada', { email: 'ada@example.com' }, clock.now(), none);
        const signIn = (userId: string) =>
          users.saveChanges('site_a', userId, { name: 'Ada L.' }, clock.now(), none, { existingWithEmail: 'ADA@example.com' });
        await expect(signIn('ada')).resolves.toMatchObject({ saved: true, created: false, user: { name: 'Ada L.' } });
        await expect(signIn('nobody')).resolves.toEqual({ saved: false, reason: 'no_such_user' });
        expect(await users.find('site_a', 'nobody')).toBeNull();
        await users.saveChanges('site_a', 'ada', { email: 'renamed@example.com' }, clock.now(), none);
        await expect(signIn('ada')).resolves.toEqual({ saved: false, reason: 'no_such_user' });
        expect((await users.find('site_a', 'ada'))?.name).toBe('Ada L.');
      });

      it('maxUsers refuses a create past it, never a change of an existing user; a deletion frees a seat', async () => {
        const { users } = await instance();
        const save = (userId: string, maxUsers: number | null) =>
          users.saveChanges('site_a', userId, { name: userId }, clock.now(), none, { maxUsers });
        await expect(save('a', 2)).resolves.toMatchObject({ saved: true, created: true });
        await expect(save('b', 2)).resolves.toMatchObject({ saved: true, created: true });
        await expect(save('c', 2)).resolves.toEqual({ saved: false, reason: 'seat_limit_reached' });
        expect(await users.find('site_a', 'c')).toBeNull();
        await expect(save('a', 2)).resolves.toMatchObject({ saved: true, created: false });
        await expect(save('a', 0)).resolves.toMatchObject({ saved: true, created: false });
        await expect(save('c', null)).resolves.toMatchObject({ saved: true, created: true });
        await expect(save('d', 3)).resolves.toEqual({ saved: false, reason: 'seat_limit_reached' });
        await users.deleteWithSessions('site_a', 'b', none);
        await expect(save('d', 3)).resolves.toMatchObject({ saved: true, created: true });
        // Seats are per site.
        await expect(users.saveChanges('site_b', 'a', {}, clock.now(), none, { maxUsers: 1 })).resolves.toMatchObject({ saved: true });
      });

      it('of many simultaneous creates of distinct users for the last seats, from two instances, exactly that many land', async () => {
        const [one, two] = [await instance(), await instance()];
        for (let i = 0; i < 4; i++) await one.users.saveChanges('site_a', `seated${i}`, {}, clock.now(), none);
        const outcomes = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).users.saveChanges('site_a', `new${i}`, {}, clock.now(), none, { maxUsers: 5 })),
        );
        expect(outcomes.filter((o) => o.saved)).toHaveLength(1);
        expect(outcomes.filter((o) => !o.saved && o.reason === 'seat_limit_reached')).toHaveLength(39);
        expect((await indexOf('site_a')).filter((m) => m.startsWith('u:'))).toHaveLength(5);
        const more = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).users.saveChanges('site_a', `more${i}`, {}, clock.now(), none, { maxUsers: 8 })),
        );
        expect(more.filter((o) => o.saved)).toHaveLength(3);
      });
    });

    describe('UserStore: the seat race with the window widened', () => {
      /**
       * The key-value store with its first `callers` conditional writes held
       * back until all of them have arrived: every one of those creates has
       * read the count (and seen a free seat) before any of them writes.
       */
      const heldBack = (kv: KvStore, callers: number): KvStore => {
        const waiting: (() => void)[] = [];
        return new Proxy(kv, {
          get(target, prop) {
            if (prop === 'writeIf') {
              return async (...args: Parameters<KvStore['writeIf']>) => {
                if (waiting.length < callers) {
                  await new Promise<void>((release) => {
                    waiting.push(release);
                    if (waiting.length === callers) waiting.forEach((r) => r());
                  });
                }
                return target.writeIf(...args);
              };
            }
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      };

      it('simultaneous first sign-ins of one new user for the last seat: one creates it, the others change it, none is refused', async () => {
        const plain = await instance();
        const kv = (opened[opened.length - 1] as { kv: KvStore }).kv;
        await plain.users.saveChanges('site_a', 'seated', {}, clock.now(), none);
        const { users } = createRecordStores(heldBack(kv, 10), { clock });
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) => users.saveChanges('site_a', 'newcomer', { name: `n${i}` }, clock.now(), none, { maxUsers: 2 })),
        );
        expect(outcomes.map((o) => o.saved)).toEqual(Array.from({ length: 10 }, () => true));
        expect(outcomes.filter((o) => o.saved && o.created)).toHaveLength(1);
      });

      it('creates that all saw a free seat before any wrote: exactly one lands', async () => {
        const plain = await instance();
        const kv = (opened[opened.length - 1] as { kv: KvStore }).kv;
        for (let i = 0; i < 4; i++) await plain.users.saveChanges('site_a', `seated${i}`, {}, clock.now(), none);
        const { users } = createRecordStores(heldBack(kv, 20), { clock });
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => users.saveChanges('site_a', `new${i}`, {}, clock.now(), none, { maxUsers: 5 })),
        );
        expect(outcomes.filter((o) => o.saved)).toHaveLength(1);
        expect(await kv.countByLex(keys.userIndex('site_a'), 'u:')).toBe(5);
      });
    });

    describe('SiteStore.purge', () => {
      it('removes the site, its keys (refused on another instance), users and sessions; another site stays', async () => {
        const [one, two] = [await instance(), await instance()];
        for (const id of ['site_a', 'site_b']) {
          await one.sites.create(site(id), []);
          await one.apiKeys.create(`hash-${id}`, apiKey(`key_${id}`, id), []);
          await one.users.saveChanges(id, 'ada', user('ada'), clock.now(), none);
          await one.sessions.create(session(`sess_${id}`, id, 'ada'), []);
        }
        expect(await two.apiKeys.findByHash('hash-site_a')).not.toBeNull();
        await one.sites.purge('site_a', none);
        await eventually('the key refused on the other instance', async () => (await two.apiKeys.findByHash('hash-site_a')) === null);
        expect(await one.sites.find('site_a')).toBeNull();
        expect(await two.sites.findByPublishableKey(site('site_a').publishableKey)).toBeNull();
        expect(await one.users.find('site_a', 'ada')).toBeNull();
        expect(await one.sessions.findByTokenHash('hash-of-sess_site_a')).toBeNull();
        expect(await one.apiKeys.listForSite('site_a')).toEqual([]);
        expect((await one.sites.list()).map((s) => s.siteId)).toEqual(['site_b']);
        expect(await one.users.find('site_b', 'ada')).not.toBeNull();
        expect(await one.sessions.findByTokenHash('hash-of-sess_site_b')).not.toBeNull();
        await expect(one.sites.purge('site_a', none)).resolves.toBeUndefined();
      });
    });

    describe('AdminTokenStore, ConsoleSessionStore, ExchangeCounterStore', () => {
      const token = (tokenId: string) => ({
        tokenId,
        name: 'n',
        role: 'read' as const,
        environments: ['live' as const],
        siteIds: null,
        last4: 'abcd',
        createdAt: clock.now(),
      });

      it('admin tokens: found by hash and id, listed, deleted (then refused by the other instance at once)', async () => {
        const [one, two] = [await instance(), await instance()];
        await one.adminTokens.create('th-1', token('admtok_1'));
        await one.adminTokens.create('th-2', token('admtok_2'));
        expect(await two.adminTokens.findByHash('th-1')).toEqual(token('admtok_1'));
        expect(await two.adminTokens.findById('admtok_2')).toEqual(token('admtok_2'));
        expect((await two.adminTokens.list()).map((t) => t.tokenId).sort()).toEqual(['admtok_1', 'admtok_2']);
        expect(await one.adminTokens.delete('admtok_1')).toBe(true);
        expect(await one.adminTokens.delete('admtok_1')).toBe(false);
        expect(await two.adminTokens.findByHash('th-1')).toBeNull();
        expect((await two.adminTokens.list()).map((t) => t.tokenId)).toEqual(['admtok_2']);
      });

      it('console sessions: saved, found, deleted, and expired after their TTL', async () => {
        const { consoleSessions } = await instance();
        const record = { actor: 'root', createdAt: clock.now(), expiresAt: clock.now() + 3_600_000, lastSeenAt: clock.now() };
        await consoleSessions.save('cs-1', record, 60_000);
        expect(await consoleSessions.find('cs-1')).toEqual(record);
        await consoleSessions.delete('cs-1');
        expect(await consoleSessions.find('cs-1')).toBeNull();
        await consoleSessions.save('cs-2', record, 50);
        opts.advanceTime?.(51);
        await eventually('the console session to expire', async () => (await consoleSessions.find('cs-2')) === null);
      });

      it('exchange counters: what two instances add is read back by second and outcome', async () => {
        const [one, two] = [await instance(), await instance()];
        const t = 1_790_000_000;
        await one.exchangeCounters.add([{ second: t, counts: { verified: 2, token_expired: 1 } }, { second: t + 61, counts: { verified: 1 } }]);
        await two.exchangeCounters.add([{ second: t, counts: { verified: 3 } }]);
        expect(await two.exchangeCounters.read(t - 10, t + 100)).toEqual([
          { second: t, counts: { verified: 5, token_expired: 1 } },
          { second: t + 61, counts: { verified: 1 } },
        ]);
        expect(await one.exchangeCounters.read(t + 1, t + 60)).toEqual([]);
      });
    });

    describe('EventLog', () => {
      const ev = (siteId: string, type: NewEvent['type'], data: Record<string, unknown> = {}): NewEvent => ({
        type,
        siteId,
        environment: 'live',
        createdAt: clock.now(),
        data,
        actor: 'root',
        clientAddress: '127.0.0.1',
      });

      it("writes a mutation's events with it, per site, in order, and reads them back after a cursor", async () => {
        const { sites, users, sessions, events } = await instance();
        await sites.create(site('site_a'), [ev('site_a', 'site.created')]);
        await sites.create(site('site_b'), [ev('site_b', 'site.created')]);
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), (before, after) => [
          ev('site_a', before ? 'user.updated' : 'user.created', { userId: after.userId }),
        ]);
        const s = session('sess_1', 'site_a', 'ada');
        await sessions.create(s, [ev('site_a', 'session.created', { sessionId: 'sess_1' })]);
        await sessions.endAllForUser('site_a', 'ada', (ended) => ended.map((e) => ev('site_a', 'session.ended', { sessionId: e.sessionId })));
        const a = await events.read('site_a', null, 10);
        expect(a.map((e) => [e.type, e.data])).toEqual([
          ['site.created', {}],
          ['user.created', { userId: 'ada' }],
          ['session.created', { sessionId: 'sess_1' }],
          ['session.ended', { sessionId: 'sess_1' }],
        ]);
        expect(a[0]).toMatchObject({ siteId: 'site_a', environment: 'live', createdAt: clock.now(), actor: 'root', clientAddress: '127.0.0.1' });
        expect((await events.read('site_b', null, 10)).map((e) => e.type)).toEqual(['site.created']);
        expect(await events.read('site_a', a[1]!.id, 2)).toEqual(a.slice(2, 4));
        expect(await events.lastId('site_a')).toBe(a[3]!.id);
        expect(await events.lastId('site_nobody')).toBeNull();
      });

      it('a conditional change retried after a conflict writes the events of the change that landed, once', async () => {
        const [one, two] = [await instance(), await instance()];
        await one.users.saveChanges('site_a', 'ada', { email: 'ada@example.com' }, clock.now(), none);
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? one : two).users.grantProduct('site_a', 'ada', { productId: `p${i}`, expiresAt: null }, clock.now(), (_b, after) => [
              ev('site_a', 'user.product_access.changed', { count: after.productAccess.length }),
            ]),
          ),
        );
        const counts = (await one.events.read('site_a', null, 50)).map((e) => e.data.count);
        expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
      });

      it('deleting a user writes the events of the sessions it ends; append writes to every site named', async () => {
        const { users, sessions, events } = await instance();
        await users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none);
        await sessions.create(session('sess_1', 'site_a', 'ada'), []);
        await sessions.create(session('sess_2', 'site_a', 'ada'), []);
        await users.deleteWithSessions('site_a', 'ada', (ended) => [
          ...ended.map((e) => ev('site_a', 'session.ended', { sessionId: e.sessionId })),
          ev('site_a', 'user.deleted'),
        ]);
        const types = (await events.read('site_a', null, 10)).map((e) => [e.type, e.data.sessionId]);
        expect(types).toHaveLength(3);
        expect(types).toEqual(expect.arrayContaining([['session.ended', 'sess_1'], ['session.ended', 'sess_2'], ['user.deleted', undefined]]));
        await events.append([ev('site_a', 'signing_key.rotated'), ev('site_b', 'signing_key.rotated')]);
        expect((await events.read('site_b', null, 10)).map((e) => e.type)).toEqual(['signing_key.rotated']);
      });

      it('tells every instance watching when a site has new events', async () => {
        const [one, two] = [await instance(), await instance()];
        const heard: string[] = [];
        const watch = await two.events.watch({ appended: (siteId) => heard.push(siteId), reset: () => {} });
        expect(watch.active).toBe(true);
        await one.sites.update(site('site_a'), [ev('site_a', 'site.updated')]);
        await eventually('the notice', async () => heard.includes('site_a'));
        await watch.close();
        expect(watch.active).toBe(false);
      });
    });

    describe('WebhookStore', () => {
      const endpoint = (endpointId: string): WebhookEndpointRecord => ({
        endpointId,
        siteId: 'site_a',
        url: 'https://shop.example/hook',
        description: null,
        eventTypes: null,
        disabled: false,
        secretSealed: 'sealed',
        previousSecretSealed: null,
        previousSecretValidUntil: null,
        createdAt: clock.now(),
        updatedAt: clock.now(),
      });
      const delivery = (eventId: string, nextAttemptAt: number | null): WebhookDeliveryRecord => ({
        endpointId: 'whep_a',
        siteId: 'site_a',
        eventId,
        eventType: 'user.created',
        payload: '{}',
        status: nextAttemptAt === null ? 'delivered' : 'pending',
        attempts: [],
        nextAttemptAt,
        createdAt: 1,
      });

      it('two instances moving one cursor at once make each delivery once; a lease goes to one holder', async () => {
        const [one, two] = [await instance(), await instance()];
        await one.webhooks.createEndpoint(endpoint('whep_a'), '5-0', []);
        expect(await two.webhooks.sitesWithEndpoints()).toEqual(['site_a']);
        expect((await two.webhooks.listEndpoints('site_a')).map((e) => e.endpointId)).toEqual(['whep_a']);
        const results = await Promise.all([
          one.webhooks.dispatch('site_a', 'whep_a', '5-0', '7-0', [delivery('6-0', 100), delivery('7-0', 200)]),
          two.webhooks.dispatch('site_a', 'whep_a', '5-0', '7-0', [delivery('6-0', 100), delivery('7-0', 200)]),
        ]);
        expect(results.sort()).toEqual([false, true]);
        expect(await one.webhooks.readCursor('site_a', 'whep_a')).toBe('7-0');
        expect(await two.webhooks.due('site_a', 150, 10)).toEqual([{ endpointId: 'whep_a', eventId: '6-0' }]);
        const due = { endpointId: 'whep_a', eventId: '6-0' };
        const claims = await Promise.all([one.webhooks.claim('site_a', due, 'one', 60_000), two.webhooks.claim('site_a', due, 'two', 60_000)]);
        expect(claims.sort()).toEqual([false, true]);
        await one.webhooks.saveDelivery(delivery('6-0', null));
        expect(await two.webhooks.due('site_a', 1000, 10)).toEqual([{ endpointId: 'whep_a', eventId: '7-0' }]);
        // Saving drops the lease: it can be claimed again (a resend).
        expect(await two.webhooks.claim('site_a', due, 'two', 60_000)).toBe(true);
        const page = await one.webhooks.listDeliveries('site_a', 'whep_a', null, 1);
        expect(page.deliveries.map((d) => d.eventId)).toEqual(['7-0']);
        const rest = await one.webhooks.listDeliveries('site_a', 'whep_a', page.nextCursor, 10);
        expect([rest.deliveries.map((d) => d.eventId), rest.nextCursor]).toEqual([['6-0'], null]);
      });
    });

    it('every port method rejects with StoreUnavailableError when the store cannot answer, never "absent"', async () => {
      const r = await instance();
      await (opened[opened.length - 1] as { kv: KvStore }).kv.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['sites.find', () => r.sites.find('site_a')],
        ['sites.findCached', () => r.sites.findCached('site_a')],
        ['sites.findByPublishableKey', () => r.sites.findByPublishableKey('vg_live_pk_x')],
        ['sites.list', () => r.sites.list()],
        ['sites.create', () => r.sites.create(site('site_x'), [])],
        ['sites.update', () => r.sites.update(site('site_x'), [])],
        ['apiKeys.findByHash', () => r.apiKeys.findByHash('h')],
        ['apiKeys.findByKeyId', () => r.apiKeys.findByKeyId('site_a', 'key_a')],
        ['apiKeys.listForSite', () => r.apiKeys.listForSite('site_a')],
        ['apiKeys.create', () => r.apiKeys.create('h', apiKey('key_x', 'site_a'), [])],
        ['apiKeys.update', () => r.apiKeys.update('h', apiKey('key_x', 'site_a'), [])],
        ['apiKeys.recordUse', () => r.apiKeys.recordUse('key_x', 1)],
        ['users.find', () => r.users.find('site_a', 'ada')],
        ['users.saveChanges', () => r.users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none)],
        ['users.deleteWithSessions', () => r.users.deleteWithSessions('site_a', 'ada', none)],
        ['users.grantProduct', () => r.users.grantProduct('site_a', 'ada', { productId: 'p', expiresAt: null }, 1, none)],
        ['users.revokeProduct', () => r.users.revokeProduct('site_a', 'ada', 'p', 1, none)],
        ['users.search', () => r.users.search('site_a', { query: '', cursor: null, limit: 5 })],
        ['users.findByEmail', () => r.users.findByEmail('site_a', 'ada@example.com', 2)],
        ['users.saveChanges with maxUsers', () => r.users.saveChanges('site_a', 'ada', user('ada'), clock.now(), none, { maxUsers: 5 })],
        ['sites.purge', () => r.sites.purge('site_a', none)],
        ['adminTokens.findByHash', () => r.adminTokens.findByHash('h')],
        ['adminTokens.list', () => r.adminTokens.list()],
        ['adminTokens.delete', () => r.adminTokens.delete('t')],
        ['consoleSessions.find', () => r.consoleSessions.find('h')],
        ['consoleSessions.save', () => r.consoleSessions.save('h', { actor: 'root', createdAt: 1, expiresAt: 2, lastSeenAt: 1 }, 1000)],
        ['exchangeCounters.add', () => r.exchangeCounters.add([{ second: 1, counts: { verified: 1 } }])],
        ['exchangeCounters.read', () => r.exchangeCounters.read(1, 2)],
        ['sessions.create', () => r.sessions.create(session('sess_x', 'site_a', 'ada'), [])],
        ['sessions.find', () => r.sessions.find('site_a', 'sess_x')],
        ['sessions.findByTokenHash', () => r.sessions.findByTokenHash('h')],
        ['sessions.touch', () => r.sessions.touch(session('sess_x', 'site_a', 'ada'))],
        ['sessions.end', () => r.sessions.end(session('sess_x', 'site_a', 'ada'), [])],
        ['sessions.listForUser', () => r.sessions.listForUser('site_a', 'ada')],
        ['sessions.endAllForUser', () => r.sessions.endAllForUser('site_a', 'ada', none)],
        ['keyring.read', () => r.keyring.read({ fresh: true })],
        ['keyring.createIfAbsent', () => r.keyring.createIfAbsent(keyring('live_x'))],
        ['keyring.update', () => r.keyring.update(() => keyring('live_x'))],
        ['sessionAndUser.readSessionAndUser', () => r.sessionAndUser.readSessionAndUser('site_a', 'sess_x', 'ada')],
        ['health.ping', () => r.health.ping()],
        ['events.read', () => r.events.read('site_a', null, 10)],
        ['events.lastId', () => r.events.lastId('site_a')],
        ['events.append', () => r.events.append([{ type: 'site.updated', siteId: 'site_a', environment: 'live', createdAt: 1, data: {} }])],
        ['events.watch', () => r.events.watch({ appended: () => {}, reset: () => {} })],
        ['events.readAudit', () => r.events.readAudit(null, 10)],
        ['webhooks.listEndpoints', () => r.webhooks.listEndpoints('site_a')],
        ['webhooks.findEndpoint', () => r.webhooks.findEndpoint('site_a', 'whep_x')],
        ['webhooks.sitesWithEndpoints', () => r.webhooks.sitesWithEndpoints()],
        ['webhooks.readCursor', () => r.webhooks.readCursor('site_a', 'whep_x')],
        ['webhooks.due', () => r.webhooks.due('site_a', 1, 10)],
        ['webhooks.claim', () => r.webhooks.claim('site_a', { endpointId: 'whep_x', eventId: '1-0' }, 'me', 1000)],
        ['webhooks.dispatch', () => r.webhooks.dispatch('site_a', 'whep_x', '0-0', '1-0', [])],
        ['webhooks.listDeliveries', () => r.webhooks.listDeliveries('site_a', 'whep_x', null, 10)],
        ['events.appendEnvironmentAudit', () => r.events.appendEnvironmentAudit({ type: 'signing_key.rotated', siteId: null, environment: 'live', createdAt: 1, data: {} })],
      ];
      for (const [what, call] of calls) {
        await expect(call().then(() => `${what} resolved`, (err: unknown) => (err instanceof StoreUnavailableError ? 'refused' : `${what}: ${String(err)}`))).resolves.toBe('refused');
      }
    });
  });
}
