import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { adminClient, checked, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { generateCredential, parseCredential } from '../../src/domain/credentials';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
const ORIGIN = 'https://shop.example';

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite({ allowedOrigins: [ORIGIN] });
});
afterAll(() => gw.close());

const nowSeconds = () => Math.floor(gw.clock.now() / 1000);

/** Signs an identity token as a customer backend would (HS256 with the identity secret string). */
async function identityToken(
  claims: JWTPayload,
  options: { secret?: string; alg?: string; iat?: number | null; exp?: number | null } = {},
): Promise<string> {
  const iat = options.iat === undefined ? nowSeconds() : options.iat;
  const exp = options.exp === undefined ? nowSeconds() + 600 : options.exp;
  const jwt = new SignJWT({ ...claims, ...(iat !== null && { iat }), ...(exp !== null && { exp }) }).setProtectedHeader({
    alg: options.alg ?? 'HS256',
  });
  return jwt.sign(createSecretKey(Buffer.from(options.secret ?? site.identitySecret, 'utf8')));
}

function signIn(token: string, opts: { publishableKey?: string; origin?: string; env?: 'live' | 'sandbox' } = {}) {
  let req = gw.http(opts.env ?? 'live').post('/live_api/v1/sessions');
  if (opts.origin) req = req.set('Origin', opts.origin);
  return req.send({ publishableKey: opts.publishableKey ?? site.publishableKey, identityToken: token }).then(checked);
}

async function refusedWith(token: string, reason: string): Promise<void> {
  const res = await signIn(token);
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('invalid_identity_token');
  expect(res.body.reason).toBe(reason);
}

