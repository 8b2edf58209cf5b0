/**
 * The JWT attack suite (issue 6): every known way to talk a JWT verifier into
 * a wrong answer, tried against both token kinds over HTTP on real Redis.
 *
 * - Verification tokens go to the exchange; each refusal is
 *   `200 {isAuthenticated: false, userInfo: null, reason}`.
 * - Identity tokens go to `POST /live_api/v1/sessions`; each refusal is
 *   `401 invalid_identity_token` with its `reason`.
 *
 * Each case asserts its exact reason, and every response is checked against
 * openapi.yaml. Forged tokens start from a baseline that is proven to be
 * accepted, so a refusal is caused by the one thing the case changes. No case
 * may reach the network: an outbound guard is installed for the whole file.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Environment } from '../../src/domain/environments';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { testRedisUrl } from '../support/redis';
import { startCountingServer, type CountingServer } from './support/counting-server';
import {
  attackerCertificateKey,
  attackerX5c,
  b64url,
  decode,
  ecdsa,
  eddsa,
  encodeSegment,
  forge,
  hmac,
  patch,
  rsa,
  signSegments,
  withPayload,
  type DecodedToken,
  type Signer,
} from './support/forge';
import { installOutboundGuard, type OutboundGuard } from './support/outbound-guard';

let guard: OutboundGuard;
let attackerHost: CountingServer;
let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
/** The site under attack (live), another live site, and a sandbox site. */
let site: Provisioned;
let otherSite: Provisioned;
let sandboxSite: Provisioned;
let sessionToken: string;
/** A genuine verification token for a live session of `site`, decoded. */
let issued: string;
let genuine: DecodedToken;
/** Another genuine token (another session), for its signature. */
let issuedElsewhere: string;
let sandboxIssued: string;
/** Our real signing key (from the keyring), its kid, and the sandbox kid. */
let realKey: KeyObject;
let liveKid: string;
let sandboxKid: string;
/** The current public key, as served at /.well-known/jwks.json. */
let servedJwk: Record<string, string>;
let servedJwks: unknown;

const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
const ATTACKER_SECRET = 'attacker-chosen-hmac-secret';

const nowSeconds = () => Math.floor(gw.clock.now() / 1000);

beforeAll(async () => {
  guard = installOutboundGuard([new URL(testRedisUrl()).hostname]);
  attackerHost = await startCountingServer({ keys: [{ ...attackerJwk, kid: 'attacker', alg: 'ES256', use: 'sig' }] });
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite({ name: 'Target' });
  otherSite = await admin.provisionSite({ name: 'Other' });
  await admin.putUser(site.siteId, 'u1', { email: 'u1@example.com', productAccess: [{ productId: 'paid', expiresAt: null }] });
  sessionToken = await admin.createSession(site.siteId, 'u1');
  issued = await verificationTokenFor(gw, 'live', sessionToken);
  genuine = decode(issued);
  issuedElsewhere = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'u1'));

  const sandbox = adminClient(gw, 'sandbox');
  sandboxSite = await sandbox.provisionSite({ name: 'Sandbox' });
  await sandbox.putUser(sandboxSite.siteId, 'u1');
  sandboxIssued = await verificationTokenFor(gw, 'sandbox', await sandbox.createSession(sandboxSite.siteId, 'u1'));

  const ring = await gw.domains.live.signingKeys.keyring();
  realKey = ring.signingKey;
  liveKid = ring.currentKid;
  sandboxKid = (await gw.domains.sandbox.signingKeys.keyring()).currentKid;
  const jwks = checked(await gw.http('live').get('/.well-known/jwks.json'));
  servedJwks = jwks.body;
  servedJwk = (jwks.body.keys as Record<string, string>[]).find((k) => k.kid === liveKid)!;
});

afterEach(() => {
  // A refused outbound call would have been swallowed as a bad token: look at the record, not the answer.
  expect(guard.takeAttempts()).toEqual([]);
  expect(attackerHost.takeRequests()).toEqual([]);
});

afterAll(async () => {
  await gw?.close();
  await attackerHost?.close();
  guard?.restore();
});

/** The exchange refused the token with `reason`: 200, not authenticated, checked against openapi.yaml. */
async function refusedAtExchange(
  token: string,
  reason: string,
  options: { apiKey?: string; env?: Environment } = {},
): Promise<import('supertest').Response> {
  const env = options.env ?? 'live';
  const res = await exchange(gw, env, options.apiKey ?? site.apiKey, { userVerificationToken: token });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ isAuthenticated: false, environment: env, userInfo: null, reason });
  return res;
}

/** Sign-in refused the identity token with `reason`: 401 invalid_identity_token, checked against openapi.yaml. */
async function refusedAtSignIn(token: string, reason: string): Promise<import('supertest').Response> {
  const res = checked(
    await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: token }),
  );
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('invalid_identity_token');
  expect(res.body.reason).toBe(reason);
  return res;
}

