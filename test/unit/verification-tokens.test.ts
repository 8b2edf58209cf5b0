import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload, type JWTHeaderParameters } from 'jose';
import type { Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import type { SessionRecord } from '../../src/domain/sessions';
import { VERIFICATION_TOKEN_TYPE } from '../../src/domain/verification-tokens';
import type { Gateway } from '../../src/gateway';
import { embeddedGateway } from '../support/embedded-gateway';

const LIVE_ISS = 'https://api.verigate.test';
const SANDBOX_ISS = 'https://api-sandbox.verigate.test';

let clock: FrozenClock;
let gateway: Gateway;
let live: Domain;
let sandbox: Domain;
let siteId: string;
let otherSiteId: string;
let session: SessionRecord;
let signingKey: KeyObject;
let kid: string;

beforeAll(async () => {
  clock = new FrozenClock();
  const embedded = embeddedGateway({ clock });
  gateway = embedded;
  live = embedded.domains.live;
  sandbox = embedded.domains.sandbox;
  await gateway.start();
  siteId = (await live.sites.createSite({ name: 'Shop' })).site.siteId;
  otherSiteId = (await live.sites.createSite({ name: 'Other' })).site.siteId;
  await live.users.upsertUser(siteId, 'user-1', {});
  session = (await live.sessions.createSession(siteId, 'user-1')).session;
  const ring = await live.signingKeys.keyring();
  signingKey = ring.signingKey;
  kid = ring.currentKid;
});
afterAll(() => gateway.close());

const verify = (token: string, site = siteId) => live.verificationTokens.verifyVerificationToken(token, site);
const reasonOf = async (token: string, site = siteId) => {
  const check = await verify(token, site);
  return check.ok ? 'ok' : check.reason;
};

/** The claims a real token carries, now. */
function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const iat = Math.floor(clock.now() / 1000);
  return {
    iss: LIVE_ISS,
    aud: siteId,
    sub: 'user-1',
    sid: session.sessionId,
    env: 'live',
    jti: randomBytes(16).toString('base64url'),
    iat,
    exp: iat + 300,
    ...overrides,
  };
}

function without(payload: JWTPayload, claim: string): JWTPayload {
  const copy: Record<string, unknown> = { ...payload };
  delete copy[claim];
  return copy;
}

/** Signs with our own current key (a token only we could have made). */
function signOurs(payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid, ...header } as JWTHeaderParameters)
    .sign(signingKey);
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over any header, signed with our key by hand (ES256: r||s). */
function signRaw(header: Record<string, unknown>, payload: JWTPayload): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

describe('issueVerificationToken', () => {
  it('issues a token that verifies, with claims per SPEC §3', async () => {
    const { token, expiresAt } = await live.verificationTokens.issueVerificationToken(session);
    const check = await verify(token);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    const iat = Math.floor(clock.now() / 1000);
    expect(check.claims).toEqual({
      iss: LIVE_ISS,
      aud: siteId,
      sub: 'user-1',
      sid: session.sessionId,
      env: 'live',
      jti: expect.any(String),
      iat,
      exp: iat + 300,
    });
    expect(expiresAt).toBe((iat + 300) * 1000);
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid });
  });
});

