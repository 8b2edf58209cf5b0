/**
 * One identity token, one sign-in (SPEC §7): under a site's
 * `identityTokenReuse: "refuse"` (the default) a second sign-in with a token
 * already used is 401 invalid_identity_token reason `replayed`, however the
 * token is re-encoded; `"allow"` lets it sign in again. Real Redis.
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { testRedisUrl } from '../support/redis';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { scanKeys } from '../support/redis-dump';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
});
afterAll(() => gw.close());

const nowSeconds = () => Math.floor(gw.clock.now() / 1000);
const b64 = (json: string) => Buffer.from(json, 'utf8').toString('base64url');

/** A token signed over exactly these header and payload JSON texts (as a customer's own JWT library might write them). */
function signRaw(headerJson: string, payloadJson: string, secret = site.identitySecret, alg = 'sha256'): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  return `${input}.${createHmac(alg, Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

function identityToken(claims: JWTPayload, p: Provisioned = site): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(nowSeconds())
    .setExpirationTime(nowSeconds() + 600)
    .sign(createSecretKey(Buffer.from(p.identitySecret, 'utf8')));
}

function signIn(token: string, p: Provisioned = site) {
  return gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: p.publishableKey, identityToken: token }).then(checked);
}

async function expectReplayed(token: string, p: Provisioned = site): Promise<void> {
  const res = await signIn(token, p);
  expect({ status: res.status, code: res.body.code, reason: res.body.reason }).toEqual({
    status: 401,
    code: 'invalid_identity_token',
    reason: 'replayed',
  });
}

describe('identityTokenReuse: "refuse" (the default)', () => {
  it('is the default, shown on the site', async () => {
    const res = await admin.call('get', `/sites/${site.siteId}`);
    expect(res.body.identityTokenReuse).toBe('refuse');
  });

  it('a token signs in once; the second sign-in is replayed, and the first session stays signed in', async () => {
    const token = await identityToken({ sub: 'once' });
    const first = await signIn(token);
    expect(first.status).toBe(201);
    await expectReplayed(token);
    const session = await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${first.body.sessionToken}`);
    expect(session.body.isAuthenticated).toBe(true);
  });

  it('of ten sign-ins with one token at the same moment, exactly one opens a session', async () => {
    const token = await identityToken({ sub: 'racer' });
    const answers = await Promise.all(Array.from({ length: 10 }, () => signIn(token)));
    expect(answers.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(401)]);
    expect(answers.filter((r) => r.status === 401).every((r) => r.body.reason === 'replayed')).toBe(true);
    const sessions = await admin.call('get', `/sites/${site.siteId}/users/racer/sessions`);
    expect(sessions.body.sessions).toHaveLength(1);
  });

  it('cannot be bypassed by re-encoding: the header’s key order or algorithm, the payload’s key order and whitespace', async () => {
    const iat = nowSeconds();
    const exp = iat + 600;
    const payload = `{"sub":"reencoded","email":"r@example.com","iat":${iat},"exp":${exp}}`;
    expect((await signIn(signRaw('{"alg":"HS256","typ":"JWT"}', payload))).status).toBe(201);
    await expectReplayed(signRaw('{"typ":"JWT","alg":"HS256"}', payload));
    await expectReplayed(signRaw('{"alg":"HS256"}', payload));
    await expectReplayed(signRaw('{"alg":"HS512"}', payload, site.identitySecret, 'sha512'));
    await expectReplayed(signRaw('{"alg":"HS256"}', `{"exp":${exp}, "iat":${iat},"email":"r@example.com", "sub":"reencoded"}`));
    await expectReplayed(signRaw('{"alg":"HS256"}', `{"sub":"re\\u0065ncoded","email":"r@example.com","iat":${iat},"exp":${exp}.0}`));
  });

  it('cannot be bypassed by another spelling of the same signature (base64 padding, spare bits of its last character)', async () => {
    const token = await identityToken({ sub: 'spelling' });
    expect((await signIn(token)).status).toBe(201);
    const [h, p, s] = token.split('.') as [string, string, string];
    // 32 bytes of HMAC in 43 characters: the last one carries 2 bits that decode to nothing.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.slice(-1));
    const spareBits = [1, 2, 3].map((bits) => `${h}.${p}.${s.slice(0, -1)}${alphabet[(last & ~3) | bits]}`);
    for (const variant of [`${token}=`, ...spareBits]) {
      const res = await signIn(variant);
      // Either refused as this token's replay, or not accepted as a token at all: never a second session.
      expect(res.status).toBe(401);
      expect(['replayed', 'malformed', 'bad_signature']).toContain(res.body.reason);
    }
    const sessions = await admin.call('get', `/sites/${site.siteId}/users/spelling/sessions`);
    expect(sessions.body.sessions).toHaveLength(1);
  });

  it('with a jti, the jti is the token: another token with the same jti is replayed, another jti signs in', async () => {
    expect((await signIn(await identityToken({ sub: 'jti-user', jti: 'jti-1' }))).status).toBe(201);
    await expectReplayed(await identityToken({ sub: 'jti-user', jti: 'jti-1', plan: 'other claims' }));
    expect((await signIn(await identityToken({ sub: 'jti-user', jti: 'jti-2' }))).status).toBe(201);
  });

  it('a token is one site’s: the same claims signed for another site sign in there', async () => {
    const other = await admin.provisionSite({ name: 'Other' });
    const claims = { sub: 'two-sites', iat: nowSeconds(), exp: nowSeconds() + 600 };
    expect((await signIn(await identityToken(claims))).status).toBe(201);
    expect((await signIn(await identityToken(claims, other), other)).status).toBe(201);
    await expectReplayed(await identityToken(claims, other), other);
  });

  it('a token refused for another reason (no seat left) is not used up: it signs in once a seat is free', async () => {
    const full = await admin.call('post', '/sites', { name: 'Full', maxUsers: 0 });
    const p: Provisioned = { ...site, siteId: full.body.siteId, publishableKey: full.body.publishableKey, identitySecret: full.body.identitySecret };
    const token = await identityToken({ sub: 'waiting' }, p);
    const refused = await signIn(token, p);
    expect([refused.status, refused.body.reason]).toEqual([401, 'seat_limit_reached']);
    await admin.call('patch', `/sites/${p.siteId}`, { maxUsers: null });
    expect((await signIn(token, p)).status).toBe(201);
    await expectReplayed(token, p);
  });

  it('the record of use expires with the token (its exp plus the 30 s tolerance), under the site’s hash tag, with no claim in its name', async () => {
    const exp = nowSeconds() + 120;
    const token = await new SignJWT({ sub: 'ttl-user', email: 'ttl@example.com' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(nowSeconds())
      .setExpirationTime(exp)
      .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
    expect((await signIn(token)).status).toBe(201);
    const cluster = process.env.TEST_STORE === 'cluster' ? testRedisClusterNodes() : undefined;
    const urls = cluster ? cluster.map((n) => `redis://${n.host}:${n.port}`) : [testRedisUrl()];
    const found = await scanKeys(urls, `${gw.prefix}:live:{${site.siteId}}:identity-token-used:*`);
    // Every use so far in this file; this token's is the one with the least left.
    const limit = (exp + 30) * 1000 - gw.clock.now();
    const least = Math.min(...found.map((k) => k.pttl));
    expect(least).toBeGreaterThan(0);
    expect(least).toBeLessThanOrEqual(limit);
    expect(found.map((k) => k.key).join(' ')).not.toMatch(/ttl-user|ttl@example|jti/);
  });
});