describe('POST /live_api/v1/sessions — sign-in with a customer-signed identity token', () => {
  it('creates the user on first sight and answers a session token (no-store)', async () => {
    const res = await signIn(await identityToken({ sub: 'u-1', email: 'u1@example.com', name: 'Uno', plan: 'pro' }));
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.sessionToken).toMatch(/^vg_live_st_[0-9A-Za-z]{38}$/);
    expect(res.body.user).toMatchObject({ userId: 'u-1', email: 'u1@example.com', name: 'Uno', attributes: { plan: 'pro' } });
  });

  it('updates email/name/attributes on later sign-ins, replacing attributes whole, never touching productAccess', async () => {
    await admin.putUser(site.siteId, 'u-2', { productAccess: [{ productId: 'reports' }], attributes: { old: true } });
    const res = await signIn(await identityToken({ sub: 'u-2', email: 'new@example.com', name: 'New', tier: 3 }));
    expect(res.status).toBe(201);
    expect(res.body.user.attributes).toEqual({ tier: 3 });
    const stored = await admin.call('get', `/sites/${site.siteId}/users/u-2`);
    expect(stored.body).toMatchObject({ email: 'new@example.com', name: 'New', productAccess: [{ productId: 'reports', expiresAt: null }] });
  });

  it.each([
    ['sub', { sub: 'shape-sub' }, 'shape-sub'],
    ['userId', { userId: 'shape-userId' }, 'shape-userId'],
    ['id', { id: 'shape-id' }, 'shape-id'],
    ['numeric id', { id: 12345 }, '12345'],
    ['user.id with user.email and user.name', { user: { id: 'shape-user', email: 'n@example.com', name: 'Nested' } }, 'shape-user'],
  ])('reads the user id from %s', async (_label, claims, userId) => {
    const res = await signIn(await identityToken(claims as JWTPayload));
    expect(res.status).toBe(201);
    expect(res.body.user.userId).toBe(userId);
    if ('user' in claims) expect(res.body.user).toMatchObject({ email: 'n@example.com', name: 'Nested' });
    expect(res.body.user.attributes).toEqual({});
  });

  it('accepts HS384 and HS512, aud verigate-identity, a matching siteKey, and no iat', async () => {
    for (const alg of ['HS384', 'HS512']) expect((await signIn(await identityToken({ sub: 'alg' }, { alg }))).status).toBe(201);
    expect((await signIn(await identityToken({ sub: 'aud', aud: 'verigate-identity' }))).status).toBe(201);
    expect((await signIn(await identityToken({ sub: 'sk', siteKey: site.publishableKey }))).status).toBe(201);
    expect((await signIn(await identityToken({ sub: 'noiat' }, { iat: null }))).status).toBe(201);
  });

  it('keeps the Unicode name Жанна Иванова through sign-in, exchange and admin read', async () => {
    const res = await signIn(await identityToken({ sub: 'zhanna', name: 'Жанна Иванова' }));
    expect(res.body.user.name).toBe('Жанна Иванова');
    const vt = checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${res.body.sessionToken}`));
    const ex = await exchange(gw, 'live', site.apiKey, { userVerificationToken: vt.body.userVerificationToken });
    expect(ex.body.userInfo.name).toBe('Жанна Иванова');
  });

  describe('every refusal has its reason', () => {
    it('expired', async () => refusedWith(await identityToken({ sub: 'x' }, { iat: nowSeconds() - 700, exp: nowSeconds() - 31 }), 'expired'));
    it('accepts an exp within the 30 s tolerance', async () => {
      expect((await signIn(await identityToken({ sub: 'tol' }, { iat: nowSeconds() - 100, exp: nowSeconds() - 20 }))).status).toBe(201);
    });
    it('not_yet_valid (nbf in the future)', async () => refusedWith(await identityToken({ sub: 'x', nbf: nowSeconds() + 120 }), 'not_yet_valid'));
    it('not_yet_valid (iat in the future)', async () => refusedWith(await identityToken({ sub: 'x' }, { iat: nowSeconds() + 120, exp: nowSeconds() + 600 }), 'not_yet_valid'));
    it('lifetime_too_long (exp - iat over the site policy)', async () => refusedWith(await identityToken({ sub: 'x' }, { exp: nowSeconds() + 3601 }), 'lifetime_too_long'));
    it('lifetime_too_long (no iat: exp - now over the policy)', async () => refusedWith(await identityToken({ sub: 'x' }, { iat: null, exp: nowSeconds() + 7200 }), 'lifetime_too_long'));
    it('malformed (no exp)', async () => refusedWith(await identityToken({ sub: 'x' }, { exp: null }), 'malformed'));
    it('malformed (exp as a string)', async () => {
      const token = await new SignJWT({ sub: 'x', exp: String(nowSeconds() + 60) } as unknown as JWTPayload).setProtectedHeader({ alg: 'HS256' }).sign(createSecretKey(Buffer.from(site.identitySecret)));
      await refusedWith(token, 'malformed');
    });
    it('bad_signature (another secret)', async () => refusedWith(await identityToken({ sub: 'x' }, { secret: 'vg_live_is_not-the-secret' }), 'bad_signature'));
    it('bad_signature (tampered payload)', async () => {
      const [h, , s] = (await identityToken({ sub: 'x' })).split('.');
      const p = Buffer.from(JSON.stringify({ sub: 'admin', exp: nowSeconds() + 60 })).toString('base64url');
      await refusedWith(`${h}.${p}.${s}`, 'bad_signature');
    });
    it('wrong_audience', async () => refusedWith(await identityToken({ sub: 'x', aud: 'someone-else' }), 'wrong_audience'));
    it('site_key_mismatch', async () => {
      const other = await admin.provisionSite({ name: 'Other' });
      await refusedWith(await identityToken({ sub: 'x', siteKey: other.publishableKey }), 'site_key_mismatch');
    });
    it('missing_user_id (neither a user id nor an email)', async () => {
      await refusedWith(await identityToken({ name: 'Nobody' }), 'missing_user_id');
      await refusedWith(await identityToken({ email: '' }), 'missing_user_id');
    });
    it('unsupported_algorithm (none, in any casing)', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
        const payload = Buffer.from(JSON.stringify({ sub: 'x', exp: nowSeconds() + 60 })).toString('base64url');
        await refusedWith(`${header}.${payload}.`, 'unsupported_algorithm');
      }
    });
    it('unsupported_algorithm (RS256 / ES256)', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256' }).setIssuedAt(nowSeconds()).setExpirationTime(nowSeconds() + 60).sign(privateKey);
      await refusedWith(token, 'unsupported_algorithm');
    });
    it('malformed (not a JWT)', async () => {
      await refusedWith('not-a-jwt', 'malformed');
      await refusedWith('a.b.c', 'malformed');
    });
    it('malformed (an email with U+0000 in it, with or without an id)', async () => {
      await refusedWith(await identityToken({ sub: 'x', email: 'a\u0000b@example.com' }), 'malformed');
      await refusedWith(await identityToken({ email: 'a\u0000b@example.com' }), 'malformed');
    });
    it('malformed (a nested claim cannot be an attribute)', async () => refusedWith(await identityToken({ sub: 'x', prefs: { a: 1 } }), 'malformed'));
    it('attributes_too_large', async () => refusedWith(await identityToken({ sub: 'x', blob: 'y'.repeat(5000) }), 'attributes_too_large'));
  });

  describe('request and key problems', () => {
    it('400 invalid_request without identityToken', async () => {
      const res = checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey }));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
    });
    it('401 invalid_publishable_key: malformed, or a secret key (refused without a lookup)', async () => {
      for (const key of ['vg_live_pk_nope', `${site.publishableKey.slice(0, -1)}${site.publishableKey.endsWith('a') ? 'b' : 'a'}`, site.apiKey]) {
        const res = await signIn(await identityToken({ sub: 'x' }), { publishableKey: key });
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('invalid_publishable_key');
        expect(res.body.detail).not.toBe('Unknown publishable key');
      }
    });
    it('401 invalid_publishable_key: well-formed (valid checksum) but unknown, refused by the store lookup; nothing is created', async () => {
      const unknown = generateCredential('live', 'pk');
      expect(parseCredential(unknown, 'pk')).toEqual({ ok: true, environment: 'live', kind: 'pk' });
      const res = await signIn(await identityToken({ sub: 'unknown-key-user' }), { publishableKey: unknown });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_publishable_key');
      expect(res.body.detail).toBe('Unknown publishable key');
      expect((await admin.call('get', `/sites/${site.siteId}/users/unknown-key-user`)).status).toBe(404);
    });
    it('401 publishable_key_wrong_environment: a live key on sandbox', async () => {
      const res = await signIn(await identityToken({ sub: 'x' }), { env: 'sandbox' });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('publishable_key_wrong_environment');
    });
  });

  describe('identity secret rotation', () => {
    it('without grace, tokens signed with the old secret fail at once; the new one works', async () => {
      const s = await admin.provisionSite({ name: 'Rotating' });
      const rotated = await admin.call('post', `/sites/${s.siteId}/security/rotate-identity-secret`, {});
      expect(rotated.status).toBe(200);
      expect(rotated.body.identitySecret).toMatch(/^vg_live_is_[0-9A-Za-z]{43}$/);
      expect(rotated.body.previousSecretValidUntil).toBeNull();
      const old = await signIn(await identityToken({ sub: 'r' }, { secret: s.identitySecret }), { publishableKey: s.publishableKey });
      expect(old.body.reason).toBe('bad_signature');
      const fresh = await signIn(await identityToken({ sub: 'r' }, { secret: rotated.body.identitySecret }), { publishableKey: s.publishableKey });
      expect(fresh.status).toBe(201);
      const revealed = await admin.call('get', `/sites/${s.siteId}/security`);
      expect(revealed.body.identitySecret).toBe(rotated.body.identitySecret);
    });

    it('with grace, both secrets work until it runs out, then only the new one', async () => {
      const s = await admin.provisionSite({ name: 'Graceful' });
      const rotated = await admin.call('post', `/sites/${s.siteId}/security/rotate-identity-secret`, { graceSeconds: 300 });
      expect(rotated.body.previousSecretValidUntil).not.toBeNull();
      const withOld = () => identityToken({ sub: 'g' }, { secret: s.identitySecret });
      expect((await signIn(await withOld(), { publishableKey: s.publishableKey })).status).toBe(201);
      expect((await signIn(await identityToken({ sub: 'g' }, { secret: rotated.body.identitySecret }), { publishableKey: s.publishableKey })).status).toBe(201);
      gw.clock.advance(301_000);
      try {
        expect((await signIn(await withOld(), { publishableKey: s.publishableKey })).body.reason).toBe('bad_signature');
      } finally {
        gw.clock.advance(-301_000);
      }
    });
  });

  describe('CORS', () => {
    it('echoes an allowed origin (Vary: Origin), with no credentials', async () => {
      const res = await signIn(await identityToken({ sub: 'c' }), { origin: ORIGIN });
      expect(res.status).toBe(201);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers.vary).toMatch(/Origin/);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    });

    it('refuses another origin with 403 origin_not_allowed and no CORS header, and creates nothing', async () => {
      const res = await signIn(await identityToken({ sub: 'cors-refused' }), { origin: 'https://evil.example' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('origin_not_allowed');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect((await admin.call('get', `/sites/${site.siteId}/users/cors-refused`)).status).toBe(404);
    });

    it('refuses a disallowed origin on the session endpoints too', async () => {
      const st = (await signIn(await identityToken({ sub: 'c2' }))).body.sessionToken;
      for (const [method, path] of [['post', '/live_api/v1/users/verification-token'], ['get', '/live_api/v1/session'], ['delete', '/live_api/v1/session']] as const) {
        const res = checked(await gw.http('live')[method](path).set('Origin', 'https://evil.example').set('Authorization', `Bearer ${st}`));
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('origin_not_allowed');
      }
      // The refused DELETE did not sign out.
      const still = checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${st}`).set('Origin', ORIGIN));
      expect(still.body.isAuthenticated).toBe(true);
      expect(still.headers['access-control-allow-origin']).toBe(ORIGIN);
    });

    it('answers a preflight', async () => {
      const res = checked(
        await gw.http('live').options('/live_api/v1/sessions').set('Origin', ORIGIN).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type'),
      );
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
      expect(res.headers['access-control-allow-headers']).toMatch(/Content-Type/);
      expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
    });

    it('a preflight without Origin is refused', async () => {
      const res = checked(await gw.http('live').options('/live_api/v1/session'));
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('origin_not_allowed');
    });

    it('sends no CORS headers on the exchange or the admin API', async () => {
      const ex = await gw.http('live').post('/live_api/s2s/v1/users/verification').set('Origin', ORIGIN).set('X-API-KEY', site.apiKey).send({ userVerificationToken: 'x' });
      expect(ex.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await gw.http('live').options('/live_api/s2s/v1/users/verification').set('Origin', ORIGIN).set('Access-Control-Request-Method', 'POST');
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      expect(pre.status).toBe(405);
      const adm = await gw.http('admin').get('/admin/v1/live/sites').set('Origin', ORIGIN).set('Authorization', `Bearer ${gw.adminToken}`);
      expect(adm.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('"*" in sandbox admits any origin', async () => {
      const sandbox = adminClient(gw, 'sandbox');
      const s = await sandbox.provisionSite({ allowedOrigins: ['*'] });
      const token = await identityToken({ sub: 'any' }, { secret: s.identitySecret });
      const res = await signIn(token, { env: 'sandbox', publishableKey: s.publishableKey, origin: 'http://localhost:5173' });
      expect(res.status).toBe(201);
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    });
  });

  it('round trip: sign-in → verification token → exchange → sign-out → exchange says session_ended', async () => {
    const signedIn = await signIn(await identityToken({ sub: 'trip', email: 'trip@example.com' }), { origin: ORIGIN });
    const st = signedIn.body.sessionToken;
    const vt = checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Origin', ORIGIN).set('Authorization', `Bearer ${st}`));
    expect(vt.status).toBe(200);
    const ok = await exchange(gw, 'live', site.apiKey, { userVerificationToken: vt.body.userVerificationToken });
    expect(ok.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'trip', email: 'trip@example.com' } });
    const out = checked(await gw.http('live').delete('/live_api/v1/session').set('Origin', ORIGIN).set('Authorization', `Bearer ${st}`));
    expect(out.status).toBe(204);
    const after = await exchange(gw, 'live', site.apiKey, { userVerificationToken: vt.body.userVerificationToken });
    expect(after.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
    const who = checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${st}`));
    expect(who.body).toEqual({ isAuthenticated: false, user: null });
  });
});

describe('sign-in rate limits', () => {
  let limited: TestGateway;
  let s: Provisioned;
  beforeAll(async () => {
    limited = await startGateway({ rateLimits: { signInPerIp: { points: 3, durationSeconds: 60 } } });
    s = await adminClient(limited, 'live').provisionSite();
  });
  afterAll(() => limited.close());

  it('answers 429 rate_limited with Retry-After and RateLimit headers past the per-address limit', async () => {
    const token = await new SignJWT({ sub: 'rl' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(createSecretKey(Buffer.from(s.identitySecret)));
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = checked(await limited.http('live').post('/live_api/v1/sessions').send({ publishableKey: s.publishableKey, identityToken: token }));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    expect(last!.body.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.headers.ratelimit).toMatch(/limit=3, remaining=0/);
    expect(last!.headers['ratelimit-policy']).toBe('3;w=60');
  });
});
