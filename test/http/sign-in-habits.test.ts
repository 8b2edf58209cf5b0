import { randomBytes } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { FrozenClock } from '../../src/domain/clock';
import { adminClient, checked, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { uniquePrefix } from '../support/redis';

/**
 * SPEC §14's server-side habits of widget vendors, end to end on two
 * gateway instances sharing one Redis (or the cluster, TEST_STORE=cluster):
 * an identity token with only an email signs in the site's existing user
 * with that email (TypingMind), and a site's `maxUsers` caps the users
 * sign-ins and admin PUTs may create (TypingMind's seats), counted in the
 * same atomic step as each create.
 */
let a: TestGateway;
let b: TestGateway;
let adminA: ReturnType<typeof adminClient>;
let adminB: ReturnType<typeof adminClient>;

beforeAll(async () => {
  const shared = { prefix: uniquePrefix(), masterKey: randomBytes(32), clock: new FrozenClock(Date.now()) };
  a = await startGateway(shared);
  b = await startGateway(shared);
  adminA = adminClient(a, 'live');
  adminB = adminClient(b, 'live');
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const nowSeconds = () => Math.floor(a.clock.now() / 1000);

/** An identity token as the customer's backend signs it. */
function identityToken(site: Provisioned, claims: JWTPayload): Promise<string> {
  return new SignJWT({ ...claims, iat: nowSeconds(), exp: nowSeconds() + 600 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
}

async function signIn(site: Provisioned, claims: JWTPayload, gw: TestGateway = a) {
  const token = await identityToken(site, claims);
  return checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: token }));
}

function expectRefused(res: { status: number; body: Record<string, unknown> }, reason: string): void {
  expect([res.status, res.body.code, res.body.reason]).toEqual([401, 'invalid_identity_token', reason]);
}

/** Every user id of the site (the admin search, all pages). */
async function userIds(site: Provisioned): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await adminA.call('get', `/sites/${site.siteId}/users?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(page.status).toBe(200);
    ids.push(...(page.body.users as { userId: string }[]).map((u) => u.userId));
    cursor = page.body.nextCursor as string | null;
  } while (cursor);
  return ids.sort();
}

describe('sign-in of an existing user by email (a token with email and no user id)', () => {
  let site: Provisioned;
  beforeAll(async () => {
    site = await adminA.provisionSite({ name: 'By email' });
    await adminA.putUser(site.siteId, 'cust-1', { email: 'Jane.Doe@Example.com', productAccess: [{ productId: 'pro' }] });
  });

  it('signs in the user with that email, case-insensitively, updating name and attributes; the exchange names that user', async () => {
    const res = await signIn(site, { email: 'jane.doe@example.COM', name: 'Jane', plan: 'team' });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ userId: 'cust-1', name: 'Jane', attributes: { plan: 'team' } });
    expect(res.body.user.productAccess).toEqual([{ productId: 'pro', expiresAt: null }]);
    const vt = checked(await a.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${res.body.sessionToken}`));
    const verified = await exchange(b, 'live', site.apiKey, { userVerificationToken: vt.body.userVerificationToken, productId: 'pro' });
    expect(verified.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'cust-1' }, hasProductAccess: true });
    expect(await userIds(site)).toEqual(['cust-1']);
  });

  it('reads the email from user.email too (the nested vendor shape)', async () => {
    const res = await signIn(site, { user: { email: 'JANE.DOE@example.com' } }, b);
    expect([res.status, res.body.user.userId]).toEqual([201, 'cust-1']);
  });

  it('unknown_user when no user has that email, and creates none', async () => {
    expectRefused(await signIn(site, { email: 'stranger@example.com' }), 'unknown_user');
    expectRefused(await signIn(site, { email: 'jane.doe@example.co' }), 'unknown_user');
    expect(await userIds(site)).toEqual(['cust-1']);
  });

  it('unknown_user when more than one user has that email (in any case)', async () => {
    const shared = await adminA.provisionSite({ name: 'Shared email' });
    await adminA.putUser(shared.siteId, 'first', { email: 'team@example.com' });
    expect((await signIn(shared, { email: 'Team@example.com' })).body.user.userId).toBe('first');
    await adminB.putUser(shared.siteId, 'second', { email: 'TEAM@EXAMPLE.COM' });
    expectRefused(await signIn(shared, { email: 'team@example.com' }), 'unknown_user');
    // Once one of them has another email, the other is the only one again.
    await adminA.putUser(shared.siteId, 'first', { email: 'first@example.com' });
    expect((await signIn(shared, { email: 'team@example.com' }, b)).body.user.userId).toBe('second');
  });

  it('a token with an id and an email uses the id, whoever has that email', async () => {
    const res = await signIn(site, { sub: 'cust-2', email: 'jane.doe@example.com' });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ userId: 'cust-2', email: 'jane.doe@example.com' });
    const jane = await adminA.call('get', `/sites/${site.siteId}/users/cust-1`);
    expect(jane.body.name).toBe('Jane');
    // Now two users have that email: an email-only token is ambiguous.
    expectRefused(await signIn(site, { email: 'jane.doe@example.com' }), 'unknown_user');
    await adminA.call('delete', `/sites/${site.siteId}/users/cust-2`);
    expect((await signIn(site, { email: 'jane.doe@example.com' })).body.user.userId).toBe('cust-1');
  });

  it('follows a change of email and a deletion made on the other instance', async () => {
    const moved = await adminA.provisionSite({ name: 'Moves' });
    await adminB.putUser(moved.siteId, 'mover', { email: 'old@example.com' });
    expect((await signIn(moved, { email: 'old@example.com' })).status).toBe(201);
    await adminB.putUser(moved.siteId, 'mover', { email: 'new@example.com' });
    expectRefused(await signIn(moved, { email: 'old@example.com' }), 'unknown_user');
    expect((await signIn(moved, { email: 'NEW@example.com' })).body.user.userId).toBe('mover');
    expect((await adminB.call('delete', `/sites/${moved.siteId}/users/mover`)).status).toBe(204);
    expectRefused(await signIn(moved, { email: 'new@example.com' }), 'unknown_user');
    expect(await userIds(moved)).toEqual([]);
  });
});