describe('verifyVerificationToken reasons', () => {
  it('accepts our own hand-made token (the baseline every case below departs from)', async () => {
    expect(await reasonOf(await signOurs(claims()))).toBe('ok');
  });

  it('token_expired: past exp beyond the 5 s tolerance; fine within it', async () => {
    const { token } = await live.verificationTokens.issueVerificationToken(session);
    clock.advance(304_000);
    try {
      expect(await reasonOf(token)).toBe('ok');
      clock.advance(2_000);
      expect(await reasonOf(token)).toBe('token_expired');
    } finally {
      clock.advance(-306_000);
    }
  });

  it('token_wrong_site: issued for another site of the environment', async () => {
    const { token } = await live.verificationTokens.issueVerificationToken(session);
    expect(await reasonOf(token, otherSiteId)).toBe('token_wrong_site');
  });

  it('token_wrong_environment: a sandbox token on live', async () => {
    await sandbox.users.upsertUser((await sandbox.sites.createSite({ name: 'Sb' })).site.siteId, 'u', {});
    const sbSite = (await sandbox.sites.listSites())[0]!;
    const sbSession = (await sandbox.sessions.createSession(sbSite.siteId, 'u')).session;
    const { token } = await sandbox.verificationTokens.issueVerificationToken(sbSession);
    expect(await reasonOf(token)).toBe('token_wrong_environment');
  });

  it('token_wrong_environment: our key, but env says sandbox', async () => {
    expect(await reasonOf(await signOurs(claims({ env: 'sandbox' })))).toBe('token_wrong_environment');
  });

  it('token_invalid: exp - iat > 300 even when signed with our key', async () => {
    const iat = Math.floor(clock.now() / 1000);
    expect(await reasonOf(await signOurs(claims({ iat, exp: iat + 301 })))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims({ iat, exp: iat + 86_400 })))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims({ iat, exp: iat + 300 })))).toBe('ok');
  });

  it('iat in the future beyond tolerance: token_invalid; older than the lifetime: token_expired', async () => {
    const now = Math.floor(clock.now() / 1000);
    expect(await reasonOf(await signOurs(claims({ iat: now + 60, exp: now + 300 })))).toBe('token_invalid');
    // Issued longer ago than any token lives (exp notwithstanding): expired.
    expect(await reasonOf(await signOurs(claims({ iat: now - 400, exp: now + 100 })))).toBe('token_expired');
  });

  it.each(['iss', 'aud', 'sub', 'sid', 'env', 'jti', 'iat', 'exp'])('token_invalid: the %s claim is missing', async (claim) => {
    expect(await reasonOf(await signOurs(without(claims(), claim)))).toBe('token_invalid');
  });

  it.each<[string, () => unknown]>([
    ['sub', () => 42],
    ['sid', () => null],
    ['jti', () => ({ x: 1 })],
    // An array audience naming the site passes jose's check; ours wants the one string.
    ['aud', () => [siteId]],
  ])('token_invalid: the %s claim has the wrong type', async (claim, value) => {
    expect(await reasonOf(await signOurs(claims({ [claim]: value() })))).toBe('token_invalid');
  });

  it('token_invalid: typ is wrong or missing', async () => {
    expect(await reasonOf(await signOurs(claims(), { typ: 'JWT' }))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims(), { typ: 'vg-identity+jwt' }))).toBe('token_invalid');
    const noTyp = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid }).sign(signingKey);
    expect(await reasonOf(noTyp)).toBe('token_invalid');
  });

  it('token_invalid: iss is wrong (another environment’s URL, or anything else)', async () => {
    expect(await reasonOf(await signOurs(claims({ iss: SANDBOX_ISS })))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims({ iss: 'https://evil.example' })))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims({ iss: `${LIVE_ISS}/` })))).toBe('token_invalid');
  });

  it('token_invalid: alg none (unsecured JWT) with our kid', async () => {
    const header = { alg: 'none', typ: VERIFICATION_TOKEN_TYPE, kid };
    expect(await reasonOf(`${b64(header)}.${b64(claims())}.`)).toBe('token_invalid');
    // …and with our real signature pasted on.
    const real = await signOurs(claims());
    expect(await reasonOf(`${b64(header)}.${b64(claims())}.${real.split('.')[2]}`)).toBe('token_invalid');
  });

  it('token_invalid: HS256 keyed with the bytes of our public key (algorithm confusion)', async () => {
    const jwk = (await live.signingKeys.jwks()).keys.find((k) => k.kid === kid)!;
    const publicKey = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
    const secrets = [
      Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }) as string),
      publicKey.export({ format: 'der', type: 'spki' }),
      Buffer.from(JSON.stringify(jwk)),
    ];
    for (const secret of secrets) {
      const forged = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: VERIFICATION_TOKEN_TYPE, kid })
        .sign(new Uint8Array(secret));
      expect(await reasonOf(forged)).toBe('token_invalid');
    }
  });

  it('token_invalid: signed by a key that is not ours, under our kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid }).sign(privateKey);
    expect(await reasonOf(forged)).toBe('token_invalid');
  });

  it('token_invalid: a header that brings its own key (jwk, jku, x5u, x5c), even if our kid is there', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const embedded = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid, jwk: publicKey.export({ format: 'jwk' }) as JWTHeaderParameters['jwk'] })
      .sign(privateKey);
    expect(await reasonOf(embedded)).toBe('token_invalid');
    for (const header of [{ jku: 'https://evil.example/jwks.json' }, { x5u: 'https://evil.example/cert' }, { x5c: ['AAAA'] }]) {
      expect(await reasonOf(await signOurs(claims(), header as Partial<JWTHeaderParameters>))).toBe('token_invalid');
    }
  });

  it('token_invalid: an unknown kid, or none', async () => {
    expect(await reasonOf(await signOurs(claims(), { kid: 'live_unknownkid000' }))).toBe('token_invalid');
    expect(await reasonOf(await signOurs(claims(), { kid: 'someone-else' }))).toBe('token_invalid');
    const noKid = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE }).sign(signingKey);
    expect(await reasonOf(noKid)).toBe('token_invalid');
  });

  it('token_invalid: a crit header we do not understand', async () => {
    // jose will not sign this, so sign it by hand: a valid signature by our key.
    const critical = signRaw({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid, crit: ['x-vg'], 'x-vg': true }, claims());
    expect(await reasonOf(signRaw({ alg: 'ES256', typ: VERIFICATION_TOKEN_TYPE, kid }, claims()))).toBe('ok');
    expect(await reasonOf(critical)).toBe('token_invalid');
  });

  it('token_invalid: not yet valid (nbf ahead beyond tolerance)', async () => {
    expect(await reasonOf(await signOurs(claims({ nbf: Math.floor(clock.now() / 1000) + 60 })))).toBe('token_invalid');
  });

  it('token_malformed: not a compact JWS, or segments that are not JSON', async () => {
    for (const value of ['', 'abc', 'a.b', 'a.b.c.d', '!!!.###.$$$', `${b64('x')}.${b64(claims())}.sig`, `e30.${Buffer.from('not json').toString('base64url')}.sig`]) {
      expect(await reasonOf(value)).toBe('token_malformed');
    }
  });

  it('never throws for a bad token, whatever its shape', async () => {
    const weird = [
      `${b64({ alg: 'ES256', kid: 123 })}.${b64(claims())}.sig`,
      `${b64({ alg: 'ES256', kid, crit: 'nope' })}.${b64(claims())}.sig`,
      `${b64([1, 2])}.${b64(claims())}.sig`,
      `${b64(null)}.${b64(null)}.sig`,
      `${b64({ alg: 'ES256', kid })}.${b64([])}.${'A'.repeat(86)}`,
      `${b64({ alg: 'ES256', kid: '__proto__' })}.${b64(claims())}.sig`,
    ];
    for (const token of weird) {
      const check = await verify(token);
      expect(check.ok).toBe(false);
    }
  });
});
