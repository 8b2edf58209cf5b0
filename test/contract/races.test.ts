/**
 * The races of SPEC §7, each with its window widened on purpose (a read of
 * the record held until the other write has landed, test/support/gated-kv.ts),
 * on the embedded store, one Redis and (TEST_STORE=cluster) the cluster:
 * - a sign-in never undoes a product-access change made at the same moment,
 *   nor a grant the sign-in's profile update;
 * - two signing-key rotations at once both land, one after the other.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { createDomain, type Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import type { KvStore } from '../../src/store/kv';
import { MemoryBackend, MemoryKvStore } from '../../src/store/memory-kv';
import { createRecordStores, type RecordStores } from '../../src/store/records';
import { keys } from '../../src/store/records/keys';
import { RedisKvStore } from '../../src/store/redis-kv';
import { gatedKv } from '../support/gated-kv';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { TEST_COMMAND_TIMEOUT_MS, testRedisUrl, uniquePrefix } from '../support/redis';

const backend = new MemoryBackend();
const clusterNodes = testRedisClusterNodes();
type Engine = [string, (namespace: string) => Promise<KvStore> | KvStore];
const engines: Engine[] = [
  ['embedded store', (namespace) => new MemoryKvStore({ namespace, shared: backend })],
  ['Redis', (namespace) => RedisKvStore.connect({ url: testRedisUrl(), namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS })],
];
if (clusterNodes) engines.push(['Redis Cluster', (namespace) => RedisKvStore.connect({ clusterNodes, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS })]);

describe.each(engines)('races on the %s', (_name, makeKv) => {
  const clock = new FrozenClock(Date.now());
  let kv: KvStore;
  let gate: ReturnType<typeof gatedKv>;
  let records: RecordStores;
  let domain: Domain;

  beforeEach(async () => {
    kv = await makeKv(`${uniquePrefix()}:live:`);
    gate = gatedKv(kv);
    records = createRecordStores(gate.kv, { clock });
    await records.start();
    domain = createDomain({ environment: 'live', stores: records, masterKey: randomBytes(32), publicUrl: 'https://api.verigate.test', clock });
  });
  afterEach(async () => {
    await records.stop();
    await kv.close();
  });

  async function siteWithUser() {
    const { site, identitySecret } = await domain.sites.createSite({ name: 'Shop' });
    await domain.users.upsertUser(site.siteId, 'ada', { email: 'old@example.com' });
    const now = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({ sub: 'ada', email: 'new@example.com', name: 'Ada', plan: 'pro' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(createSecretKey(Buffer.from(identitySecret, 'utf8')));
    return { site, token };
  }

  it('a grant that lands while a sign-in has read the user survives the sign-in, and the sign-in’s profile lands too', async () => {
    const { site, token } = await siteWithUser();
    const hold = gate.holdAfterRead(keys.user(site.siteId, 'ada'));
    const signingIn = domain.signIn(site, token);
    await hold.reached;
    await domain.users.grantProduct(site.siteId, 'ada', { productId: 'reports', expiresAt: null });
    hold.release();
    await signingIn;
    const user = await domain.users.getUser(site.siteId, 'ada');
    expect(user.productAccess).toEqual([{ productId: 'reports', expiresAt: null }]);
    expect(user).toMatchObject({ email: 'new@example.com', name: 'Ada', attributes: { plan: 'pro' } });
  });

  it('a sign-in that lands while a revoke has read the user does not bring the product back', async () => {
    const { site, token } = await siteWithUser();
    await domain.users.grantProduct(site.siteId, 'ada', { productId: 'reports', expiresAt: null });
    const hold = gate.holdAfterRead(keys.user(site.siteId, 'ada'));
    const revoking = domain.users.revokeProduct(site.siteId, 'ada', 'reports');
    await hold.reached;
    await domain.signIn(site, token);
    hold.release();
    await revoking;
    const user = await domain.users.getUser(site.siteId, 'ada');
    expect(user.productAccess).toEqual([]);
    expect(user.email).toBe('new@example.com');
  });

  it('two signing-key rotations at once both land: the later one retires the earlier, whose key stays trusted', async () => {
    const original = (await domain.signingKeys.keyring()).currentKid;
    // The rotation's first read makes sure a keyring exists; the second is the one its change is computed from.
    const hold = gate.holdAfterRead(keys.signingKeys(), 1);
    const first = domain.signingKeys.rotateSigningKey();
    await hold.reached;
    const second = await domain.signingKeys.rotateSigningKey();
    hold.release();
    const later = await first;

    expect(second.previousKid).toBe(original);
    expect(later.previousKid).toBe(second.kid);
    const ring = await domain.signingKeys.keyring({ fresh: true });
    expect(ring.currentKid).toBe(later.kid);
    expect([...ring.verificationKeys.keys()].sort()).toEqual([original, second.kid, later.kid].sort());
    expect((await domain.signingKeys.jwks()).keys.map((k) => k.kid).sort()).toEqual([original, second.kid, later.kid].sort());
  });
});
