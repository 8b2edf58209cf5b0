import { createSecretKey } from 'node:crypto';
import Redis from 'ioredis';
import { SignJWT } from 'jose';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { testRedisUrl } from '../support/redis';
import { AclRefusedError, clientAddr, expectAclExcused, GatewayAclUsers } from '../support/redis-acl';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { generateCredential } from '../../src/domain/credentials';
import type { Environment } from '../../src/domain/environments';

/**
 * Isolation proof (SPEC §1): every test gateway (test/support/gateway.ts)
 * connects each environment's store as its own Redis ACL user, allowed only
 * `~<prefix>:<env>:*`, `&<prefix>:<env>:*` and REDIS_COMMANDS_USED — the
 * README's ACL line. This file shows that the restriction is real, and that
 * the gateway needs nothing beyond it: after a full run of the product,
 * Redis's ACL LOG holds no refusal for either user.
 *
 * It runs on a private redis-server, so its ACL LOG is its own.
 */

jest.setTimeout(30_000);

let server: RedisServerHandle;
let gw: TestGateway;
let root: Redis;

const FAILED_KEY_LIMIT = 3;

beforeAll(async () => {
  server = await startRedisServer();
  root = new Redis(server.url, { maxRetriesPerRequest: 1 });
  gw = await startGateway({
    redisUrl: server.url,
    rateLimits: {
      failedApiKeyPerIp: { points: FAILED_KEY_LIMIT, durationSeconds: 60 },
      signInFailuresPerSite: { points: 2, durationSeconds: 60 },
      sessionPerIp: { points: 1_000, durationSeconds: 60 },
    },
  });
});

afterAll(async () => {
  await gw?.close();
  root?.disconnect();
  await server?.stop();
});

const acl = () => {
  if (!gw.acl) throw new Error('the gateway runs without ACL users');
  return gw.acl;
};

/** CLIENT LIST, as `addr -> user`. */
async function clientUsers(client: Redis): Promise<{ addr: string; user: string }[]> {
  const list = (await client.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ addr: clientAddr(line) ?? '', user: /(?:^| )user=(\S+)/.exec(line)?.[1] ?? '' }));
}

async function identityToken(site: Provisioned, sub: string): Promise<string> {
  return new SignJWT({ email: `${sub}@example.com` })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(Math.floor(gw.clock.now() / 1000))
    .setExpirationTime(Math.floor(gw.clock.now() / 1000) + 300)
    .sign(createSecretKey(Buffer.from(site.identitySecret)));
}

