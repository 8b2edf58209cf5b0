/**
 * Property-based tests (fast-check) over the exchange, sign-in and the
 * session endpoints, on real Redis. Whatever arrives — any JSON body, any
 * string as a token, any header value, any mutation of a genuine token —
 * the gateway:
 *
 * - never answers 5xx, and every answer matches openapi.yaml;
 * - never says `isAuthenticated: true` unless the token is byte-identical to
 *   one verigate issued, for this site, for a session that is still live;
 * - never signs anyone in (201) unless the identity token was signed with the
 *   site's secret using HS256/384/512 and carries a valid `exp`.
 *
 * The clock is frozen, so every genuine token stays valid for the whole file.
 */
import fc from 'fast-check';
import type { Response } from 'supertest';
import { adminClient, checked, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { decode, forge, hmac, fixedSignature, encodeSegment, HMAC_HASH, type HmacAlgorithm } from './support/forge';
import { payloadOf, signedWithSecret, timeClaimsAcceptable } from './support/identity-oracle';
import { applyMutations, headerCharArb, mutationsArb } from './support/mutations';
import { presentedBearerToken } from './support/bearer-oracle';

const EXCHANGE = '/live_api/s2s/v1/users/verification';
const SIGN_IN = '/live_api/v1/sessions';
const RUNS = 150;
const MAX_IDENTITY_AGE = 3600;

let gw: TestGateway;
let site: Provisioned;
let otherSite: Provisioned;
let sandboxSite: Provisioned;
/** Session tokens of live sessions of `site`. */
const liveSessionTokens = new Set<string>();
/** Verification tokens verigate issued for live sessions of `site`: the only strings that may authenticate. */
const liveVerificationTokens = new Map<string, string>();
/** Genuine tokens that must never authenticate with `site`'s key: signed-out session, other site, other environment. */
let endedToken: string;
let otherSiteToken: string;
let sandboxToken: string;
let liveToken: string;

const nowSeconds = () => Math.floor(gw.clock.now() / 1000);

beforeAll(async () => {
  gw = await startGateway();
  const admin = adminClient(gw, 'live');
  site = await admin.provisionSite({ name: 'Target' });
  otherSite = await admin.provisionSite({ name: 'Other' });
  await admin.putUser(site.siteId, 'u1', { productAccess: [{ productId: 'paid', expiresAt: null }] });
  await admin.putUser(otherSite.siteId, 'u1');

  const st = await admin.createSession(site.siteId, 'u1');
  liveSessionTokens.add(st);
  liveToken = await verificationTokenFor(gw, 'live', st);
  liveVerificationTokens.set(liveToken, decode(liveToken).payload.sid as string);

  const ended = await admin.createSession(site.siteId, 'u1');
  endedToken = await verificationTokenFor(gw, 'live', ended);
  expect(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${ended}`)).status).toBe(204);

  otherSiteToken = await verificationTokenFor(gw, 'live', await admin.createSession(otherSite.siteId, 'u1'));
  const sandbox = adminClient(gw, 'sandbox');
  sandboxSite = await sandbox.provisionSite();
  await sandbox.putUser(sandboxSite.siteId, 'u1');
  sandboxToken = await verificationTokenFor(gw, 'sandbox', await sandbox.createSession(sandboxSite.siteId, 'u1'));
});
afterAll(() => gw.close());

/** No 5xx, and the answer is one openapi.yaml describes. */
function wellBehaved(res: Response): Response {
  expect(res.status).toBeLessThan(500);
  return checked(res);
}

/**
 * The exchange's promise: authenticated only for a token verigate issued for
 * a live session of the key's site, and then for that session. Returns
 * whether it was authenticated, so a property can prove it was exercised.
 */
function expectExchangeHonest(res: Response, token: unknown): boolean {
  if (res.status !== 200 || res.body.isAuthenticated !== true) return false;
  expect(typeof token === 'string' && liveVerificationTokens.has(token)).toBe(true);
  expect(res.body.sessionId).toBe(liveVerificationTokens.get(token as string));
  return true;
}

const postExchange = (rawBody: string, apiKey: string | undefined = site.apiKey) => {
  let req = gw.http('live').post(EXCHANGE).set('Content-Type', 'application/json');
  if (apiKey !== undefined) req = req.set('X-API-KEY', apiKey);
  return req.send(rawBody).then(wellBehaved);
};

const postSignIn = (rawBody: string) =>
  gw.http('live').post(SIGN_IN).set('Content-Type', 'application/json').send(rawBody).then(wellBehaved);

/** JSON text for any value fast-check makes (`undefined` and functions have none: send `null`). */
const jsonText = (v: unknown): string => JSON.stringify(v) ?? 'null';

/** Strings shaped like JWTs: hostile headers over genuine or arbitrary claims, any signature. */
function jwtShapedArb(): fc.Arbitrary<string> {
  const genuine = decode(liveToken);
  const header = fc.record(
    {
      alg: fc.oneof(fc.constantFrom('none', 'None', 'ES256', 'HS256', 'HS512', 'RS256', 'EdDSA', ''), fc.string(), fc.integer()),
      typ: fc.oneof(fc.constant(genuine.header.typ), fc.string()),
      kid: fc.oneof(fc.constant(genuine.header.kid), fc.string(), fc.jsonValue()),
      jku: fc.constant('http://127.0.0.1:1/jwks.json'),
      jwk: fc.jsonValue(),
      crit: fc.array(fc.string(), { maxLength: 2 }),
      b64: fc.boolean(),
    },
    { requiredKeys: ['alg'] },
  );
  const claims = fc.oneof(
    fc.constant(genuine.payload),
    fc.record({ sub: fc.string(), sid: fc.string(), aud: fc.constant(site.siteId), exp: fc.integer(), iat: fc.integer() }, { requiredKeys: [] }),
    fc.jsonValue(),
  );
  const signature = fc.oneof(
    fc.constant(genuine.segments[2]),
    fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b).toString('base64url')),
    fc.constant(''),
  );
  return fc
    .tuple(header, claims, signature)
    .map(([h, p, s]) => `${encodeSegment(h)}.${encodeSegment(jsonText(p))}.${s}`);
}

describe('the exchange (POST /live_api/s2s/v1/users/verification)', () => {
  it('any JSON body: no 5xx, answers per openapi.yaml, authenticated only for a live token verigate issued', async () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom(liveToken, endedToken, otherSiteToken, sandboxToken),
      fc.jsonValue(),
    );
    const body = fc.oneof(
      fc.json().map((text) => ({ text, token: undefined as unknown })),
      fc.anything().map((v) => ({ text: jsonText(v), token: undefined as unknown })),
      // Well-formed bodies with a genuine token, so the property meets authenticated answers too.
      fc
        .record({ userVerificationToken: fc.constantFrom(liveToken, endedToken, otherSiteToken, sandboxToken), productId: fc.string({ minLength: 1, maxLength: 20 }) }, { requiredKeys: ['userVerificationToken'] })
        .map((v) => ({ text: JSON.stringify(v), token: v.userVerificationToken as unknown })),
      fc
        .tuple(
          fc.record({ userVerificationToken: token, productId: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }),
          fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 2 }),
          fc.boolean(),
        )
        .map(([known, extra, withExtra]) => {
          const v = withExtra ? { ...extra, ...known } : known;
          return { text: JSON.stringify(v), token: (v as { userVerificationToken?: unknown }).userVerificationToken };
        }),
    );
    let authenticated = 0;
    await fc.assert(
      fc.asyncProperty(body, async ({ text, token: t }) => {
        const res = await postExchange(text);
        expect([200, 400, 413]).toContain(res.status);
        if (expectExchangeHonest(res, t)) authenticated++;
      }),
      { numRuns: RUNS },
    );
    // The property was exercised, not vacuous: some bodies did authenticate.
    expect(authenticated).toBeGreaterThan(0);
  });

  it('any string as the token: 200, not authenticated (none of them is one verigate issued)', async () => {
    const token = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,90}$/),
      jwtShapedArb(),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        fc.pre(!liveVerificationTokens.has(t));
        const res = await postExchange(JSON.stringify({ userVerificationToken: t }));
        expect(res.status).toBe(200);
        expect(res.body.isAuthenticated).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutations of genuine tokens: authenticated only when byte-identical to the live one (and then always)', async () => {
    let authenticated = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(() => liveToken) },
          { weight: 1, arbitrary: fc.constantFrom(() => endedToken, () => otherSiteToken, () => sandboxToken) },
        ),
        mutationsArb(),
        async (base, mutations) => {
          const original = base();
          const mutated = applyMutations(original, mutations);
          const res = await postExchange(JSON.stringify({ userVerificationToken: mutated }));
          expect(res.status).toBe(200);
          if (expectExchangeHonest(res, mutated)) authenticated++;
          if (mutated === liveToken) expect(res.body.isAuthenticated).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
    // The property was exercised, not vacuous: the unmutated live token got through.
    expect(authenticated).toBeGreaterThan(0);
  });

  it('any X-API-KEY and Authorization header values: no 5xx, 200 only for the site’s API key', async () => {
    const value = fc.string({ unit: headerCharArb(), maxLength: 80 });
    const apiKey = fc.oneof(
      value,
      mutationsArb(headerCharArb()).map((ms) => applyMutations(site.apiKey, ms)),
      fc.constantFrom(site.apiKey, ` ${site.apiKey} `, sandboxSite.apiKey, site.publishableKey, `Bearer ${site.apiKey}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(apiKey, { nil: undefined }), fc.option(value, { nil: undefined }), async (key, authorization) => {
        let req = gw.http('live').post(EXCHANGE);
        if (key !== undefined) req = req.set('X-API-KEY', key);
        if (authorization !== undefined) req = req.set('Authorization', authorization);
        const res = wellBehaved(await req.send({ userVerificationToken: liveToken }));
        expect([200, 401, 429]).toContain(res.status);
        const presented = key?.replace(/^[ \t]+|[ \t]+$/g, '');
        if (res.status === 200) expect(presented).toBe(site.apiKey);
        if (presented === site.apiKey) expect(res.status).toBe(200);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the session endpoints (Authorization: Bearer <session token>)', () => {
  it('any Authorization value: no 5xx; a session or a token exactly when it presents a live session token as `Bearer <st>`', async () => {
    const [st] = liveSessionTokens as Set<string>;
    const value = fc.oneof(
      fc.string({ unit: headerCharArb(), maxLength: 80 }),
      mutationsArb(headerCharArb()).map((ms) => applyMutations(`Bearer ${st}`, ms)),
      fc.constantFrom(`Bearer ${st}`, `bearer  ${st} `, st!, `Basic ${st}`, `Bearer ${st}junk`, `Bearer ${st} junk`, `Bearer\t${st}`, `Bearer${st}`),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(value, fc.boolean(), async (authorization, issue) => {
        const req = issue ? gw.http('live').post('/live_api/v1/users/verification-token') : gw.http('live').get('/live_api/v1/session');
        const res = wellBehaved(await req.set('Authorization', authorization));
        const presented = presentedBearerToken(authorization);
        const holdsLiveSession = presented !== undefined && liveSessionTokens.has(presented);
        const answered = issue ? res.status === 200 : res.body.isAuthenticated === true;
        expect({ authorization, answered }).toEqual({ authorization, answered: holdsLiveSession });
        if (issue && answered) {
          // A token issued here is a genuine one for a live session: it may authenticate from now on.
          liveVerificationTokens.set(res.body.userVerificationToken, decode(res.body.userVerificationToken).payload.sid as string);
        }
        if (answered) accepted++;
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('sign-in (POST /live_api/v1/sessions)', () => {
  /** Any 201 must come from a token signed with the site's secret (HS*) with a valid exp. */
  function expectSignInHonest(res: Response, identityToken: unknown): void {
    if (res.status !== 201) return;
    expect(typeof identityToken).toBe('string');
    expect(signedWithSecret(identityToken as string, site.identitySecret)).toBe(true);
    expect(timeClaimsAcceptable(payloadOf(identityToken as string) ?? {}, nowSeconds(), MAX_IDENTITY_AGE)).toBe(true);
  }

  /** With a `jti`, a token of its own (a token signs in once, SPEC §7). */
  const genuineIdentityToken = (jti?: string) =>
    forge(
      { alg: 'HS256', typ: 'JWT' },
      { sub: 'prop-user', email: 'p@example.com', iat: nowSeconds(), exp: nowSeconds() + 600, ...(jti !== undefined && { jti }) },
      hmac('HS256', site.identitySecret),
    );

  it('any JSON body: no 5xx, answers per openapi.yaml, never a session', async () => {
    const body = fc.oneof(
      fc.json(),
      fc.anything().map(jsonText),
      fc
        .record(
          {
            publishableKey: fc.oneof(fc.constant(site.publishableKey), fc.constant(sandboxSite.publishableKey), fc.string(), fc.jsonValue()),
            identityToken: fc.oneof(fc.string(), fc.jsonValue(), jwtShapedArb()),
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const res = await postSignIn(text);
        expect(res.status).not.toBe(201);
        expect([400, 401, 403, 413]).toContain(res.status);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutations of a genuine identity token: 201 only if still the site’s HMAC of an unchanged input, and only once', async () => {
    let signedIn = 0;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(mutationsArb(), async (mutations) => {
        const genuine = genuineIdentityToken(`mutation-run-${run++}`);
        const token = applyMutations(genuine, mutations);
        const body = JSON.stringify({ publishableKey: site.publishableKey, identityToken: token });
        const res = await postSignIn(body);
        expect([201, 400, 401]).toContain(res.status);
        expectSignInHonest(res, token);
        if (token === genuine) expect(res.status).toBe(201);
        if (res.status === 201) {
          signedIn++;
          // The same token, or the genuine one it still verifies as, never signs in again.
          for (const again of [body, JSON.stringify({ publishableKey: site.publishableKey, identityToken: genuine })]) {
            const replay = await postSignIn(again);
            expect([replay.status, replay.body.reason]).toEqual([401, 'replayed']);
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(signedIn).toBeGreaterThan(0);
  });

  it('a genuine identity token’s payload swapped for arbitrary claims (signature kept): never a session', async () => {
    const genuine = decode(genuineIdentityToken());
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }), fc.jsonValue(), async (extra, exp) => {
        const claims = { ...genuine.payload, ...extra, ...(exp !== null && { exp }) };
        const token = `${genuine.segments[0]}.${encodeSegment(claims)}.${genuine.segments[2]}`;
        fc.pre(token.split('.')[1] !== genuine.segments[1]);
        const res = await postSignIn(JSON.stringify({ publishableKey: site.publishableKey, identityToken: token }));
        expect(res.status).not.toBe(201);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary claims and algorithms, signed with the right secret or not: 201 only for HS* with the site’s secret and a valid exp', async () => {
    const now = nowSeconds();
    /** Mostly a plausible value, sometimes a trap: enough valid tokens that the property is exercised both ways. */
    const mostly = <T, U>(valid: fc.Arbitrary<T>, trap: fc.Arbitrary<U>) =>
      fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: trap });
    const time = (min: number, max: number) =>
      mostly(
        fc.integer({ min: now + min, max: now + max }),
        fc.oneof(fc.double(), fc.string({ maxLength: 12 }), fc.constantFrom(1e308, -1e308, 0, Number.MAX_SAFE_INTEGER), fc.integer()),
      );
    const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null));
    const claims = fc
      .tuple(
        fc.dictionary(fc.string({ maxLength: 10 }), mostly(scalar, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 3 }),
        fc.record(
          {
            sub: mostly(fc.string({ minLength: 1, maxLength: 20 }), fc.oneof(fc.integer(), fc.constant(''), fc.jsonValue())),
            userId: fc.string({ maxLength: 20 }),
            user: mostly(fc.record({ id: fc.string({ maxLength: 10 }), email: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }), fc.jsonValue()),
            email: mostly(fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null)), fc.oneof(fc.integer(), fc.string({ minLength: 321, maxLength: 330 }))),
            exp: time(-60, MAX_IDENTITY_AGE + 60),
            iat: time(-MAX_IDENTITY_AGE, 60),
            nbf: time(-600, 60),
            aud: mostly(fc.constant('verigate-identity'), fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.constantFrom('verigate-identity', 'x')))),
            siteKey: mostly(fc.constant(site.publishableKey), fc.constantFrom(otherSite.publishableKey, sandboxSite.publishableKey)),
          },
          { requiredKeys: ['exp'] },
        ),
      )
      .map(([extra, known]) => ({ ...extra, ...known }) as Record<string, unknown>);
    const signing = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<HmacAlgorithm>('HS256', 'HS384', 'HS512').map((alg) => ({ alg, key: site.identitySecret, as: alg as string })) },
      { weight: 1, arbitrary: fc.constantFrom<HmacAlgorithm>('HS256', 'HS512').map((alg) => ({ alg, key: otherSite.identitySecret, as: alg as string })) },
      // The header names one algorithm, the MAC is another's.
      { weight: 1, arbitrary: fc.constant({ alg: 'HS256' as HmacAlgorithm, key: site.identitySecret, as: 'HS512' }) },
      { weight: 1, arbitrary: fc.constantFrom('none', 'None', 'ES256', 'hs256', 'HS256 ').map((as) => ({ alg: null, key: site.identitySecret, as })) },
    );
    let signedIn = 0;
    await fc.assert(
      fc.asyncProperty(claims, signing, async (c, s) => {
        const token = forge({ alg: s.as, typ: 'JWT' }, c, s.alg === null ? fixedSignature(Buffer.alloc(0)) : hmac(s.alg, s.key));
        const res = await postSignIn(JSON.stringify({ publishableKey: site.publishableKey, identityToken: token }));
        expect([201, 400, 401]).toContain(res.status);
        expectSignInHonest(res, token);
        if (res.status === 201) {
          expect(s.as in HMAC_HASH && s.alg === s.as && s.key === site.identitySecret).toBe(true);
          signedIn++;
        }
      }),
      { numRuns: 200 },
    );
    expect(signedIn).toBeGreaterThan(0);
  });
});
