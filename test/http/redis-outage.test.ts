import type request from 'supertest';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { pollUntil } from '../support/poll';
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { generateCredential } from '../../src/domain/credentials';

jest.setTimeout(60_000);

/** A site with a key, a user, a session and a fresh verification token. */
async function provision(gw: TestGateway) {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1', { email: 'ada@example.com' });
  const sessionToken = await admin.createSession(site.siteId, 'user-1');
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  return { ...site, sessionToken, token };
}

function expectUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('store_unavailable');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(0);
}

const readyz = async (gw: TestGateway) => checked(await gw.http('live').get('/readyz'));

async function awaitReady(gw: TestGateway): Promise<void> {
  await pollUntil(() => readyz(gw), (res) => res.status === 200, { timeoutMs: 15_000, intervalMs: 50, what: '/readyz to answer 200' });
  const admin = await pollUntil(
    async () => checked(await gw.http('admin').get('/readyz')),
    (res) => res.status === 200,
    { timeoutMs: 15_000, intervalMs: 50, what: 'admin /readyz to answer 200' },
  );
  expect(admin.status).toBe(200);
}

/** Everything a gateway must refuse with 503 while its store is gone. */
async function expectFailsClosed(gw: TestGateway, data: Awaited<ReturnType<typeof provision>>): Promise<void> {
  // The key may be cached in-process; the session read must fail anyway, and never turn into a 200.
  for (let i = 0; i < 3; i++) {
    expectUnavailable(await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token }));
  }
  // A well-formed key the process has never seen: 503, not 401 (no guess either way).
  expectUnavailable(await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: data.token }));

  const ready = await readyz(gw);
  expectUnavailable(ready);
  expectUnavailable(checked(await gw.http('admin').get('/readyz')));
  const healthy = checked(await gw.http('live').get('/healthz'));
  expect(healthy.status).toBe(200);
  expect(checked(await gw.http('admin').get('/healthz')).status).toBe(200);

  const bearer = `Bearer ${data.sessionToken}`;
  // Signing out must not claim success it did not have.
  expectUnavailable(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', bearer)));
  // Nor may "who is signed in" answer "nobody".
  expectUnavailable(checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', bearer)));
  expectUnavailable(checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', bearer)));
  expectUnavailable(await adminClient(gw, 'live').call('post', '/sites', { name: 'During outage' }));
  // A sign-in by email must not answer "no such user" (unknown_user) for a store it could not ask.
  const byEmail = await new SignJWT({ email: 'ada@example.com' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(Math.floor(gw.clock.now() / 1000))
    .setExpirationTime(Math.floor(gw.clock.now() / 1000) + 300)
    .sign(createSecretKey(Buffer.from(data.identitySecret, 'utf8')));
  expectUnavailable(checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: data.publishableKey, identityToken: byEmail })));
}

describe('Redis dies under a running gateway', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;
  let data: Awaited<ReturnType<typeof provision>>;

  beforeAll(async () => {
    server = await startRedisServer();
    gw = await startGateway({ redisUrl: server.url });
    data = await provision(gw);
    // Serve one exchange so the API key is cached in-process.
    expect((await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token })).body.isAuthenticated).toBe(true);
  });
  afterAll(async () => {
    await gw.close();
    await server.stop();
  });

  it('killed: the gateway fails closed with 503 store_unavailable and Retry-After; healthz stays 200', async () => {
    await server.kill();
    await expectFailsClosed(gw, data);
  });

  it('restarted on the same port: readyz turns 200 by itself and the exchange answers 200 again', async () => {
    await server.restart();
    await awaitReady(gw);
    // The private redis-server keeps nothing across a restart: provision again.
    const fresh = await provision(gw);
    const res = await exchange(gw, 'live', fresh.apiKey, { userVerificationToken: fresh.token });
    expect(res.status).toBe(200);
    expect(res.body.isAuthenticated).toBe(true);
    // And sign-out works again, with its effect.
    expect(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${fresh.sessionToken}`)).status).toBe(204);
    expect((await exchange(gw, 'live', fresh.apiKey, { userVerificationToken: fresh.token })).body.reason).toBe('session_ended');
  });

  it('after recovery, the invalidation channel is back: a revocation by another instance reaches the cache', async () => {
    await pollUntil(async () => gw.records.live.invalidation.active, (active) => active, { what: 'the invalidation subscription to come back' });
    const other = await startGateway({ redisUrl: server.url, prefix: gw.prefix, masterKey: gw.masterKey, clock: gw.clock });
    try {
      const fresh = await provision(gw);
      // Served once here, so cached here.
      expect((await exchange(gw, 'live', fresh.apiKey, { userVerificationToken: fresh.token })).status).toBe(200);
      expect((await adminClient(other, 'live').call('delete', `/sites/${fresh.siteId}/api-keys/${fresh.keyId}`)).status).toBe(204);
      const refused = await pollUntil(
        () => exchange(gw, 'live', fresh.apiKey, { userVerificationToken: fresh.token }),
        (res) => res.status !== 200,
        // The outcome only: the 1 s bound is test/e2e/two-processes.test.ts's.
        { intervalMs: 10, what: 'the revoked key to be refused' },
      );
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('invalid_api_key');
    } finally {
      await other.close();
    }
  });
});

describe('gateway started while Redis is down', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;

  beforeAll(async () => {
    // Take a port, then free it: nothing listens there until restart().
    server = await startRedisServer();
    await server.stop();
    gw = await startGateway({ redisUrl: server.url, awaitStores: false });
  });
  afterAll(async () => {
    await gw.close();
    await server.stop();
  });

  it('is alive but not ready, and answers 503 rather than guessing', async () => {
    expect(checked(await gw.http('live').get('/healthz')).status).toBe(200);
    expect(checked(await gw.http('admin').get('/healthz')).status).toBe(200);
    expectUnavailable(await readyz(gw));
    expectUnavailable(checked(await gw.http('sandbox').get('/readyz')));
    expectUnavailable(await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: 'a.b.c' }));
    expectUnavailable(await adminClient(gw, 'live').call('post', '/sites', { name: 'Too early' }));
    expectUnavailable(await adminClient(gw, 'live').call('get', '/sites'));
    expectUnavailable(checked(await gw.http('live').get('/.well-known/jwks.json')));
    expectUnavailable(checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${generateCredential('live', 'st')}`)));
    // Checks that need no store at all still answer.
    expect(checked(await gw.http('live').get('/live_api/v1/session')).body).toEqual({ isAuthenticated: false, user: null });
    expect(checked(await gw.http('admin').get('/admin/v1/live/sites')).status).toBe(401);
  });

  it('recovers once Redis comes up on that port', async () => {
    await server.restart();
    await awaitReady(gw);
    const data = await provision(gw);
    const res = await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token });
    expect(res.status).toBe(200);
    expect(res.body.isAuthenticated).toBe(true);
  });
});

describe('frozen Redis (SIGSTOP)', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;
  let data: Awaited<ReturnType<typeof provision>>;

  beforeAll(async () => {
    server = await startRedisServer();
    gw = await startGateway({ redisUrl: server.url });
    data = await provision(gw);
    expect((await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token })).body.isAuthenticated).toBe(true);
  });
  afterAll(async () => {
    server.thaw();
    await gw.close();
    await server.stop();
  });

  it('frozen: 503 (bounded by the command timeout), never a 200', async () => {
    server.freeze();
    try {
      expectUnavailable(await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token }));
      expectUnavailable(await readyz(gw));
      expect(checked(await gw.http('live').get('/healthz')).status).toBe(200);
      expectUnavailable(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${data.sessionToken}`)));
    } finally {
      server.thaw();
    }
  });

  it('thawed: recovers, with its data intact (the sign-out attempted while frozen did not happen)', async () => {
    await awaitReady(gw);
    const res = await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.token });
    expect(res.status).toBe(200);
    expect(res.body.isAuthenticated).toBe(true);
  });
});
