import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { KeyObject } from 'node:crypto';
import { adminClient, checked, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { RETIRED_KEY_OVERLAP_MS } from '../../src/domain/signing-keys';
import { keys } from '../../src/store/records/keys';

const LIVE_ISSUER = 'https://api.verigate.test';
const TYP = 'vg-verification+jwt';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let sessionToken: string;
let sessionId: string;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1');
  const created = await admin.call('post', `/sites/${site.siteId}/users/user-1/sessions`);
  sessionToken = created.body.sessionToken;
  sessionId = created.body.sessionId;
});
afterAll(() => gw.close());

async function jwks(env: 'live' | 'sandbox' = 'live'): Promise<JSONWebKeySet & { keys: { kid: string }[] }> {
  const res = checked(await gw.http(env).get('/.well-known/jwks.json'));
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
  return res.body;
}

async function issue(): Promise<{ token: string; expiresAt: string }> {
  const res = checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${sessionToken}`));
  expect(res.status).toBe(200);
  return { token: res.body.userVerificationToken, expiresAt: res.body.expiresAt };
}

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

async function exchangeReason(token: string): Promise<string | true> {
  const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
  expect(res.status).toBe(200);
  return res.body.isAuthenticated ? true : res.body.reason;
}

/** Verifies offline, as a customer would, against a JWKS document. */
function verifyOffline(token: string, set: JSONWebKeySet) {
  return jwtVerify(token, createLocalJWKSet(set), {
    issuer: LIVE_ISSUER,
    audience: site.siteId,
    typ: TYP,
    algorithms: ['ES256'],
    currentDate: new Date(gw.clock.now()),
  });
}

describe('signing keys', () => {
  let firstKid: string;
  let firstSigningKey: KeyObject;
  let preRotationToken: string;

  it('GET /.well-known/jwks.json: one ES256 P-256 key with a kid, no private parts', async () => {
    const set = await jwks();
    expect(set.keys).toHaveLength(1);
    const [key] = set.keys as Record<string, unknown>[];
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key?.kid).toEqual(expect.stringMatching(/^live_/));
    expect(key).not.toHaveProperty('d');
    firstKid = key?.kid as string;
    firstSigningKey = (await gw.domains.live.signingKeys.keyring()).signingKey;
  });

  it('each environment has its own key', async () => {
    const sandboxSet = await jwks('sandbox');
    expect(sandboxSet.keys).toHaveLength(1);
    expect(sandboxSet.keys[0]?.kid).toMatch(/^sandbox_/);
    expect(sandboxSet.keys[0]?.kid).not.toBe(firstKid);
  });

  it('tokens verify offline against the JWKS, with the claims of SPEC §3', async () => {
    const { token, expiresAt } = await issue();
    const { payload, protectedHeader } = await verifyOffline(token, await jwks());
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: TYP, kid: firstKid });
    expect(payload).toEqual({
      iss: LIVE_ISSUER,
      aud: site.siteId,
      sub: 'user-1',
      sid: sessionId,
      env: 'live',
      jti: expect.any(String),
      iat: Math.floor(gw.clock.now() / 1000),
      exp: Math.floor(gw.clock.now() / 1000) + 300,
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(Date.parse(expiresAt)).toBe(payload.exp! * 1000);
    expect((payload.jti as string).length).toBeGreaterThanOrEqual(16);
    // Every token is distinct.
    const again = await issue();
    expect(decodeProtectedHeader(again.token).kid).toBe(firstKid);
    const second = await verifyOffline(again.token, await jwks());
    expect(second.payload.jti).not.toBe(payload.jti);
    preRotationToken = token;
  });

  it('a token does not verify offline for another audience or issuer', async () => {
    const { token } = await issue();
    const set = createLocalJWKSet(await jwks());
    const now = new Date(gw.clock.now());
    await expect(jwtVerify(token, set, { audience: 'site_other', currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await expect(jwtVerify(token, set, { issuer: 'https://api-sandbox.verigate.test', currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await expect(jwtVerify(token, createLocalJWKSet(await jwks('sandbox')), { currentDate: now })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  describe('rotation', () => {
    let newKid: string;

    it('POST /admin/v1/live/signing-keys/rotate: 200 {kid, previousKid}', async () => {
      const res = await admin.call('post', '/signing-keys/rotate');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ kid: expect.stringMatching(/^live_/), previousKid: firstKid });
      expect(res.body.kid).not.toBe(firstKid);
      newKid = res.body.kid;
    });

    it('the JWKS then holds both keys', async () => {
      const set = await jwks();
      expect(set.keys.map((k) => k.kid).sort()).toEqual([firstKid, newKid].sort());
    });

    it('does not touch the other environment', async () => {
      const sandboxSet = await jwks('sandbox');
      expect(sandboxSet.keys).toHaveLength(1);
      expect(sandboxSet.keys.map((k) => k.kid)).not.toContain(newKid);
    });

    it('a token signed before the rotation still exchanges and verifies offline', async () => {
      expect(kidOf(preRotationToken)).toBe(firstKid);
      expect(await exchangeReason(preRotationToken)).toBe(true);
      await expect(verifyOffline(preRotationToken, await jwks())).resolves.toBeDefined();
    });

    it('new tokens carry the new kid and verify', async () => {
      const { token } = await issue();
      expect(kidOf(token)).toBe(newKid);
      expect(await exchangeReason(token)).toBe(true);
      await expect(verifyOffline(token, await jwks())).resolves.toBeDefined();
    });

    it('within the overlap, the old key still verifies a token it signs', async () => {
      gw.clock.advance(RETIRED_KEY_OVERLAP_MS - 10_000);
      try {
        expect(await exchangeReason(await signWithOldKey())).toBe(true);
        expect((await jwks()).keys.map((k) => k.kid)).toContain(firstKid);
      } finally {
        gw.clock.advance(-(RETIRED_KEY_OVERLAP_MS - 10_000));
      }
    });

    it('past the overlap, the old key leaves the JWKS and no longer verifies', async () => {
      gw.clock.advance(RETIRED_KEY_OVERLAP_MS + 1000);
      const set = await jwks();
      expect(set.keys.map((k) => k.kid)).toEqual([newKid]);

      // A token the old key signs now (so not merely expired) is refused.
      const late = await signWithOldKey();
      expect(kidOf(late)).toBe(firstKid);
      expect(await exchangeReason(late)).toBe('token_invalid');
      await expect(verifyOffline(late, set)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });

      // The current key goes on working.
      const { token } = await issue();
      expect(kidOf(token)).toBe(newKid);
      expect(await exchangeReason(token)).toBe(true);
    });

    it('a later rotation drops the retired key from the stored keyring', async () => {
      const res = await admin.call('post', '/signing-keys/rotate');
      expect(res.body.previousKid).toBe(newKid);
      const stored = JSON.parse((await gw.stores.live.get(keys.signingKeys())) as string);
      expect(stored.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([newKid, res.body.kid].sort());
      expect((await jwks()).keys.map((k) => k.kid).sort()).toEqual([newKid, res.body.kid].sort());
    });
  });

  it('the stored keyring holds no private key in clear', async () => {
    const raw = await gw.stores.live.get(keys.signingKeys());
    expect(raw).not.toBeNull();
    const text = raw as string;
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).not.toMatch(/BEGIN/);
    // Neither the PEM body nor the private scalar `d`, in any encoding we know.
    const current = (await gw.domains.live.signingKeys.keyring()).signingKey;
    for (const key of [firstSigningKey, current]) {
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
    for (const k of stored.keys) {
      expect(k).not.toHaveProperty('privateKey');
      expect(k.privateSealed).toEqual(expect.stringMatching(/^v1\./));
      expect(k.publicJwk).not.toHaveProperty('d');
    }
  });

  async function signWithOldKey(): Promise<string> {
    const iat = Math.floor(gw.clock.now() / 1000);
    return new SignJWT({ sid: sessionId, env: 'live' })
      .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: firstKid })
      .setIssuer(LIVE_ISSUER)
      .setAudience(site.siteId)
      .setSubject('user-1')
      .setJti('old-key-token')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(firstSigningKey);
  }
});
