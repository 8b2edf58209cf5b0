/**
 * DELETE /admin/v1/{environment}/sites/{siteId} (SPEC §10): the site and
 * everything in it, its keys and sessions refused on every instance within
 * 1 s; other sites untouched; nothing of it left in the store.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { dumpRedis } from '../support/redis-dump';
import { startRedisServer } from '../support/redis-server';
import { uniquePrefix } from '../support/redis';

let a: TestGateway;
let b: TestGateway;
let adminA: ReturnType<typeof adminClient>;

beforeAll(async () => {
  const prefix = uniquePrefix();
  const masterKey = randomBytes(32);
  a = await startGateway({ prefix, masterKey });
  b = await startGateway({ prefix, masterKey });
  adminA = adminClient(a, 'live');
});
afterAll(async () => {
  await a.close();
  await b.close();
});

async function populated(name: string): Promise<Provisioned & { sessionToken: string; token: string }> {
  const site = await adminA.provisionSite({ name });
  await adminA.putUser(site.siteId, 'ada', { email: 'ada@example.com', productAccess: [{ productId: 'reports' }] });
  await adminA.putUser(site.siteId, 'bob', {});
  const sessionToken = await adminA.createSession(site.siteId, 'ada');
  await adminA.createSession(site.siteId, 'bob');
  const token = await verificationTokenFor(a, 'live', sessionToken);
  return { ...site, sessionToken, token };
}

it('deletes the site: its API key and its sessions are refused on another instance within 1 s', async () => {
  const doomed = await populated('Doomed');
  const kept = await populated('Kept');
  // B has served both (its caches hold the key and the site).
  expect((await exchange(b, 'live', doomed.apiKey, { userVerificationToken: doomed.token })).body.isAuthenticated).toBe(true);

  const since = performance.now();
  const res = await adminA.call('delete', `/sites/${doomed.siteId}`);
  expect(res.status).toBe(204);
  const refused = await pollUntil(
    async () => (await exchange(b, 'live', doomed.apiKey, { userVerificationToken: doomed.token })).status,
    (status) => status === 401,
    { timeoutMs: 3000, intervalMs: 5, what: "the deleted site's key refused on B" },
  );
  const elapsed = performance.now() - since;
  expect(refused).toBe(401);
  expect(elapsed).toBeLessThan(1000);
  const again = await exchange(b, 'live', doomed.apiKey, { userVerificationToken: doomed.token });
  expect(again.body.code).toBe('invalid_api_key');

  // The session token mints nothing more; the browser endpoints do not know the site.
  const mint = checked(await b.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${doomed.sessionToken}`));
  expect(mint.status).toBe(401);
  const session = checked(await b.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${doomed.sessionToken}`));
  expect(session.body.isAuthenticated).toBe(false);

  // The admin API: gone.
  expect((await adminA.call('get', `/sites/${doomed.siteId}`)).body.code).toBe('site_not_found');
  expect((await adminA.call('delete', `/sites/${doomed.siteId}`)).body.code).toBe('site_not_found');
  expect((await adminA.call('get', '/sites')).body.sites.map((s: { siteId: string }) => s.siteId)).not.toContain(doomed.siteId);

  // The other site works on.
  expect((await exchange(b, 'live', kept.apiKey, { userVerificationToken: kept.token })).body.isAuthenticated).toBe(true);
});

it('refuses sign-ins with the deleted site’s publishable key', async () => {
  const doomed = await populated('Sign-in');
  await adminA.call('delete', `/sites/${doomed.siteId}`);
  const now = Math.floor(a.clock.now() / 1000);
  const identityToken = await new SignJWT({ sub: 'new', iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(createSecretKey(Buffer.from(doomed.identitySecret, 'utf8')));
  const res = checked(await b.http('live').post('/live_api/v1/sessions').send({ publishableKey: doomed.publishableKey, identityToken }));
  expect([res.status, res.body.code]).toEqual([401, 'invalid_publishable_key']);
});

it('leaves nothing of the site in the store (one Redis)', async () => {
  // A Redis of its own, so the dump holds only what this gateway wrote.
  const server = await startRedisServer();
  const own = await startGateway({ redisUrl: server.url });
  try {
    const admin = adminClient(own, 'live');
    const site = await admin.provisionSite({ name: 'Gone' });
    const other = await admin.provisionSite({ name: 'Stays' });
    await admin.putUser(site.siteId, 'ada', { email: 'ada@example.com' });
    await admin.createSession(site.siteId, 'ada');
    await admin.putUser(other.siteId, 'zed', {});
    await admin.call('post', `/sites/${site.siteId}/api-keys/${site.keyId}/roll`, { expiresInSeconds: 60 });
    const before = await dumpRedis(server.url);
    const mentions = (keys: typeof before, text: string) => keys.filter((k) => k.key.includes(text) || k.values.some((v) => v.includes(text)));
    expect(mentions(before, site.siteId).length).toBeGreaterThan(5);

    expect((await admin.call('delete', `/sites/${site.siteId}`)).status).toBe(204);
    const all = await dumpRedis(server.url);
    // The site's event log stays, so its last events (site.deleted, session.ended) can still be
    // delivered; it expires with the retention (EVENT_RETENTION_HOURS, 72 h here).
    // So does its audit log (and its entry in the list of audited sites), for the audit trail of the deletion.
    const kept = [`${own.prefix}:live:{${site.siteId}}:events`, `${own.prefix}:live:{${site.siteId}}:audit`];
    for (const key of kept) {
      const log = all.find((k) => k.key === key);
      expect([key, log?.type]).toEqual([key, 'stream']);
      expect(log?.ttlMs).toBeGreaterThan(0);
      expect(log?.ttlMs).toBeLessThanOrEqual(72 * 3600 * 1000);
      expect(log?.values.some((v) => v.includes('"site.deleted"'))).toBe(true);
    }
    const auditSites = `${own.prefix}:live:audit-sites`;
    const after = all.filter((k) => !kept.includes(k.key) && k.key !== auditSites);
    expect(mentions(after, site.siteId).map((k) => k.key)).toEqual([]);
    expect(mentions(after, site.publishableKey)).toEqual([]);
    expect(mentions(after, other.siteId).length).toBeGreaterThan(0);
    expect((await admin.call('get', `/sites/${other.siteId}/users/zed`)).status).toBe(200);
  } finally {
    await own.close();
    await server.stop();
  }
});