async function signIn(token: string) {
  return checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken: token }));
}

async function signOut(st: string): Promise<void> {
  const res = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`));
  expect(res.status).toBe(204);
}

/** A verification token exactly like the genuine one, header and claims patched, signed with `signer` (our real key by default). */
function verificationToken(
  changes: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {},
  signer: Signer = ecdsa(realKey),
): string {
  return forge(patch(genuine.header, changes.header ?? {}), patch(genuine.payload, changes.claims ?? {}), signer);
}

/** A customer-signed identity token: HS256 with the site's identity secret unless told otherwise. */
function identityToken(
  changes: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {},
  signer?: Signer,
): string {
  const header = patch({ alg: 'HS256', typ: 'JWT' }, changes.header ?? {});
  const claims = patch({ sub: 'attacker', iat: nowSeconds(), exp: nowSeconds() + 600 }, changes.claims ?? {});
  return forge(header, claims, signer ?? hmac('HS256', site.identitySecret));
}

/** Raw payload JSON with one member set to a literal JSON.stringify cannot produce (`1e400` is Infinity to JSON.parse). */
function rawJson(claims: Record<string, unknown>, member: string, literal: string): string {
  return JSON.stringify({ ...claims, [member]: '__LITERAL__' }).replace('"__LITERAL__"', literal);
}

const NONE_CASINGS = ['none', 'None', 'NONE', 'nOnE'];

/** The public key material an attacker can read from /.well-known/jwks.json, used as HMAC keys. */
const PUBLIC_MATERIAL: [string, () => Buffer][] = [
  ['the JWK JSON as served', () => Buffer.from(JSON.stringify(servedJwk))],
  ['the whole JWKS document', () => Buffer.from(JSON.stringify(servedJwks))],
  ['the PEM of the public key', () => Buffer.from(servedPublicKey().export({ type: 'spki', format: 'pem' }) as string)],
  ['the DER of the public key', () => servedPublicKey().export({ type: 'spki', format: 'der' })],
  ['the raw x||y bytes', () => Buffer.concat([Buffer.from(servedJwk.x!, 'base64url'), Buffer.from(servedJwk.y!, 'base64url')])],
  ['the uncompressed point 04||x||y', () => Buffer.concat([Buffer.from([4]), Buffer.from(servedJwk.x!, 'base64url'), Buffer.from(servedJwk.y!, 'base64url')])],
];
const servedPublicKey = (): KeyObject => createPublicKey({ key: servedJwk as JsonWebKey, format: 'jwk' });

/** Keys an attacker holds, of every other family: each signs under our kid. */
const foreignKeys = (): [string, string, Signer][] => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  return [
    ['ES256 (the attacker’s P-256 key)', 'ES256', ecdsa(attacker.privateKey)],
    ['ES384', 'ES384', ecdsa(p384.privateKey, 'sha384')],
    ['ES512', 'ES512', ecdsa(p521.privateKey, 'sha512')],
    ['RS256', 'RS256', rsa(rsaKey.privateKey)],
    ['PS256', 'PS256', rsa(rsaKey.privateKey, true)],
    ['EdDSA', 'EdDSA', eddsa(ed.privateKey)],
  ];
};

/** Hostile `kid` values; `() =>` because the other environment's kid is only known once the gateway runs. */
const HOSTILE_KIDS: [string, () => unknown][] = [
  ['path traversal ../../etc/passwd', () => '../../etc/passwd'],
  ['path traversal to /dev/null', () => '../../../../../../dev/null'],
  ["SQL-ish ' OR 1=1 --", () => "' OR 1=1 --"],
  ['header injection live_x\\r\\nX-Evil: 1', () => 'live_x\r\nX-Evil: 1'],
  ['the other environment’s real kid', () => sandboxKid],
  ['empty', () => ''],
  ['an object', () => ({ path: '../../etc/passwd', kid: 'live_x' })],
  ['a number', () => 1],
];

describe('the outbound guard (proves the suite would notice a request)', () => {
  it('records and refuses http, https, net and fetch to a non-loopback host', async () => {
    expect(() => http.request('http://attacker.example/jwks.json')).toThrow(/refused by the test guard/);
    expect(() => https.get({ host: 'attacker.example', path: '/' })).toThrow(/refused by the test guard/);
    expect(() => net.connect(443, 'attacker.example')).toThrow(/refused by the test guard/);
    expect(() => new net.Socket().connect({ host: '203.0.113.7', port: 80 })).toThrow(/refused by the test guard/);
    await expect(fetch('https://attacker.example/.well-known/jwks.json')).rejects.toThrow(/refused by the test guard/);
    expect(guard.takeAttempts()).toEqual([
      'http.request attacker.example',
      'https.get attacker.example',
      'net.connect attacker.example',
      'net.Socket#connect 203.0.113.7',
      'fetch attacker.example',
    ]);
  });

  it('lets loopback through, and the attacker’s host counts what it is asked', async () => {
    const res = await fetch(`${attackerHost.url}/probe`);
    expect(res.status).toBe(200);
    expect(attackerHost.takeRequests()).toEqual(['GET /probe']);
  });
});

describe('verification tokens at the exchange', () => {
  it('baseline: a token forged with our real key and unchanged claims is accepted (so each refusal below is caused by its one change)', async () => {
    const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: verificationToken() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'u1' } });
  });

  describe('alg: none', () => {
    const cases = NONE_CASINGS.flatMap((alg) => [
      [alg, 'without a signature segment (h.p)', 'token_malformed'],
      [alg, 'with an empty signature (h.p.)', 'token_invalid'],
      [alg, 'with the genuine token’s signature', 'token_invalid'],
      [alg, 'with a valid ES256 signature by our real key over this very header', 'token_invalid'],
    ]);
    it.each(cases)('alg %s %s → %s', async (alg, form, reason) => {
      const h = encodeSegment(patch(genuine.header, { alg }));
      const p = genuine.segments[1];
      const token = form.startsWith('without')
        ? `${h}.${p}`
        : form.startsWith('with an empty')
          ? `${h}.${p}.`
          : form.startsWith('with the genuine')
            ? `${h}.${p}.${genuine.segments[2]}`
            : signSegments(h, p, ecdsa(realKey));
      await refusedAtExchange(token, reason!);
    });
  });

  describe('algorithm confusion: HMAC keyed with our public JWKS material, under our kid', () => {
    const cases = (['HS256', 'HS512'] as const).flatMap((alg) => PUBLIC_MATERIAL.map(([label, material]) => [alg, label, material] as const));
    it.each(cases)('%s keyed with %s → token_invalid', async (alg, _label, material) => {
      await refusedAtExchange(verificationToken({ header: { alg } }, hmac(alg, material())), 'token_invalid');
    });
  });

  describe('HMAC with secrets the attacker might hold: HS* is never accepted for verification tokens', () => {
    it('HS512 with the site’s (correct) identity secret → token_invalid', async () => {
      await refusedAtExchange(verificationToken({ header: { alg: 'HS512' } }, hmac('HS512', site.identitySecret)), 'token_invalid');
    });
    it('HS256 with the site’s identity secret → token_invalid', async () => {
      await refusedAtExchange(verificationToken({ header: { alg: 'HS256' } }, hmac('HS256', site.identitySecret)), 'token_invalid');
    });
    it('HS256 with the site’s API key → token_invalid', async () => {
      await refusedAtExchange(verificationToken({ header: { alg: 'HS256' } }, hmac('HS256', site.apiKey)), 'token_invalid');
    });
  });

  describe('alg pinned to ES256: our real key’s valid signature under another alg label', () => {
    it.each(['ES384', 'ES512', 'HS256', 'RS256', 'PS256', 'EdDSA', 'es256', 'ES256 ', ''])('alg "%s" → token_invalid', async (alg) => {
      await refusedAtExchange(verificationToken({ header: { alg } }), 'token_invalid');
    });
  });

  describe('other algorithms with the attacker’s own key, under our kid', () => {
    it.each(foreignKeys())('%s → token_invalid', async (_label, alg, signer) => {
      await refusedAtExchange(verificationToken({ header: { alg } }, signer), 'token_invalid');
    });
  });

  describe('hostile kid', () => {
    const cases = HOSTILE_KIDS.flatMap(([label, kid]) => [
      [label, kid, 'signed with our real key (ES256)'],
      [label, kid, 'HS256 keyed with the empty string (what /dev/null holds)'],
    ] as const);
    it.each(cases)('kid %s, %s → refused', async (label, kid, how) => {
      const token = how.startsWith('signed with our')
        ? verificationToken({ header: { kid: kid() } })
        : verificationToken({ header: { alg: 'HS256', kid: kid() } }, hmac('HS256', ''));
      const reason = label.startsWith('the other environment') ? 'token_wrong_environment' : 'token_invalid';
      const res = await refusedAtExchange(token, reason);
      expect(res.headers['x-evil']).toBeUndefined();
    });
  });

  describe('headers that would let the token pick its own key (jku, x5u, jwk, x5c)', () => {
    /** The header member, pointing at or holding the attacker's key, and the matching signer. */
    const foreign = (name: string): [Record<string, unknown>, Signer] => {
      switch (name) {
        case 'jku':
          return [{ jku: `${attackerHost.url}/jwks.json`, kid: 'attacker' }, ecdsa(attacker.privateKey)];
        case 'x5u':
          return [{ x5u: `${attackerHost.url}/cert.pem` }, ecdsa(attackerCertificateKey())];
        case 'jwk':
          return [{ jwk: attackerJwk }, ecdsa(attacker.privateKey)];
        default:
          return [{ x5c: attackerX5c() }, ecdsa(attackerCertificateKey())];
      }
    };
    const NAMES = ['jku', 'x5u', 'jwk', 'x5c'];
    it.each(NAMES)('%s with the attacker’s key, signed by it, without our kid → token_invalid, no request', async (name) => {
      const [header, signer] = foreign(name);
      await refusedAtExchange(verificationToken({ header: { ...header, kid: header.kid ?? undefined } }, signer), 'token_invalid');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it.each(NAMES)('%s with the attacker’s key, signed by it, under our kid → token_invalid, no request', async (name) => {
      const [header, signer] = foreign(name);
      await refusedAtExchange(verificationToken({ header: { ...header, kid: liveKid } }, signer), 'token_invalid');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it.each(NAMES)('%s on a token otherwise genuinely signed by us → token_invalid (its presence alone refuses), no request', async (name) => {
      const [header] = foreign(name);
      await refusedAtExchange(verificationToken({ header: { ...header, kid: liveKid } }), 'token_invalid');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
  });

  describe('crit (refused, even on a token genuinely signed by us)', () => {
    it.each([
      ['["exp"]', { crit: ['exp'] }],
      ['["unknown"]', { crit: ['unknown'], unknown: true }],
      ['["b64"] with b64: true (a parameter jose understands)', { crit: ['b64'], b64: true }],
      ['[] (empty)', { crit: [] }],
    ])('crit %s → token_invalid', async (_label, header) => {
      await refusedAtExchange(verificationToken({ header }), 'token_invalid');
    });
  });

  describe('tampered payload (genuine header and signature kept)', () => {
    it.each([
      ['sub', () => ({ sub: 'someone-else' })],
      ['sid', () => ({ sid: 'sess_someone_else' })],
      ['aud', () => ({ aud: otherSite.siteId })],
      ['exp', () => ({ exp: genuine.payload.exp as number + 3600 })],
    ])('%s changed → token_invalid', async (_claim, change) => {
      await refusedAtExchange(withPayload(issued, { ...genuine.payload, ...change() }), 'token_invalid');
    });
  });

  describe('signature', () => {
    it('stripped (h.p.) → token_invalid', async () => {
      await refusedAtExchange(`${genuine.segments[0]}.${genuine.segments[1]}.`, 'token_invalid');
    });
    it('truncated (last 2 characters removed) → token_invalid', async () => {
      await refusedAtExchange(issued.slice(0, -2), 'token_invalid');
    });
    it('taken from another genuine token → token_invalid', async () => {
      await refusedAtExchange(`${genuine.segments[0]}.${genuine.segments[1]}.${decode(issuedElsewhere).segments[2]}`, 'token_invalid');
    });
  });

  describe('segments', () => {
    it('two segments → token_malformed', async () => {
      await refusedAtExchange(`${genuine.segments[0]}.${genuine.segments[1]}`, 'token_malformed');
    });
    it('four segments → token_malformed', async () => {
      await refusedAtExchange(`${issued}.${genuine.segments[2]}`, 'token_malformed');
    });
    it('five segments (JWE-shaped) → token_malformed', async () => {
      await refusedAtExchange(`${encodeSegment({ alg: 'dir', enc: 'A256GCM', kid: liveKid })}..${b64url(randomBytes(12))}.${b64url(randomBytes(32))}.${b64url(randomBytes(16))}`, 'token_malformed');
    });
  });

  describe('claims, on tokens genuinely signed with our real key', () => {
    it('missing exp → token_invalid', async () => refusedAtExchange(verificationToken({ claims: { exp: undefined } }), 'token_invalid'));
    it('exp as a string → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { exp: String(genuine.payload.exp) } }), 'token_invalid'));
    it('exp = 1e308 (far future) → token_invalid', async () => refusedAtExchange(verificationToken({ claims: { exp: 1e308 } }), 'token_invalid'));
    it('exp = 1e400 (Infinity once parsed) → token_invalid', async () => {
      const token = forge(genuine.header, rawJson(genuine.payload, 'exp', '1e400'), ecdsa(realKey));
      await refusedAtExchange(token, 'token_invalid');
    });
    it('exp - iat = 301, over the 300 s policy → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { exp: (genuine.payload.iat as number) + 301 } }), 'token_invalid'));
    it('missing iat → token_invalid', async () => refusedAtExchange(verificationToken({ claims: { iat: undefined } }), 'token_invalid'));
    it('iat in the future (beyond the 5 s tolerance) → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { iat: nowSeconds() + 60, exp: nowSeconds() + 360 } }), 'token_invalid'));
    it('nbf in the future → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { nbf: nowSeconds() + 60 } }), 'token_invalid'));
    it('expired → token_expired', async () =>
      refusedAtExchange(verificationToken({ claims: { iat: nowSeconds() - 400, exp: nowSeconds() - 100 } }), 'token_expired'));
    it('wrong aud (another site’s id) → token_wrong_site', async () =>
      refusedAtExchange(verificationToken({ claims: { aud: otherSite.siteId } }), 'token_wrong_site'));
    it('aud as an array that includes the site → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { aud: [site.siteId, otherSite.siteId] } }), 'token_invalid'));
    it('wrong iss → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { iss: 'https://attacker.example' } }), 'token_invalid'));
    it('iss of the sandbox environment → token_invalid', async () =>
      refusedAtExchange(verificationToken({ claims: { iss: 'https://api-sandbox.verigate.test' } }), 'token_invalid'));
    it('env claim of the other environment → token_wrong_environment', async () =>
      refusedAtExchange(verificationToken({ claims: { env: 'sandbox' } }), 'token_wrong_environment'));
    it('missing sid → token_invalid', async () => refusedAtExchange(verificationToken({ claims: { sid: undefined } }), 'token_invalid'));
    it('sid as a number → token_invalid', async () => refusedAtExchange(verificationToken({ claims: { sid: 1 } }), 'token_invalid'));
  });

  describe('wrong typ', () => {
    it('typ "JWT" → token_invalid', async () => refusedAtExchange(verificationToken({ header: { typ: 'JWT' } }), 'token_invalid'));
    it('no typ → token_invalid', async () => refusedAtExchange(verificationToken({ header: { typ: undefined } }), 'token_invalid'));
    it('an identity token (customer-signed, HS256) presented as a verification token → token_invalid', async () => {
      const token = identityToken({ claims: { sub: 'u1' } });
      await refusedAtExchange(token, 'token_invalid');
    });
    it('an identity token shaped like a verification token (our typ, kid and claims; HS256 with the identity secret) → token_invalid', async () => {
      await refusedAtExchange(verificationToken({ header: { alg: 'HS256' } }, hmac('HS256', site.identitySecret)), 'token_invalid');
    });
  });

  describe('another environment, another site', () => {
    it('a sandbox token at the live exchange → token_wrong_environment', async () => refusedAtExchange(sandboxIssued, 'token_wrong_environment'));
    it('a live token at the sandbox exchange → token_wrong_environment', async () =>
      refusedAtExchange(issued, 'token_wrong_environment', { apiKey: sandboxSite.apiKey, env: 'sandbox' }));
    it('a token of this site presented by another site’s backend → token_wrong_site', async () =>
      refusedAtExchange(issued, 'token_wrong_site', { apiKey: otherSite.apiKey }));
  });

  describe('re-encoded tokens', () => {
    /** Encodings of the same JWS that a lenient base64url decoder would read as the same bytes. */
    const REENCODINGS: [string, (t: string) => string][] = [
      ['a trailing "=" on the signature', (t) => `${t}=`],
      ['a trailing newline', (t) => `${t}\n`],
      ['a trailing CRLF', (t) => `${t}\r\n`],
      ['a leading space', (t) => ` ${t}`],
      ['base64 padding on the header segment', (t) => segmentsMap(t, (s, i) => (i === 0 ? pad(s) : s))],
      ['base64 padding on the signature segment', (t) => segmentsMap(t, (s, i) => (i === 2 ? pad(s) : s))],
      ['an upper-cased header segment', (t) => segmentsMap(t, (s, i) => (i === 0 ? s.toUpperCase() : s))],
      ['the standard base64 alphabet, padded', (t) => segmentsMap(t, (s) => Buffer.from(s, 'base64url').toString('base64'))],
      ['other (ignored) low bits in the last signature character', (t) => segmentsMap(t, (s, i) => (i === 2 ? flipUnusedBits(s) : s))],
    ];

    it('each re-encoding really differs from the token, and the non-canonical one decodes to the same signature bytes', () => {
      for (const [, reencode] of REENCODINGS) expect(reencode(issued)).not.toBe(issued);
      const nonCanonical = flipUnusedBits(genuine.segments[2]);
      expect(Buffer.from(nonCanonical, 'base64url')).toEqual(Buffer.from(genuine.segments[2], 'base64url'));
    });

    describe('after sign-out: refused, never authenticated', () => {
      let ended: string;
      beforeAll(async () => {
        const st = await admin.createSession(site.siteId, 'u1');
        ended = await verificationTokenFor(gw, 'live', st);
        await signOut(st);
      });
      it('the token itself → session_ended', async () => refusedAtExchange(ended, 'session_ended'));
      it.each(REENCODINGS)('%s → token_malformed', async (_label, reencode) => refusedAtExchange(reencode(ended), 'token_malformed'));
    });

    /**
     * Decision: one token, one string. The gateway reads only the canonical
     * base64url of each segment (src/domain/verification-tokens.ts), so every
     * re-encoding is malformed — while its session is live too, not only once
     * sign-out has made the answer "no" anyway.
     */
    describe('while the session is live: refused as malformed, and the genuine token still verifies', () => {
      it.each(REENCODINGS)('%s → token_malformed', async (_label, reencode) => {
        const st = await admin.createSession(site.siteId, 'u1');
        const token = await verificationTokenFor(gw, 'live', st);
        await refusedAtExchange(reencode(token), 'token_malformed');
        // The control: the same token, as issued, authenticates the same session.
        const genuineAnswer = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
        expect(genuineAnswer.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'u1' }, sessionId: decode(token).payload.sid });
      });
    });
  });
});

describe('identity tokens at sign-in (POST /live_api/v1/sessions)', () => {
  afterAll(async () => {
    // No refused token created the user it named.
    expect((await admin.call('get', `/sites/${site.siteId}/users/attacker`)).status).toBe(404);
  });

  it('baseline: a token forged here with the site’s secret is accepted (so each refusal below is caused by its one change)', async () => {
    const res = await signIn(identityToken({ claims: { sub: 'baseline' } }));
    expect(res.status).toBe(201);
    expect(res.body.user.userId).toBe('baseline');
  });

  describe('alg: none', () => {
    const cases = NONE_CASINGS.flatMap((alg) => [
      [alg, 'without a signature segment (h.p)', 'malformed'],
      [alg, 'with an empty signature (h.p.)', 'unsupported_algorithm'],
      [alg, 'with a valid HS256 signature of the same input', 'unsupported_algorithm'],
    ]);
    it.each(cases)('alg %s %s → %s', async (alg, form, reason) => {
      const h = encodeSegment({ alg, typ: 'JWT' });
      const p = encodeSegment({ sub: 'attacker', iat: nowSeconds(), exp: nowSeconds() + 600 });
      const token = form.startsWith('without')
        ? `${h}.${p}`
        : form.startsWith('with an empty')
          ? `${h}.${p}.`
          : signSegments(h, p, hmac('HS256', site.identitySecret));
      await refusedAtSignIn(token, reason!);
    });
  });

  describe('algorithm confusion', () => {
    it.each(PUBLIC_MATERIAL)('HS256 keyed with our public key material: %s → bad_signature', async (_label, material) =>
      refusedAtSignIn(identityToken({}, hmac('HS256', material())), 'bad_signature'));
    it('HS256 keyed with the site’s publishable key (public) → bad_signature', async () =>
      refusedAtSignIn(identityToken({}, hmac('HS256', site.publishableKey)), 'bad_signature'));
    it('HS256 keyed with another site’s identity secret → bad_signature', async () =>
      refusedAtSignIn(identityToken({}, hmac('HS256', otherSite.identitySecret)), 'bad_signature'));
    it('ES256 genuinely signed by verigate’s own signing key → unsupported_algorithm', async () =>
      refusedAtSignIn(identityToken({ header: { alg: 'ES256', kid: liveKid } }, ecdsa(realKey)), 'unsupported_algorithm'));
    it.each(foreignKeys())('%s with the attacker’s key → unsupported_algorithm', async (_label, alg, signer) =>
      refusedAtSignIn(identityToken({ header: { alg } }, signer), 'unsupported_algorithm'));
  });

  describe('HS384 and HS512 with the right secret are accepted (SPEC §4)', () => {
    it.each(['HS384', 'HS512'] as const)('%s → 201', async (alg) => {
      const res = await signIn(identityToken({ header: { alg }, claims: { sub: `accepted-${alg}` } }, hmac(alg, site.identitySecret)));
      expect(res.status).toBe(201);
      expect(res.body.user.userId).toBe(`accepted-${alg}`);
    });
  });

  describe('hostile kid (the key is the site’s secret, whatever the kid says)', () => {
    const cases = HOSTILE_KIDS.flatMap(([label, kid]) => [
      [label, kid, 'HS256 keyed with the empty string (/dev/null)'],
      [label, kid, 'HS256 keyed with the kid itself'],
    ] as const);
    it.each(cases)('kid %s, %s → bad_signature', async (_label, kid, how) => {
      const k = kid();
      const key = how.endsWith('(/dev/null)') ? '' : typeof k === 'string' ? k : JSON.stringify(k);
      const res = await refusedAtSignIn(identityToken({ header: { kid: k } }, hmac('HS256', key)), 'bad_signature');
      expect(res.headers['x-evil']).toBeUndefined();
    });
  });

  describe('headers that would let the token pick its own key (jku, x5u, jwk, x5c)', () => {
    it('jku → the attacker’s JWKS, ES256 with the attacker’s key → unsupported_algorithm, no request', async () => {
      await refusedAtSignIn(identityToken({ header: { alg: 'ES256', jku: `${attackerHost.url}/jwks.json`, kid: 'attacker' } }, ecdsa(attacker.privateKey)), 'unsupported_algorithm');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it('jku → the attacker’s host, HS256 with the attacker’s secret → bad_signature, no request', async () => {
      await refusedAtSignIn(identityToken({ header: { jku: `${attackerHost.url}/jwks.json` } }, hmac('HS256', ATTACKER_SECRET)), 'bad_signature');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it('x5u → the attacker’s certificate URL, ES256 → unsupported_algorithm, no request', async () => {
      await refusedAtSignIn(identityToken({ header: { alg: 'ES256', x5u: `${attackerHost.url}/cert.pem` } }, ecdsa(attackerCertificateKey())), 'unsupported_algorithm');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it('x5u → the attacker’s host, HS256 with the attacker’s secret → bad_signature, no request', async () => {
      await refusedAtSignIn(identityToken({ header: { x5u: `${attackerHost.url}/cert.pem` } }, hmac('HS256', ATTACKER_SECRET)), 'bad_signature');
      expect(attackerHost.takeRequests()).toEqual([]);
    });
    it('embedded jwk (the attacker’s EC key), ES256 → unsupported_algorithm', async () =>
      refusedAtSignIn(identityToken({ header: { alg: 'ES256', jwk: attackerJwk } }, ecdsa(attacker.privateKey)), 'unsupported_algorithm'));
    it('embedded jwk (an oct key holding the attacker’s secret), HS256 → bad_signature', async () =>
      refusedAtSignIn(identityToken({ header: { jwk: { kty: 'oct', k: b64url(ATTACKER_SECRET) } } }, hmac('HS256', ATTACKER_SECRET)), 'bad_signature'));
    it('x5c (the attacker’s self-signed certificate), ES256 → unsupported_algorithm', async () =>
      refusedAtSignIn(identityToken({ header: { alg: 'ES256', x5c: attackerX5c() } }, ecdsa(attackerCertificateKey())), 'unsupported_algorithm'));
  });

  describe('crit (signed with the right secret)', () => {
    it('crit ["exp"] → malformed', async () => refusedAtSignIn(identityToken({ header: { crit: ['exp'] } }), 'malformed'));
    it('crit ["unknown"] → malformed', async () =>
      refusedAtSignIn(identityToken({ header: { crit: ['unknown'], unknown: true } }), 'malformed'));
  });

  describe('tampered payload (header and signature kept)', () => {
    it.each([
      ['sub', { sub: 'admin' }],
      ['sid', { sid: 'sess_someone_else' }],
      ['aud', { aud: 'verigate-identity' }],
      ['exp', { exp: 9_999_999_999 }],
    ])('%s changed → bad_signature', async (_claim, change) => {
      const token = identityToken();
      await refusedAtSignIn(withPayload(token, { ...decode(token).payload, ...change }), 'bad_signature');
    });
  });

  describe('signature', () => {
    it('stripped (h.p.) → bad_signature', async () => {
      const [h, p] = identityToken().split('.');
      await refusedAtSignIn(`${h}.${p}.`, 'bad_signature');
    });
    it('truncated (last 2 characters removed; no longer valid base64url) → malformed', async () =>
      refusedAtSignIn(identityToken().slice(0, -2), 'malformed'));
    it('taken from another genuine token → bad_signature', async () => {
      const [h, p] = identityToken({ claims: { sub: 'attacker' } }).split('.');
      const s = identityToken({ claims: { sub: 'someone-else' } }).split('.')[2];
      await refusedAtSignIn(`${h}.${p}.${s}`, 'bad_signature');
    });
  });

  describe('segments', () => {
    it('two segments → malformed', async () => refusedAtSignIn(identityToken().split('.').slice(0, 2).join('.'), 'malformed'));
    it('four segments → malformed', async () => {
      const token = identityToken();
      await refusedAtSignIn(`${token}.${token.split('.')[2]}`, 'malformed');
    });
    it('five segments (JWE-shaped, alg HS256) → malformed', async () => {
      const token = identityToken();
      await refusedAtSignIn(`${token}.${b64url(randomBytes(16))}.${b64url(randomBytes(16))}`, 'malformed');
    });
  });

  describe('claims (signed with the right secret)', () => {
    it('missing exp → malformed', async () => refusedAtSignIn(identityToken({ claims: { exp: undefined } }), 'malformed'));
    it('exp as a string → malformed', async () =>
      refusedAtSignIn(identityToken({ claims: { exp: String(nowSeconds() + 600) } }), 'malformed'));
    it('exp = 1e308 (far future) → lifetime_too_long', async () => refusedAtSignIn(identityToken({ claims: { exp: 1e308 } }), 'lifetime_too_long'));
    it('exp = 1e308 without iat → lifetime_too_long', async () =>
      refusedAtSignIn(identityToken({ claims: { exp: 1e308, iat: undefined } }), 'lifetime_too_long'));
    it('exp = 1e400 (Infinity once parsed) → lifetime_too_long', async () => {
      const token = forge({ alg: 'HS256' }, rawJson({ sub: 'attacker', iat: nowSeconds() }, 'exp', '1e400'), hmac('HS256', site.identitySecret));
      await refusedAtSignIn(token, 'lifetime_too_long');
    });
    it('iat = -1e400 (minus Infinity) → lifetime_too_long', async () => {
      const token = forge({ alg: 'HS256' }, rawJson({ sub: 'attacker', exp: nowSeconds() + 60 }, 'iat', '-1e400'), hmac('HS256', site.identitySecret));
      await refusedAtSignIn(token, 'lifetime_too_long');
    });
    it('exp - iat over the site policy (3601 s > 3600 s) → lifetime_too_long', async () =>
      refusedAtSignIn(identityToken({ claims: { exp: nowSeconds() + 3601 } }), 'lifetime_too_long'));
    it('iat in the future (beyond 30 s) → not_yet_valid', async () =>
      refusedAtSignIn(identityToken({ claims: { iat: nowSeconds() + 120, exp: nowSeconds() + 600 } }), 'not_yet_valid'));
    it('nbf in the future (beyond 30 s) → not_yet_valid', async () =>
      refusedAtSignIn(identityToken({ claims: { nbf: nowSeconds() + 120 } }), 'not_yet_valid'));
    it('expired (beyond 30 s) → expired', async () =>
      refusedAtSignIn(identityToken({ claims: { iat: nowSeconds() - 600, exp: nowSeconds() - 31 } }), 'expired'));
    it('iat as a string → malformed', async () => refusedAtSignIn(identityToken({ claims: { iat: String(nowSeconds()) } }), 'malformed'));
    it('wrong aud → wrong_audience', async () => refusedAtSignIn(identityToken({ claims: { aud: 'https://api.verigate.test' } }), 'wrong_audience'));
    it('aud as an array without verigate-identity → wrong_audience', async () =>
      refusedAtSignIn(identityToken({ claims: { aud: [site.siteId, 'verigate'] } }), 'wrong_audience'));
    it('iss claiming to be verigate does not stand in for the secret (identity tokens have no iss contract) → bad_signature', async () =>
      refusedAtSignIn(identityToken({ claims: { iss: 'https://api.verigate.test' } }, hmac('HS256', ATTACKER_SECRET)), 'bad_signature'));
    it.each(['"x"', 'null', '1', '{"polluted":true}'])(
      'a "__proto__" claim of %s (prototype pollution) → malformed, nothing polluted',
      async (value) => {
        const claims = `{"sub":"proto-${value.length}","iat":${nowSeconds()},"exp":${nowSeconds() + 600},"__proto__":${value},"plan":"pro"}`;
        const res = await signIn(forge({ alg: 'HS256' }, claims, hmac('HS256', site.identitySecret)));
        expect(res.status).toBe(401);
        expect(res.body.reason).toBe('malformed');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );
    it('a payload that is not an object → malformed', async () =>
      refusedAtSignIn(forge({ alg: 'HS256' }, '["sub","attacker"]', hmac('HS256', site.identitySecret)), 'malformed'));
  });

  describe('wrong typ', () => {
    it('a verification token presented as an identity token → unsupported_algorithm', async () => refusedAtSignIn(issued, 'unsupported_algorithm'));
    it('a sandbox verification token presented as an identity token → unsupported_algorithm', async () =>
      refusedAtSignIn(sandboxIssued, 'unsupported_algorithm'));
  });

  describe('another environment, another site', () => {
    it('signed with the sandbox site’s identity secret → bad_signature', async () =>
      refusedAtSignIn(identityToken({}, hmac('HS256', sandboxSite.identitySecret)), 'bad_signature'));
    it('signed with another live site’s identity secret → bad_signature', async () =>
      refusedAtSignIn(identityToken({ claims: { siteKey: otherSite.publishableKey } }, hmac('HS256', otherSite.identitySecret)), 'bad_signature'));
    it('signed with the right secret but naming another site (siteKey) → site_key_mismatch', async () =>
      refusedAtSignIn(identityToken({ claims: { siteKey: otherSite.publishableKey } }), 'site_key_mismatch'));
    it('signed with the right secret but naming the sandbox site (siteKey) → site_key_mismatch', async () =>
      refusedAtSignIn(identityToken({ claims: { siteKey: sandboxSite.publishableKey } }), 'site_key_mismatch'));
  });
});

function segmentsMap(token: string, f: (segment: string, index: number) => string): string {
  return token
    .split('.')
    .map((s, i) => f(s, i))
    .join('.');
}

/** Base64 padding to a multiple of 4 (or `==` when none is due, which is still not base64url). */
function pad(segment: string): string {
  return segment + ('='.repeat((4 - (segment.length % 4)) % 4) || '==');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Changes the bits of the last character that encode nothing (a 64-byte
 * ES256 signature is 86 characters: the last carries 2 data bits and 4
 * unused ones), giving another string for the same bytes.
 */
function flipUnusedBits(segment: string): string {
  const unused = (segment.length * 6) % 8; // 516 bits for 512: 4 unused
  if (unused === 0) throw new Error('no unused bits in this segment');
  const last = ALPHABET.indexOf(segment.at(-1)!);
  return segment.slice(0, -1) + ALPHABET[last ^ 1];
}