/** Every feature that touches the store, in one environment. */
async function exerciseEverything(env: Environment): Promise<void> {
  const admin = adminClient(gw, env);
  const site = await admin.provisionSite({ name: `ACL ${env}` });
  await admin.putUser(site.siteId, 'u1', { productAccess: [{ productId: 'pro', expiresAt: null }] });

  // Sign-in (identity token), session, verification token, exchange.
  const signIn = checked(
    await gw.http(env).post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: await identityToken(site, 'u1') }),
  );
  expect(signIn.status).toBe(201);
  const sessionToken = signIn.body.sessionToken as string;
  const token = await verificationTokenFor(gw, env, sessionToken);
  const ok = await exchange(gw, env, site.apiKey, { userVerificationToken: token, productId: 'pro' });
  expect(ok.body).toMatchObject({ isAuthenticated: true, hasProductAccess: true });
  expect(checked(await gw.http(env).get('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`)).body.isAuthenticated).toBe(true);
  expect(checked(await gw.http(env).get('/.well-known/jwks.json')).status).toBe(200);
  expect(checked(await gw.http(env).get('/readyz')).status).toBe(200);

  // Admin reads and writes: lists (SMEMBERS), reveal, rotations, roll, revoke.
  expect((await admin.call('get', '/sites')).status).toBe(200);
  expect((await admin.call('get', `/sites/${site.siteId}/api-keys`)).status).toBe(200);
  expect((await admin.call('get', `/sites/${site.siteId}/users/u1/sessions`)).status).toBe(200);
  expect((await admin.call('get', `/sites/${site.siteId}/security`)).status).toBe(200);
  expect((await admin.call('post', `/sites/${site.siteId}/security/rotate-identity-secret`, { graceSeconds: 60 })).status).toBe(200);
  expect((await admin.call('post', '/signing-keys/rotate')).status).toBe(200);
  const rolled = await admin.call('post', `/sites/${site.siteId}/api-keys/${site.keyId}/roll`, { expiresInSeconds: 60 });
  expect(rolled.status).toBe(201);
  expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${rolled.body.keyId}`)).status).toBe(204);

  // Sign-out, then the token is refused; ending all sessions; deleting the user.
  expect(checked(await gw.http(env).delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`)).status).toBe(204);
  expect((await exchange(gw, env, site.apiKey, { userVerificationToken: token })).body.reason).toBe('session_ended');
  await admin.createSession(site.siteId, 'u1');
  expect((await admin.call('delete', `/sites/${site.siteId}/users/u1/sessions`)).status).toBe(204);
  expect((await admin.call('delete', `/sites/${site.siteId}/users/u1`)).status).toBe(204);

  // The store-wide rate limiters are Lua scripts (EVALSHA, else EVAL), whose
  // inner commands Redis 7 checks against the user too: a refused script
  // would be a 503 here, not a count reaching 429.
  const statuses: number[] = [];
  for (let i = 0; i <= FAILED_KEY_LIMIT; i++) {
    statuses.push((await exchange(gw, env, generateCredential(env, 'sk'), { userVerificationToken: token })).status);
  }
  expect(statuses).toEqual([...Array(FAILED_KEY_LIMIT).fill(401), 429]);
  // Refused sign-ins per site (limit 2): two refusals, then 429; a valid token still signs in.
  const signIns: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = checked(
      await gw.http(env).post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: `${await identityToken(site, `s${i}`)}x` }),
    );
    signIns.push(res.status);
  }
  expect(signIns).toEqual([401, 401, 429]);
  const valid = checked(
    await gw.http(env).post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: await identityToken(site, 'valid') }),
  );
  expect(valid.status).toBe(201);
}

describe('each environment runs as its own restricted Redis user', () => {
  it('every connection of the gateway is authenticated as its environment’s user', async () => {
    const { live, sandbox } = acl().users;
    const users = (await clientUsers(root)).map((c) => c.user);
    // Commands connection and subscriber connection of each store.
    expect(users.filter((u) => u === live.username).length).toBeGreaterThanOrEqual(2);
    expect(users.filter((u) => u === sandbox.username).length).toBeGreaterThanOrEqual(2);
    // Nothing of the stores runs as the default user: only this test's root connection and
    // the connection that manages the gateway's ACL users (test/support/redis-acl.ts) do.
    expect(users.filter((u) => u === 'default')).toHaveLength(2);
  });

  it('the whole product works within the ACL: not one refusal in the ACL LOG', async () => {
    await exerciseEverything('live');
    await exerciseEverything('sandbox');
    expect(await acl().log()).toEqual([]);
  });

  describe.each(['live', 'sandbox'] as const)('the %s user', (env) => {
    const other = env === 'live' ? 'sandbox' : 'live';
    let probe: Redis;
    beforeAll(async () => {
      probe = await acl().connectAs(env);
    });

    it('may use its own keys (the control for every refusal below)', async () => {
      await expect(probe.get(`${gw.prefix}:${env}:x`)).resolves.toBeNull();
      await expect(probe.publish(`${gw.prefix}:${env}:invalidate`, '{}')).resolves.toEqual(expect.any(Number));
    });

    it.each([
      ['GET of the other environment’s key', (c: Redis) => c.get(`${gw.prefix}:${other}:x`)],
      ['GET of a key outside the prefix', (c: Redis) => c.get('x')],
      ['SET of the other environment’s key', (c: Redis) => c.set(`${gw.prefix}:${other}:x`, 'v')],
      ['PUBLISH to the other environment’s channel', (c: Redis) => c.publish(`${gw.prefix}:${other}:invalidate`, '{}')],
      ['KEYS *', (c: Redis) => c.call('KEYS', '*')],
      ['SCAN', (c: Redis) => c.call('SCAN', '0')],
      ['FLUSHALL', (c: Redis) => c.call('FLUSHALL')],
      ['FLUSHDB', (c: Redis) => c.call('FLUSHDB')],
      ['SELECT 1', (c: Redis) => c.call('SELECT', '1')],
      ['CONFIG GET *', (c: Redis) => c.call('CONFIG', 'GET', '*')],
      // What ioredis sends unless told not to (ready check, client info): the store never needs them.
      ['INFO', (c: Redis) => c.call('INFO')],
      ['CLIENT SETNAME', (c: Redis) => c.call('CLIENT', 'SETNAME', 'probe')],
      ['EVAL of a script reaching the other environment', (c: Redis) => c.call('EVAL', "return redis.call('get', KEYS[1])", '1', `${gw.prefix}:${other}:x`)],
      ['ACL SETUSER (granting itself more)', (c: Redis) => c.call('ACL', 'SETUSER', acl().users[env].username, '+@all')],
    ])('is refused %s (NOPERM)', async (_label, run) => {
      await expect(run(probe)).rejects.toThrow(/^NOPERM/);
    });

    it('is refused CLIENT SETINFO (NOPERM; Redis before 7.2 does not know it at all)', async () => {
      await expect(probe.call('CLIENT', 'SETINFO', 'LIB-NAME', 'probe')).rejects.toThrow(/^(NOPERM|ERR unknown subcommand)/);
    });

    it('is refused SUBSCRIBE to the other environment’s channel (NOPERM)', async () => {
      const subscriber = await acl().connectAs(env);
      await expect(subscriber.subscribe(`${gw.prefix}:${other}:invalidate`)).rejects.toThrow(/^NOPERM/);
      await expect(subscriber.psubscribe(`${gw.prefix}:*`)).rejects.toThrow(/^NOPERM/);
    });
  });

  it('Redis logged every probe refusal, so a refusal of the gateway itself could not go unseen', async () => {
    const log = await acl().log();
    const objects = new Set(log.map((e) => e.object));
    for (const expected of ['keys', 'flushall', 'select', 'config|get', 'info', 'client|setname', `${gw.prefix}:sandbox:x`, `${gw.prefix}:live:x`]) {
      expect(objects).toContain(expected);
    }
    expect(log.some((e) => e.reason === 'channel')).toBe(true);
    // …and none of them came from the gateway's own connections.
    expect(await acl().denials()).toEqual([]);
  });
});

