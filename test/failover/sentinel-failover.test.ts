/**
 * SPEC §13 behind Redis Sentinel: one master, one replica, three sentinels
 * (real processes, test/support/redis-sentinel.ts). The gateway finds the
 * master through the sentinels; the master is killed; while the sentinels
 * promote the replica every answer is the right one or 503
 * store_unavailable; after the promotion the gateway serves again by
 * itself, its invalidation channel included. Then the reason for
 * REDIS_MIN_REPLICAS: a sign-out the master acknowledged but never passed
 * on comes back to life after a failover without it, and cannot with it.
 *
 * The unavailability window is measured and printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { REDIS_COMMANDS_USED, REDIS_SENTINEL_EXTRA_COMMANDS } from '../../src/store/redis-commands';
import { uniquePrefix } from '../support/redis';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { startRedisSentinel, type RedisSentinelHandle, type SentinelDataNode } from '../support/redis-sentinel';
import { runExchangesThrough, type Expected } from '../support/failover';
import { SseClient } from '../support/sse';

jest.setTimeout(120_000);

let group: RedisSentinelHandle;
/** REDIS_MIN_REPLICAS unset (0). */
let plain: TestGateway;
/** REDIS_MIN_REPLICAS=1, same data (same prefix and master key). */
let safe: TestGateway;

const storeEnv = () => ({ REDIS_SENTINELS: group.sentinelsEnv, REDIS_SENTINEL_NAME: group.name });

const prefix = uniquePrefix();
const ACL_USER = 'verigate-app';
const ACL_PASSWORD = randomBytes(18).toString('base64url');

beforeAll(async () => {
  // Both gateways connect to the data nodes as a restricted ACL user: the
  // commands of REDIS_COMMANDS_USED plus REDIS_SENTINEL_EXTRA_COMMANDS, and
  // only this run's keys and channels (REDIS_USERNAME / REDIS_PASSWORD).
  const commands = [...REDIS_COMMANDS_USED, ...REDIS_SENTINEL_EXTRA_COMMANDS].map((c) => `+${c.toLowerCase()}`);
  group = await startRedisSentinel({
    replicas: 1,
    aclUsers: [[ACL_USER, 'on', `>${ACL_PASSWORD}`, `~${prefix}:*`, `&${prefix}:*`, '-@all', ...commands]],
  });
  const env = { ...storeEnv(), REDIS_USERNAME: ACL_USER, REDIS_PASSWORD: ACL_PASSWORD };
  plain = await startGateway({ storeEnv: env, prefix });
  safe = await startGateway({ storeEnv: env, minReplicas: 1, prefix, masterKey: plain.masterKey, clock: plain.clock });
});

afterAll(async () => {
  await safe?.close();
  await plain?.close();
  await group?.stop();
});

/** A site with a key, and a user with a session and its verification token. */
async function provision(gw: TestGateway, userId = 'ada') {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, userId, { email: `${userId}@example.com` });
  const sessionToken = await admin.createSession(site.siteId, userId);
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  return { ...site, sessionToken, token };
}

