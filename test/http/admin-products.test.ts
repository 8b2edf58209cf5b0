/**
 * Grant and revoke of one product (SPEC §10):
 * PUT/DELETE /admin/v1/{environment}/sites/{siteId}/users/{userId}/products/{productId},
 * each one atomic step of the store, so concurrent grants and sign-ins
 * never undo one another; an `expiresAt` in the past is 400.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

const product = (userId: string, productId: string) => `/sites/${site.siteId}/users/${encodeURIComponent(userId)}/products/${encodeURIComponent(productId)}`;
const grant = (userId: string, productId: string, body?: Record<string, unknown>) => admin.call('put', product(userId, productId), body);
const revoke = (userId: string, productId: string) => admin.call('delete', product(userId, productId));
const products = (res: { body: { productAccess: { productId: string; expiresAt: string | null }[] } }) => res.body.productAccess;
const iso = (ms: number) => new Date(ms).toISOString();

async function identityToken(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(gw.clock.now() / 1000);
  return new SignJWT({ jti: randomUUID(), ...claims, iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
}

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
});
afterAll(() => gw.close());

it('grants a product for good, then with an expiry that replaces the first grant', async () => {
  await admin.putUser(site.siteId, 'ada');
  const first = await grant('ada', 'reports');
  expect(first.status).toBe(200);
  expect(first.headers['cache-control']).toBe('no-store');
  expect(products(first)).toEqual([{ productId: 'reports', expiresAt: null }]);
  const until = iso(gw.clock.now() + 86_400_000);
  const second = await grant('ada', 'reports', { expiresAt: until });
  expect(products(second)).toEqual([{ productId: 'reports', expiresAt: until }]);
  const other = await grant('ada', 'analytics', { expiresAt: null });
  expect(products(other)).toEqual([
    { productId: 'reports', expiresAt: until },
    { productId: 'analytics', expiresAt: null },
  ]);
  const stored = await admin.call('get', `/sites/${site.siteId}/users/ada`);
  expect(products(stored)).toEqual(products(other));
});

it('refuses an expiresAt that is not in the future with 400 invalid_request, granting nothing', async () => {
  await admin.putUser(site.siteId, 'bea');
  for (const expiresAt of [iso(gw.clock.now() - 1000), iso(gw.clock.now()), 'tomorrow', '2026-13-01T00:00:00Z']) {
    const res = await grant('bea', 'reports', { expiresAt });
    expect([expiresAt, res.status, res.body.code]).toEqual([expiresAt, 400, 'invalid_request']);
  }
  const extra = await grant('bea', 'reports', { expiresAt: null, more: 1 });
  expect(extra.status).toBe(400);
  expect(products(await admin.call('get', `/sites/${site.siteId}/users/bea`))).toEqual([]);
});

it('revokes one product, leaving the others; revoking one the user does not have changes nothing', async () => {
  await admin.putUser(site.siteId, 'cy', { productAccess: [{ productId: 'a' }, { productId: 'b' }] });
  const res = await revoke('cy', 'a');
  expect(res.status).toBe(200);
  expect(products(res)).toEqual([{ productId: 'b', expiresAt: null }]);
  const again = await revoke('cy', 'a');
  expect([again.status, products(again)]).toEqual([200, [{ productId: 'b', expiresAt: null }]]);
});

it('404 user_not_found for an unknown user, site_not_found for an unknown site; 400 for a product id too long', async () => {
  const noUser = await grant('nobody', 'reports');
  expect([noUser.status, noUser.body.code]).toEqual([404, 'user_not_found']);
  expect((await revoke('nobody', 'reports')).body.code).toBe('user_not_found');
  const noSite = checked(await gw.http('admin').put('/admin/v1/live/sites/site_nope/users/ada/products/x').set({ Authorization: `Bearer ${gw.adminToken}` }).send({}));
  expect([noSite.status, noSite.body.code]).toEqual([404, 'site_not_found']);
  const long = await grant('ada', 'p'.repeat(257));
  expect([long.status, long.body.code]).toEqual([400, 'invalid_request']);
});

it('the exchange answers the grant and the revoke at once', async () => {
  await admin.putUser(site.siteId, 'dee');
  const sessionToken = await admin.createSession(site.siteId, 'dee');
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  const has = async () => (await exchange(gw, 'live', site.apiKey, { userVerificationToken: token, productId: 'pro' })).body.hasProductAccess;
  expect(await has()).toBe(false);
  await grant('dee', 'pro');
  expect(await has()).toBe(true);
  await revoke('dee', 'pro');
  expect(await has()).toBe(false);
});

it('many grants, revokes and sign-ins of one user at the same moment: every grant lands, nothing is undone', async () => {
  await admin.putUser(site.siteId, 'eve', { productAccess: [{ productId: 'keep' }, { productId: 'drop' }] });
  const grants = Array.from({ length: 40 }, (_, i) => grant('eve', `p${i}`));
  const signIns = Array.from({ length: 15 }, async (_, i) =>
    checked(
      await gw
        .http('live')
        .post('/live_api/v1/sessions')
        .send({ publishableKey: site.publishableKey, identityToken: await identityToken({ sub: 'eve', name: `Eve ${i}`, round: i }) }),
    ),
  );
  const results = await Promise.all([...grants, ...signIns, revoke('eve', 'drop')]);
  for (const res of results) expect([200, 201]).toContain(res.status);
  const stored = await admin.call('get', `/sites/${site.siteId}/users/eve`);
  expect(products(stored).map((p) => p.productId).sort()).toEqual(['keep', ...Array.from({ length: 40 }, (_, i) => `p${i}`)].sort());
  expect(stored.body.name).toMatch(/^Eve \d+$/);
});