describe('every gateway of this run runs as restricted ACL users', () => {
  /** The test Redis, or under TEST_STORE=cluster the test cluster (users on every node). */
  const target = (kind: 'redis' | 'cluster') =>
    kind === 'cluster' ? { clusterNodes: testRedisClusterNodes() ?? [] } : testRedisUrl();
  const kinds: ('redis' | 'cluster')[] = process.env.TEST_STORE === 'cluster' ? ['redis', 'cluster'] : ['redis'];

  it.each(kinds)('on the test store (%s): its stores’ connections are its environments’ users', async (kind) => {
    const other = await startGateway({ store: kind });
    try {
      if (other.acl === null) {
        // Only a Redis the user gave, refusing ACL SETUSER, outside CI (global-setup warned); anything else fails here.
        expectAclExcused(target(kind));
      } else {
        // Both stores answer (so are connected), then every connection is counted.
        for (const env of ['live', 'sandbox'] as const) await other.stores[env].ping();
        const users = await other.acl.connectedUsers();
        expect(users).toContain(other.acl.users.live.username);
        expect(users).toContain(other.acl.users.sandbox.username);
      }
    } finally {
      await other.close();
    }
  });

  it('on the Redis this run started, the proof cannot be dropped: a refusal there is an error, not a warning', async () => {
    // `default` may not create users on this private server: as a managed Redis would refuse.
    const locked = await startRedisServer();
    const rootOfLocked = new Redis(locked.url, { maxRetriesPerRequest: 1 });
    try {
      await rootOfLocked.call('ACL', 'SETUSER', 'default', '-acl');
      await expect(GatewayAclUsers.provision(locked.url, 'tlocked')).rejects.toThrow(AclRefusedError);
      await expect(GatewayAclUsers.provision(locked.url, 'tlocked')).rejects.toThrow(/the ACL isolation proof cannot run: .*refused ACL SETUSER/);
    } finally {
      rootOfLocked.disconnect();
      await locked.stop();
    }
  });
});
