/**
 * SPEC §13 "nothing acknowledged is lost", the wiring: with
 * REDIS_MIN_REPLICAS=1, every revocation of the admin and browser APIs is
 * answered as done only while a replica acknowledges it. The replica is
 * frozen (SIGSTOP: its replication link stays open but nothing is
 * acknowledged), and each revocation must then answer 503
 * store_unavailable, never its success; with the replica running, each
 * succeeds. A revocation routed around src/store/records/revocations.ts
 * answers its success here and turns this red.
 */
import type request from 'supertest';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import Redis from 'ioredis';

jest.setTimeout(60_000);

let master: RedisServerHandle;
let replica: RedisServerHandle;
let gw: TestGateway;

/** `connected_slaves` with state=online, as the master reports it. */
async function onlineReplicas(): Promise<number> {
  const client = new Redis(master.url, { maxRetriesPerRequest: 0, lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info('replication');
    return info.split('\r\n').filter((line) => /^slave\d+:/.test(line) && line.includes('state=online')).length;
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  master = await startRedisServer();
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await pollUntil(onlineReplicas, (n) => n === 1, { what: 'the replica to be online' });
  gw = await startGateway({ redisUrl: master.url, minReplicas: 1 });
});

afterAll(async () => {
  replica?.thaw();
  await gw?.close();
  await replica?.stop();
  await master?.stop();
});

/** What a revocation needs: a site with a key, a user with a product and a session, a root-made admin token. */
async function provision() {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'ada', { productAccess: [{ productId: 'pro', expiresAt: null }] });
  const sessionToken = await admin.createSession(site.siteId, 'ada');
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  const adminToken = checked(
    await gw.http('admin').post('/admin/v1/admin-tokens').set({ Authorization: `Bearer ${gw.adminToken}` }).send({ name: 'ops', environments: ['live'], role: 'read' }),
  );
  expect(adminToken.status).toBe(201);
  return { ...site, sessionToken, token, adminTokenId: adminToken.body.tokenId as string };
}

type Provisioned = Awaited<ReturnType<typeof provision>>;

/** Every revocation of SPEC §13, as the API asks for it. */
const REVOCATIONS: [string, (p: Provisioned) => Promise<request.Response>][] = [
  ['API key revoked', (p) => adminClient(gw, 'live').call('delete', `/sites/${p.siteId}/api-keys/${p.keyId}`)],
  ['API key rolled', (p) => adminClient(gw, 'live').call('post', `/sites/${p.siteId}/api-keys/${p.keyId}/roll`, { expiresInSeconds: 0 })],
  ['browser sign-out', async (p) => checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${p.sessionToken}`))],
  ['sign out everywhere', (p) => adminClient(gw, 'live').call('delete', `/sites/${p.siteId}/users/ada/sessions`)],
  ['user deleted', (p) => adminClient(gw, 'live').call('delete', `/sites/${p.siteId}/users/ada`)],
  ['product revoked', (p) => adminClient(gw, 'live').call('delete', `/sites/${p.siteId}/users/ada/products/pro`)],
  ['product dropped by a PUT', (p) => adminClient(gw, 'live').call('put', `/sites/${p.siteId}/users/ada`, { productAccess: [] })],
  ['identity secret rotated without grace', (p) => adminClient(gw, 'live').call('post', `/sites/${p.siteId}/security/rotate-identity-secret`, {})],
  [
    'admin token deleted',
    async (p) => checked(await gw.http('admin').delete(`/admin/v1/admin-tokens/${p.adminTokenId}`).set({ Authorization: `Bearer ${gw.adminToken}` })),
  ],
  ['site deleted', (p) => adminClient(gw, 'live').call('delete', `/sites/${p.siteId}`)],
];

describe('REDIS_MIN_REPLICAS=1: a revocation no replica acknowledges is not answered as done', () => {
  it.each(REVOCATIONS)('%s: 503 store_unavailable while the replica is frozen', async (_name, revoke) => {
    const p = await provision();
    replica.freeze();
    try {
      // Not a revocation: a plain write is answered as usual with the replica frozen.
      expect([200, 201]).toContain((await adminClient(gw, 'live').call('put', `/sites/${p.siteId}/users/grace`, { email: 'grace@example.com' })).status);
      const res = await revoke(p);
      expect([res.status, res.body.code]).toEqual([503, 'store_unavailable']);
    } finally {
      replica.thaw();
    }
  });

  it.each(REVOCATIONS)('%s: done once the replica holds it', async (_name, revoke) => {
    const p = await provision();
    const res = await revoke(p);
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
  });

  it('a sign-out the replica acknowledged is on the replica when the answer arrives', async () => {
    const p = await provision();
    const onReplica = new Redis(replica.url, { maxRetriesPerRequest: 0 });
    const sessionKeys = () => onReplica.keys(`${gw.prefix}:live:{${p.siteId}}:session:*`);
    await pollUntil(sessionKeys, (keys) => keys.length === 1, { what: 'the session to reach the replica' });
    const signOut = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${p.sessionToken}`));
    expect(signOut.status).toBe(204);
    // Nothing waited for but the answer: the replica already has it.
    try {
      expect(await sessionKeys()).toEqual([]);
    } finally {
      onReplica.disconnect();
    }
    expect((await exchange(gw, 'live', p.apiKey, { userVerificationToken: p.token })).body.reason).toBe('session_ended');
  });
});
