import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { KeyObject } from 'node:crypto';
import { adminClient, checked, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { FrozenClock } from '../../src/domain/clock';
import { RETIRED_KEY_OVERLAP_MS } from '../../src/domain/signing-keys';
import { keys } from '../../src/store/records/keys';

const LIVE_ISSUER = 'https://api.verigate.test';
const TYP = 'vg-verification+jwt';

/**
 * Each test starts from a gateway of its own, on a clock of its own: one
 * signing key per environment, a site, a user with a session. Nothing a test
 * rotates or a clock it moves reaches another test.
 */
interface World {
  readonly gw: TestGateway;
  readonly admin: ReturnType<typeof adminClient>;
  readonly site: Provisioned;
  readonly sessionToken: string;
  readonly sessionId: string;
  /** The live key the gateway started with. */
  readonly firstKid: string;
  readonly firstSigningKey: KeyObject;
}

let opened: TestGateway[] = [];
afterEach(async () => {
  const closing = opened;
  opened = [];
  await Promise.all(closing.map((gw) => gw.close()));
});

async function world(): Promise<World> {
  const gw = await startGateway({ clock: new FrozenClock() });
  opened.push(gw);
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1');
  const created = await admin.call('post', `/sites/${site.siteId}/users/user-1/sessions`);
  expect(created.status).toBe(201);
  const keyring = await gw.domains.live.signingKeys.keyring();
  const set = await jwks(gw);
  expect(set.keys).toHaveLength(1);
  return {
    gw,
    admin,
    site,
    sessionToken: created.body.sessionToken,
    sessionId: created.body.sessionId,
    firstKid: set.keys[0]!.kid,
    firstSigningKey: keyring.signingKey,
  };
}

async function jwks(gw: TestGateway, env: 'live' | 'sandbox' = 'live'): Promise<JSONWebKeySet & { keys: { kid: string }[] }> {
  const res = checked(await gw.http(env).get('/.well-known/jwks.json'));
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
  return res.body;
}

async function issue(w: World): Promise<{ token: string; expiresAt: string }> {
  const res = checked(await w.gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${w.sessionToken}`));
  expect(res.status).toBe(200);
  return { token: res.body.userVerificationToken, expiresAt: res.body.expiresAt };
}

async function rotate(w: World, previousKid: string): Promise<string> {
  const res = await w.admin.call('post', '/signing-keys/rotate');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ kid: expect.stringMatching(/^live_/), previousKid });
  return res.body.kid as string;
}

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

async function exchangeReason(w: World, token: string): Promise<string | true> {
  const res = await exchange(w.gw, 'live', w.site.apiKey, { userVerificationToken: token });
  expect(res.status).toBe(200);
  return res.body.isAuthenticated ? true : res.body.reason;
}

/** Verifies offline, as a customer would, against a JWKS document. */
function verifyOffline(w: World, token: string, set: JSONWebKeySet) {
  return jwtVerify(token, createLocalJWKSet(set), {
    issuer: LIVE_ISSUER,
    audience: w.site.siteId,
    typ: TYP,
    algorithms: ['ES256'],
    currentDate: new Date(w.gw.clock.now()),
  });
}

/** A token the first key signs now, with the claims a genuine one has. */
async function signWithFirstKey(w: World): Promise<string> {
  const iat = Math.floor(w.gw.clock.now() / 1000);
  return new SignJWT({ sid: w.sessionId, env: 'live' })
    .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: w.firstKid })
    .setIssuer(LIVE_ISSUER)
    .setAudience(w.site.siteId)
    .setSubject('user-1')
    .setJti('old-key-token')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 300)
    .sign(w.firstSigningKey);
}

describe('signing keys', () => {
  it('GET /.well-known/jwks.json: one ES256 P-256 key with a kid, no private parts', async () => {
    const { gw } = await world();
    const set = await jwks(gw);
    expect(set.keys).toHaveLength(1);
    const [key] = set.keys as Record<string, unknown>[];
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key?.kid).toEqual(expect.stringMatching(/^live_/));
    expect(key).not.toHaveProperty('d');
  });

  it('each environment has its own key', async () => {
    const { gw, firstKid } = await world();
    const sandboxSet = await jwks(gw, 'sandbox');
    expect(sandboxSet.keys).toHaveLength(1);
    expect(sandboxSet.keys[0]?.kid).toMatch(/^sandbox_/);
    expect(sandboxSet.keys[0]?.kid).not.toBe(firstKid);
  });

  it('tokens verify offline against the JWKS, with the claims of SPEC §3', async () => {
    const w = await world();
    const { token, expiresAt } = await issue(w);
    const { payload, protectedHeader } = await verifyOffline(w, token, await jwks(w.gw));
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: TYP, kid: w.firstKid });
    expect(payload).toEqual({
      iss: LIVE_ISSUER,
      aud: w.site.siteId,
      sub: 'user-1',
      sid: w.sessionId,
      env: 'live',
      jti: expect.any(String),
      iat: Math.floor(w.gw.clock.now() / 1000),
      exp: Math.floor(w.gw.clock.now() / 1000) + 300,
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(Date.parse(expiresAt)).toBe(payload.exp! * 1000);
    expect((payload.jti as string).length).toBeGreaterThanOrEqual(16);
    // Every token is distinct.
    const again = await issue(w);
    expect(decodeProtectedHeader(again.token).kid).toBe(w.firstKid);
    const second = await verifyOffline(w, again.token, await jwks(w.gw));
    expect(second.payload.jti).not.toBe(payload.jti);
  });

  it('a token does not verify offline for another audience or issuer', async () => {
    const w = await world();
    const { token } = await issue(w);
    const set = createLocalJWKSet(await jwks(w.gw));
    const now = new Date(w.gw.clock.now());
    await expect(jwtVerify(token, set, { audience: 'site_other', currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await expect(jwtVerify(token, set, { issuer: 'https://api-sandbox.verigate.test', currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await expect(jwtVerify(token, createLocalJWKSet(await jwks(w.gw, 'sandbox')), { currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  describe('rotation', () => {
    it('POST /admin/v1/live/signing-keys/rotate: 200 {kid, previousKid}, and the JWKS then holds both keys', async () => {
      const w = await world();
      const newKid = await rotate(w, w.firstKid);
      expect(newKid).not.toBe(w.firstKid);
      expect((await jwks(w.gw)).keys.map((k) => k.kid).sort()).toEqual([w.firstKid, newKid].sort());
    });

    it('does not touch the other environment', async () => {
      const w = await world();
      const sandboxBefore = await jwks(w.gw, 'sandbox');
      const newKid = await rotate(w, w.firstKid);
      const sandboxSet = await jwks(w.gw, 'sandbox');
      expect(sandboxSet).toEqual(sandboxBefore);
      expect(sandboxSet.keys.map((k) => k.kid)).not.toContain(newKid);
    });

    it('a token signed before the rotation still exchanges and verifies offline', async () => {
      const w = await world();
      const { token } = await issue(w);
      expect(kidOf(token)).toBe(w.firstKid);
      await rotate(w, w.firstKid);
      expect(await exchangeReason(w, token)).toBe(true);
      await expect(verifyOffline(w, token, await jwks(w.gw))).resolves.toBeDefined();
    });

    it('new tokens carry the new kid and verify', async () => {
      const w = await world();
      const newKid = await rotate(w, w.firstKid);
      const { token } = await issue(w);
      expect(kidOf(token)).toBe(newKid);
      expect(await exchangeReason(w, token)).toBe(true);
      await expect(verifyOffline(w, token, await jwks(w.gw))).resolves.toBeDefined();
    });

    it('within the overlap, the old key still verifies a token it signs', async () => {
      const w = await world();
      await rotate(w, w.firstKid);
      w.gw.clock.advance(RETIRED_KEY_OVERLAP_MS - 10_000);
      expect(await exchangeReason(w, await signWithFirstKey(w))).toBe(true);
      expect((await jwks(w.gw)).keys.map((k) => k.kid)).toContain(w.firstKid);
    });

    it('past the overlap, the old key leaves the JWKS and no longer verifies', async () => {
      const w = await world();
      const newKid = await rotate(w, w.firstKid);
      w.gw.clock.advance(RETIRED_KEY_OVERLAP_MS + 1000);
      const set = await jwks(w.gw);
      expect(set.keys.map((k) => k.kid)).toEqual([newKid]);

      // A token the old key signs now (so not merely expired) is refused.
      const late = await signWithFirstKey(w);
      expect(kidOf(late)).toBe(w.firstKid);
      expect(await exchangeReason(w, late)).toBe('token_invalid');
      await expect(verifyOffline(w, late, set)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });

      // The current key goes on working.
      const { token } = await issue(w);
      expect(kidOf(token)).toBe(newKid);
      expect(await exchangeReason(w, token)).toBe(true);
    });

    it('a later rotation, past the overlap, drops the retired key from the stored keyring', async () => {
      const w = await world();
      const second = await rotate(w, w.firstKid);
      w.gw.clock.advance(RETIRED_KEY_OVERLAP_MS + 1000);
      const third = await rotate(w, second);
      const stored = JSON.parse((await w.gw.stores.live.get(keys.signingKeys())) as string);
      expect(stored.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([second, third].sort());
      expect((await jwks(w.gw)).keys.map((k) => k.kid).sort()).toEqual([second, third].sort());
    });
  });

  it('the stored keyring holds no private key in clear', async () => {
    const w = await world();
    await rotate(w, w.firstKid);
    const raw = await w.gw.stores.live.get(keys.signingKeys());
    expect(raw).not.toBeNull();
    const text = raw as string;
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).not.toMatch(/BEGIN/);
    // Neither the PEM body nor the private scalar `d`, in any encoding we know.
    const current = (await w.gw.domains.live.signingKeys.keyring()).signingKey;
    expect(current).not.toBe(w.firstSigningKey);
    for (const key of [w.firstSigningKey, current]) {
      const d = key.export({ format: 'jwk' }).d as string;
      expect(text).not.toContain(d);
      expect(text).not.toContain(Buffer.from(d, 'base64url').toString('hex'));
      expect(text).not.toContain(Buffer.from(d, 'base64url').toString('base64'));
      const pemBody = (key.export({ format: 'pem', type: 'pkcs8' }) as string).split('\n').slice(1, -2).join('');
      expect(text).not.toContain(pemBody.slice(0, 40));
      const der = key.export({ format: 'der', type: 'pkcs8' });
      expect(text).not.toContain(der.toString('base64url').slice(0, 40));
    }
    const stored = JSON.parse(text) as { keys: Record<string, unknown>[] };
    expect(stored.keys).toHaveLength(2);
    for (const k of stored.keys) {
      expect(k).not.toHaveProperty('privateKey');
      expect(k.privateSealed).toEqual(expect.stringMatching(/^v1\./));
      expect(k.publicJwk).not.toHaveProperty('d');
    }
  });
});

describe('GET /admin/v1/{environment}/signing-keys', () => {
  it('lists the key that signs and, after a rotation, the previous one until it retires; no private part', async () => {
    const own = await startGateway({ store: 'memory' });
    try {
      const list = async () => checked(await own.http('admin').get('/admin/v1/sandbox/signing-keys').set('Authorization', `Bearer ${own.adminToken}`));
      const first = await list();
      expect(first.status).toBe(200);
      expect(first.body.keys).toEqual([{ kid: expect.stringMatching(/^sandbox_/), createdAt: expect.any(String), current: true, retiresAt: null }]);
      const rotated = checked(await own.http('admin').post('/admin/v1/sandbox/signing-keys/rotate').set('Authorization', `Bearer ${own.adminToken}`));
      const after = await list();
      expect(after.body.keys.map((k: { kid: string; current: boolean }) => [k.kid, k.current])).toEqual([
        [rotated.body.kid, true],
        [first.body.keys[0].kid, false],
      ]);
      expect(Date.parse(after.body.keys[1].retiresAt)).toBe(own.clock.now() + RETIRED_KEY_OVERLAP_MS);
      expect(JSON.stringify(after.body)).not.toMatch(/PRIVATE|"d":/);
      own.clock.advance(RETIRED_KEY_OVERLAP_MS + 1);
      expect((await list()).body.keys.map((k: { kid: string }) => k.kid)).toEqual([rotated.body.kid]);
    } finally {
      await own.close();
    }
  });
});
