/**
 * SPEC §13 on Redis Cluster with a replica per master (3 + 3 real
 * processes, test/support/redis-cluster.ts): the master serving a site's
 * slot is killed; while its replica takes over every exchange is the
 * right answer or 503 store_unavailable, and the gateway serves again by
 * itself. With REDIS_MIN_REPLICAS=1, WAIT goes to the node owning the
 * slot: a sign-out answered 204 survives killing that master right after
 * the answer, and with its replica frozen the sign-out is 503.
 *
 * The unavailability window is measured and printed, never asserted.
 */
// ioredis' own slot function (its dependency; no types of its own).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { awaitReplicasInSync, startRedisCluster, type RedisClusterHandle, type RedisClusterNode } from '../support/redis-cluster';
import { runExchangesThrough, type Expected } from '../support/failover';

jest.setTimeout(120_000);

let cluster: RedisClusterHandle;
let plain: TestGateway;
let safe: TestGateway;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1 });
  await awaitReplicasOnline();
  const storeEnv = { REDIS_CLUSTER_NODES: cluster.nodesEnv };
  plain = await startGateway({ storeEnv });
  safe = await startGateway({ storeEnv, minReplicas: 1, prefix: plain.prefix, masterKey: plain.masterKey, clock: plain.clock });
});

afterAll(async () => {
  await safe?.close();
  await plain?.close();
  await cluster?.stop();
});

const node = (port: number): RedisClusterNode => {
  const found = cluster.nodes.find((n) => n.port === port);
  if (!found) throw new Error(`no node ${port}`);
  return found;
};

/** Every master has a replica, and every replica's link to its master is up. */
async function awaitReplicasOnline(): Promise<void> {
  await pollUntil(
    async () => {
      const roles = await cluster.roles();
      const masters = roles.filter((r) => r.role === 'master' && !r.failed && r.slots.length > 0);
      const replicas = roles.filter((r) => r.role === 'replica' && !r.failed);
      if (!(masters.length === 3 && masters.every((m) => replicas.some((r) => r.masterId === m.id)))) return false;
      // And each replica has its master's data: one that never synced may not take over.
      await awaitReplicasInSync(cluster.nodes.map((n) => n.port), 3, 1000);
      return true;
    },
    (ok) => ok,
    { timeoutMs: 30_000, intervalMs: 100, what: 'every master to have a replica' },
  );
}

/** The slot of a site's records (they share its hash tag). */
const slotOf = (siteId: string): number => calculateSlot(siteId);

async function provision(gw: TestGateway, userId = 'ada') {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, userId, { email: `${userId}@example.com` });
  const sessionToken = await admin.createSession(site.siteId, userId);
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  return { ...site, sessionToken, token };
}

/**
 * `provision`, once `gw` serves writes again: the previous test's failover
 * moved a slot, and a gateway's cluster client learns the new owner only when
 * it next refreshes its slot map (until then a write to that slot is 503).
 */
async function provisionOnceServing(gw: TestGateway, userId = 'ada') {
  return pollUntil(
    () => provision(gw, userId).catch(() => null),
    (p) => p !== null,
    { timeoutMs: 30_000, intervalMs: 100, what: 'the gateway to provision after the previous failover' },
  ) as Promise<Awaited<ReturnType<typeof provision>>>;
}

const signOut = async (gw: TestGateway, sessionToken: string) =>
  checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`));

/** Kills the master of `slot`, waits until its replica serves it, and restarts the old master (it rejoins as a replica). */
async function failOver(slot: number): Promise<void> {
  const { master } = await cluster.ownerOf(slot);
  await node(master).kill();
  await pollUntil(
    () => cluster.ownerOf(slot).catch(() => ({ master, replicas: [] })),
    (owner) => owner.master !== master,
    { timeoutMs: 30_000, intervalMs: 50, what: `a replica to take over slot ${slot}` },
  );
  await node(master).restart();
  await awaitReplicasOnline();
}

describe('Redis Cluster with replicas: a master dies', () => {
  it('every answer during the failover is the right one or 503; after the replica takes over it serves again by itself', async () => {
    const signedIn = await provision(plain, 'signed-in');
    const signedOut = await provision(plain, 'signed-out');
    expect((await signOut(plain, signedOut.sessionToken)).status).toBe(204);
    const expected: Expected[] = [
      { apiKey: signedIn.apiKey, token: signedIn.token, isAuthenticated: true, userId: 'signed-in' },
      { apiKey: signedOut.apiKey, token: signedOut.token, isAuthenticated: false, reason: 'session_ended' },
    ];
    const run = await runExchangesThrough(plain, expected, async () => {
      const { master } = await cluster.ownerOf(slotOf(signedIn.siteId));
      await node(master).kill();
      await pollUntil(
        () => cluster.ownerOf(slotOf(signedIn.siteId)).catch(() => ({ master, replicas: [] })),
        (owner) => owner.master !== master,
        { timeoutMs: 30_000, intervalMs: 50, what: 'the replica to take over' },
      );
    });
    expect(run.unavailable).toBeGreaterThan(0);
    console.log(`[failover] Cluster: ${run.describe()}`);
    // The old master comes back as a replica; the group is whole for the next test.
    await cluster.nodes.find((n) => !n.running)?.restart();
    await awaitReplicasOnline();
    expect(checked(await plain.http('live').get('/readyz')).status).toBe(200);
  });

  it('with REDIS_MIN_REPLICAS=1, a sign-out answered 204 survives killing its slot’s master right after the answer', async () => {
    const p = await provisionOnceServing(safe);
    expect((await signOut(safe, p.sessionToken)).status).toBe(204);
    await failOver(slotOf(p.siteId));
    const after = await pollUntil(
      () => exchange(safe, 'live', p.apiKey, { userVerificationToken: p.token }),
      (res) => res.status === 200,
      { timeoutMs: 30_000, intervalMs: 50, what: 'the gateway to serve after the failover' },
    );
    expect(after.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
  });

  it('with REDIS_MIN_REPLICAS=1 and the slot’s replica frozen, the sign-out is 503, never 204 (WAIT on the owning node)', async () => {
    const p = await provisionOnceServing(safe);
    const { replicas } = await cluster.ownerOf(slotOf(p.siteId));
    expect(replicas).toHaveLength(1);
    const replica = node(replicas[0] as number);
    replica.freeze();
    try {
      const res = await signOut(safe, p.sessionToken);
      expect([res.status, res.body.code]).toEqual([503, 'store_unavailable']);
    } finally {
      replica.thaw();
    }
    // Once the replica acknowledges again, the same sign-out is done (204, or 401 when the master already dropped it).
    expect([204, 401]).toContain((await signOut(safe, p.sessionToken)).status);
    expect((await exchange(safe, 'live', p.apiKey, { userVerificationToken: p.token })).body.reason).toBe('session_ended');
  });
});
