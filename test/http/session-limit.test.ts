/**
 * Bounded state (SPEC §7): at most MAX_SESSIONS_PER_USER active sessions per
 * user of a site, a sign-in past it ending the oldest; every store key of a
 * session expires no later than the session. Many sign-ins for one user,
 * then the whole keyspace is read: on a redis-server of this file's own, or,
 * under TEST_STORE=cluster, every node of the test cluster (keys of this
 * gateway's prefix).
 */
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { scanKeys } from '../support/redis-dump';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';

const MAX = 5;
const SIGN_INS = 40;
const DAY_MS = 24 * 3600 * 1000;
const cluster = process.env.TEST_STORE === 'cluster' ? testRedisClusterNodes() : undefined;

let server: RedisServerHandle | undefined;
let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

beforeAll(async () => {
  if (!cluster) server = await startRedisServer();
  gw = await startGateway({ maxSessionsPerUser: MAX, ...(server ? { redisUrl: server.url } : { store: 'cluster' }) });
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await server?.stop();
});

/** Every key (of this gateway's prefix, on the cluster) with its type, size and TTL. */
const keyspace = () =>
  scanKeys(cluster ? cluster.map((n) => `redis://${n.host}:${n.port}`) : [(server as RedisServerHandle).url], cluster ? `${gw.prefix}:*` : '*');

const signIn = async (userId: string, n: number): Promise<string> => {
  const token = await new SignJWT({ sub: userId, jti: `${userId}-${n}` })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(Math.floor(gw.clock.now() / 1000))
    .setExpirationTime(Math.floor(gw.clock.now() / 1000) + 600)
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
  const res = checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: token }));
  expect(res.status).toBe(201);
  return res.body.sessionToken as string;
};

const isSignedIn = async (sessionToken: string): Promise<boolean> =>
  (await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`)).body.isAuthenticated as boolean;

it(`${SIGN_INS} sign-ins for one user leave its ${MAX} newest sessions, and a store that does not grow with them`, async () => {
  const tokens: string[] = [];
  for (let i = 0; i < SIGN_INS; i++) {
    tokens.push(await signIn('busy', i));
    // Apart in time, so "oldest" is well defined.
    gw.clock.advance(1000);
  }
  const sessions = await admin.call('get', `/sites/${site.siteId}/users/busy/sessions`);
  expect(sessions.body.sessions).toHaveLength(MAX);
  for (const [i, token] of tokens.entries()) expect([i, await isSignedIn(token)]).toEqual([i, i >= SIGN_INS - MAX]);

  const keys = await keyspace();
  const sessionKeys = keys.filter((k) => /:session:/.test(k.key));
  const pointers = keys.filter((k) => /:live:st:/.test(k.key));
  const index = keys.filter((k) => k.key.endsWith(':user-sessions:busy'));
  expect(sessionKeys).toHaveLength(MAX);
  expect(pointers).toHaveLength(MAX);
  expect(index).toHaveLength(1);
  expect(index[0]?.size).toBe(MAX);

  // Every key of a session expires, no later than the session would (its idle timeout, 24 h, comes first).
  for (const k of [...sessionKeys, ...pointers, ...index]) {
    expect([k.key, k.pttl > 0 && k.pttl <= DAY_MS]).toEqual([k.key, true]);
  }
  // The uses of the identity tokens expire with the tokens (10 min + 30 s).
  const uses = keys.filter((k) => k.key.includes(':identity-token-used:'));
  expect(uses).toHaveLength(SIGN_INS);
  for (const k of uses) expect(k.pttl > 0 && k.pttl <= 630_000).toBe(true);
  // What stays without expiry is the site's, the user's, the keyring and the list of audited sites: none of it
  // per sign-in (each sign-in's events go to the site's event log, which expires with EVENT_RETENTION_HOURS).
  const persistent = keys.filter((k) => k.pttl === -1).map((k) => k.key.replace(/^[^:]+:(live|sandbox):/, '$1:').replace(/\{site_[^}]+\}/, '{site}'));
  expect(persistent.filter((k) => !/:(\{site\}:(site|apikeys|apikey:.*|user:busy|user-index)|sites|pk:.*|apikey:.*|signing-keys|audit-sites)$/.test(k))).toEqual([]);

  // Another round of sign-ins changes nothing of that but the expiring uses.
  for (let i = SIGN_INS; i < 2 * SIGN_INS; i++) await signIn('busy', i);
  const after = await keyspace();
  expect(after.filter((k) => !k.key.includes(':identity-token-used:')).length).toBe(keys.filter((k) => !k.key.includes(':identity-token-used:')).length);
});