describe('seats: a site’s maxUsers', () => {
  it('is null (no limit) by default, set on create and by PATCH, cleared with null; bad values are 400', async () => {
    const plain = await adminA.call('post', '/sites', { name: 'Plain' });
    expect(plain.body.maxUsers).toBeNull();
    const capped = await adminA.call('post', '/sites', { name: 'Capped', maxUsers: 3 });
    expect([capped.status, capped.body.maxUsers]).toEqual([201, 3]);
    const path = `/sites/${capped.body.siteId}`;
    expect((await adminA.call('patch', path, { maxUsers: 0 })).body.maxUsers).toBe(0);
    expect((await adminA.call('patch', path, { maxUsers: null })).body.maxUsers).toBeNull();
    for (const maxUsers of [-1, 1.5, '3', 1_000_000_001]) {
      const res = await adminA.call('patch', path, { maxUsers });
      expect([res.status, res.body.code]).toEqual([400, 'invalid_request']);
      expect((await adminA.call('post', '/sites', { name: 'Bad', maxUsers })).status).toBe(400);
    }
    expect((await adminA.call('get', path)).body.maxUsers).toBeNull();
  });

  it('a sign-in past it is seat_limit_reached; existing users keep signing in; a deletion or a raise frees a seat', async () => {
    const site = await adminA.provisionSite({ name: 'Two seats', maxUsers: 2 });
    expect((await signIn(site, { sub: 'one' })).status).toBe(201);
    expect((await signIn(site, { sub: 'two' }, b)).status).toBe(201);
    expectRefused(await signIn(site, { sub: 'three' }), 'seat_limit_reached');
    expectRefused(await signIn(site, { sub: 'three' }, b), 'seat_limit_reached');
    expect((await signIn(site, { sub: 'one', name: 'Still here' })).status).toBe(201);
    expect(await userIds(site)).toEqual(['one', 'two']);

    await adminA.call('delete', `/sites/${site.siteId}/users/two`);
    expect((await signIn(site, { sub: 'three' }, b)).status).toBe(201);
    expectRefused(await signIn(site, { sub: 'four' }), 'seat_limit_reached');
    await adminB.call('patch', `/sites/${site.siteId}`, { maxUsers: 3 });
    expect((await signIn(site, { sub: 'four' }, b)).status).toBe(201);
    // Lowered below the users it has: nobody is removed, nobody new gets in, everyone signs in.
    await adminB.call('patch', `/sites/${site.siteId}`, { maxUsers: 1 });
    expectRefused(await signIn(site, { sub: 'five' }, b), 'seat_limit_reached');
    for (const sub of ['one', 'three', 'four']) expect((await signIn(site, { sub }, b)).status).toBe(201);
    await adminA.call('patch', `/sites/${site.siteId}`, { maxUsers: null });
    expect((await signIn(site, { sub: 'five' })).status).toBe(201);
  });

  it('an admin PUT of a new user past it is 409 seat_limit_reached; an existing user is still updated', async () => {
    const site = await adminA.provisionSite({ name: 'One seat', maxUsers: 1 });
    expect((await adminA.call('put', `/sites/${site.siteId}/users/only`, { name: 'Only' })).status).toBe(201);
    const refused = await adminB.call('put', `/sites/${site.siteId}/users/extra`, { name: 'Extra' });
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'seat_limit_reached', status: 409 });
    expect((await adminA.call('get', `/sites/${site.siteId}/users/extra`)).status).toBe(404);
    expect((await adminB.call('put', `/sites/${site.siteId}/users/only`, { name: 'Renamed' })).status).toBe(200);
    expect(await userIds(site)).toEqual(['only']);
  });

  it('an email sign-in never takes a seat (it creates no one), even on a full site', async () => {
    const site = await adminA.provisionSite({ name: 'Full', maxUsers: 1 });
    await adminA.putUser(site.siteId, 'member', { email: 'member@example.com' });
    expect((await signIn(site, { email: 'Member@example.com' })).body.user.userId).toBe('member');
    expectRefused(await signIn(site, { email: 'other@example.com' }), 'unknown_user');
  });

  it('many simultaneous sign-ins of distinct new users for the last seat, on two instances: exactly one is created', async () => {
    const site = await adminA.provisionSite({ name: 'Last seat', maxUsers: 5 });
    for (let i = 0; i < 4; i++) await adminA.putUser(site.siteId, `seated-${i}`);
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => identityToken(site, { sub: `racer-${i}` })));
    const responses = await Promise.all(
      tokens.map(async (identityToken, i) =>
        checked(await (i % 2 ? a : b).http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken })),
      ),
    );
    const created = responses.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    for (const r of responses.filter((x) => x.status !== 201)) expectRefused(r, 'seat_limit_reached');
    const ids = await userIds(site);
    expect(ids).toHaveLength(5);
    expect(ids).toContain(created[0]?.body.user.userId);
  });

  it('simultaneous admin PUTs and sign-ins of new users for the last two seats: exactly two are created', async () => {
    const site = await adminA.provisionSite({ name: 'Mixed race', maxUsers: 3 });
    await adminA.putUser(site.siteId, 'seated');
    const puts = Array.from({ length: 15 }, (_, i) => (i % 2 ? adminA : adminB).call('put', `/sites/${site.siteId}/users/put-${i}`, {}));
    const signIns = Array.from({ length: 15 }, (_, i) => signIn(site, { sub: `signin-${i}` }, i % 2 ? a : b));
    const [putResults, signInResults] = await Promise.all([Promise.all(puts), Promise.all(signIns)]);
    const made = [...putResults, ...signInResults].filter((r) => r.status === 201);
    expect(made).toHaveLength(2);
    for (const r of putResults.filter((x) => x.status !== 201)) expect([r.status, r.body.code]).toEqual([409, 'seat_limit_reached']);
    for (const r of signInResults.filter((x) => x.status !== 201)) expectRefused(r, 'seat_limit_reached');
    expect(await userIds(site)).toHaveLength(3);
  });
});