describe('identityTokenReuse: "allow"', () => {
  it('is set at creation and by PATCH; a token then signs in again, and "refuse" stops that again', async () => {
    const created = await admin.call('post', '/sites', { name: 'Widget habit', identityTokenReuse: 'allow' });
    expect(created.status).toBe(201);
    expect(created.body.identityTokenReuse).toBe('allow');
    const p: Provisioned = { ...site, siteId: created.body.siteId, publishableKey: created.body.publishableKey, identitySecret: created.body.identitySecret };
    const token = await identityToken({ sub: 'every-page' }, p);
    expect((await signIn(token, p)).status).toBe(201);
    expect((await signIn(token, p)).status).toBe(201);

    const patched = await admin.call('patch', `/sites/${p.siteId}`, { identityTokenReuse: 'refuse' });
    expect(patched.body.identityTokenReuse).toBe('refuse');
    const fresh = await identityToken({ sub: 'every-page', jti: 'after-patch' }, p);
    expect((await signIn(fresh, p)).status).toBe(201);
    await expectReplayed(fresh, p);
  });

  it('anything but "refuse" or "allow" is 400 invalid_request naming the field', async () => {
    for (const body of [{ name: 'x', identityTokenReuse: 'sometimes' }, { name: 'x', identityTokenReuse: true }]) {
      const res = await admin.call('post', '/sites', body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
      expect(JSON.stringify(res.body.errors)).toMatch(/identityTokenReuse/);
    }
    const res = await admin.call('patch', `/sites/${site.siteId}`, { identityTokenReuse: null });
    expect(res.status).toBe(400);
  });
});