const signOut = async (gw: TestGateway, sessionToken: string) =>
  checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`));

/** Kills the master, waits for the promotion, brings the old master back as a replica and waits until the group is whole again. */
async function failOver(before?: () => Promise<void>): Promise<{ old: SentinelDataNode; newPort: number }> {
  const old = await group.master();
  await old.kill();
  await before?.();
  const newPort = await group.awaitPromotion(old.port);
  await old.restartAsReplicaOf(newPort);
  // Both gateways lost their connection; the next test may use either.
  await Promise.all([awaitStoreBack(plain), awaitStoreBack(safe)]);
  return { old, newPort };
}

/** Resolves once `gw`'s live store answers again by itself; names its connection's status when it does not. */
async function awaitStoreBack(gw: TestGateway): Promise<void> {
  try {
    await pollUntil(() => gw.stores.live.ping().then(() => true), (ok) => ok, { timeoutMs: 60_000, intervalMs: 50, what: 'the store to answer after the promotion' });
  } catch (err) {
    const status = (gw.stores.live as unknown as { client?: { status?: string } }).client?.status;
    throw new Error(`${(err as Error).message} (store connection ${String(status)})`);
  }
}

/**
 * Cuts the replica off its master for good until `restore`: a wrong
 * `masterauth` (this master has no password, so its AUTH fails) and the
 * link dropped. Unlike freezing it, nothing the master sends afterwards
 * waits in the replica's socket buffer: a write made now is on the master only.
 */
async function cutReplication(replica: SentinelDataNode): Promise<{ restore(): Promise<void> }> {
  await replica.command('CONFIG', 'SET', 'masterauth', 'not-the-password');
  await replica.command('CLIENT', 'KILL', 'TYPE', 'master');
  const master = await group.master();
  await pollUntil(
    async () => String(await master.command('INFO', 'replication')),
    (info) => info.includes('connected_slaves:0'),
    { what: 'the master to lose its replica' },
  );
  return {
    restore: async () => {
      await replica.command('CONFIG', 'SET', 'masterauth', '');
    },
  };
}

async function replicaNode(): Promise<SentinelDataNode> {
  const masterPort = await group.masterPort();
  const replica = group.nodes.find((n) => n.port !== masterPort && n.running);
  if (!replica) throw new Error('no running replica');
  return replica;
}

describe('Redis Sentinel: the master dies', () => {
  it('provisions and serves through the sentinels', async () => {
    const p = await provision(plain);
    const res = await exchange(plain, 'live', p.apiKey, { userVerificationToken: p.token });
    expect(res.status).toBe(200);
    expect(res.body.isAuthenticated).toBe(true);
  });

  it('every answer during the failover is the right one or 503; after the promotion it serves again by itself', async () => {
    const signedIn = await provision(plain, 'signed-in');
    const signedOut = await provision(plain, 'signed-out');
    expect((await signOut(plain, signedOut.sessionToken)).status).toBe(204);
    await group.awaitSettled();
    const expected: Expected[] = [
      { apiKey: signedIn.apiKey, token: signedIn.token, isAuthenticated: true, userId: 'signed-in' },
      { apiKey: signedOut.apiKey, token: signedOut.token, isAuthenticated: false, reason: 'session_ended' },
    ];
    const run = await runExchangesThrough(plain, expected, async () => {
      await failOver();
    });
    // Every answer was right or 503 (runExchangesThrough fails on anything else), there were 503s, and it came back.
    expect(run.unavailable).toBeGreaterThan(0);
    expect(run.servedAfter).toBeGreaterThan(0);
    console.log(`[failover] Sentinel: ${run.describe()}`);
    expect(checked(await plain.http('live').get('/readyz')).status).toBe(200);
    await group.awaitSettled();
  });

  it('pub/sub invalidation is back after the failover: a key revoked by another instance is refused here', async () => {
    const p = await provision(plain);
    await pollUntil(async () => plain.records.live.invalidation.active, (active) => active, { what: 'the invalidation subscription to come back' });
    // Served once here, so cached here.
    expect((await exchange(plain, 'live', p.apiKey, { userVerificationToken: p.token })).status).toBe(200);
    expect((await adminClient(safe, 'live').call('delete', `/sites/${p.siteId}/api-keys/${p.keyId}`)).status).toBe(204);
    const refused = await pollUntil(
      () => exchange(plain, 'live', p.apiKey, { userVerificationToken: p.token }),
      (res) => res.status !== 200,
      { intervalMs: 10, what: 'the revoked key to be refused' },
    );
    expect([refused.status, refused.body.code]).toEqual([401, 'invalid_api_key']);
  });
});

describe('Redis Sentinel: the event stream through a failover', () => {
  it('a stream opened before the failover carries a change made after it (resumed by Last-Event-ID, as a client does, if the gateway ended it)', async () => {
    const p = await provision(plain);
    const url = `${plain.urls.live}/live_api/s2s/v1/events/stream`;
    let stream = await SseClient.open(url, { 'X-API-KEY': p.apiKey });
    try {
      expect(stream.status).toBe(200);
      await stream.next((m) => m.event === 'heartbeat', 'a heartbeat');
      // A change before the failover, seen on the stream: its id is where a client resumes.
      await adminClient(plain, 'live').createSession(p.siteId, 'ada');
      await stream.next((m) => m.event === 'session.created', 'the session.created event');
      let ended = false;
      void stream.closed.then(() => (ended = true));
      await failOver();
      if (ended) {
        const lastId = [...stream.messages].reverse().find((m) => m.event !== 'heartbeat' && m.id)?.id;
        stream = await SseClient.open(url, { 'X-API-KEY': p.apiKey, ...(lastId ? { 'Last-Event-ID': lastId } : {}) });
        expect(stream.status).toBe(200);
      }
      const heartbeatsBefore = stream.messages.filter((m) => m.event === 'heartbeat').length;
      expect((await signOut(plain, p.sessionToken)).status).toBe(204);
      const event = await stream.next((m) => m.event === 'session.ended', 'the session.ended event after the failover', 30_000);
      expect(JSON.parse(event.data)).toMatchObject({ type: 'session.ended', siteId: p.siteId });
      // And its heartbeats go on (the stream is live, not a replay that stopped).
      await stream.next(
        (m) => m.event === 'heartbeat' && stream.messages.filter((x) => x.event === 'heartbeat').length > heartbeatsBefore + 1,
        'heartbeats after the failover',
      );
      console.log(`[failover] Sentinel: the event stream ${ended ? 'was ended by the gateway and resumed by Last-Event-ID' : 'stayed open'} through the failover`);
    } finally {
      stream.close();
    }
  });
});

describe('Redis Sentinel: nothing acknowledged is lost (REDIS_MIN_REPLICAS)', () => {
  it('without it, the loss can happen: a sign-out the master never passed on is undone by the promotion', async () => {
    const p = await provision(plain);
    await group.awaitSettled();
    const cut = await cutReplication(await replicaNode());
    // The master alone holds the sign-out, and says it is done.
    expect((await signOut(plain, p.sessionToken)).status).toBe(204);
    expect((await exchange(plain, 'live', p.apiKey, { userVerificationToken: p.token })).body.reason).toBe('session_ended');
    await failOver(() => cut.restore());
    const after = await pollUntil(
      () => exchange(plain, 'live', p.apiKey, { userVerificationToken: p.token }),
      (res) => res.status === 200,
      { timeoutMs: 60_000, intervalMs: 50, what: 'the gateway to serve after the promotion' },
    );
    // The visitor who signed out is signed in again.
    expect(after.body.isAuthenticated).toBe(true);
    await group.awaitSettled();
  });

  it('with REDIS_MIN_REPLICAS=1, a sign-out answered 204 survives killing the master right after the answer', async () => {
    const p = await provision(safe);
    await group.awaitSettled();
    expect((await signOut(safe, p.sessionToken)).status).toBe(204);
    await failOver();
    const after = await pollUntil(
      () => exchange(safe, 'live', p.apiKey, { userVerificationToken: p.token }),
      (res) => res.status === 200,
      { timeoutMs: 60_000, intervalMs: 50, what: 'the gateway to serve after the promotion' },
    );
    expect(after.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
    await group.awaitSettled();
  });

  it('with REDIS_MIN_REPLICAS=1 and replication cut, the sign-out is 503, never 204', async () => {
    const p = await provision(safe);
    await group.awaitSettled();
    const cut = await cutReplication(await replicaNode());
    try {
      const res = await signOut(safe, p.sessionToken);
      expect([res.status, res.body.code]).toEqual([503, 'store_unavailable']);
    } finally {
      await cut.restore();
    }
    await group.awaitSettled();
    // Asked again once a replica acknowledges: done (the session may already be gone on the master: 204 or 401 no_session).
    const again = await signOut(safe, p.sessionToken);
    expect([204, 401]).toContain(again.status);
    expect((await exchange(safe, 'live', p.apiKey, { userVerificationToken: p.token })).body.reason).toBe('session_ended');
  });
});
