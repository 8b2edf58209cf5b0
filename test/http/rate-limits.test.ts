import { createSecretKey } from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';
import type request from 'supertest';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type GatewayOptions, type Provisioned, type TestGateway } from '../support/gateway';
import { expectResponseToMatchSpec } from '../support/openapi';
import { pollUntil } from '../support/poll';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { generateCredential } from '../../src/domain/credentials';

/**
 * Rate limits (src/http/rate-limits.ts), each with a small limit:
 * - exchanges per API key, counted in the instance's memory;
 * - refused API keys per client address, counted in the store (shared by
 *   instances) with an in-memory block once exceeded;
 * - sign-ins per site (per address: test/http/sign-in.test.ts).
 *
 * Decision: the failed-key limit counts only refusals and is checked only
 * for them. A flood of bad keys from an address gets 429 for more bad keys,
 * while a valid key from that same address still gets its answer: the
 * address may be a NAT or a proxy shared with good traffic, and locking
 * good traffic out would hand an attacker a denial of service for free.
 */

jest.setTimeout(30_000);

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown> };

function expectRateLimited(res: Reply | request.Response, points: number, durationSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(durationSeconds);
  expect(res.headers.ratelimit).toBe(`limit=${points}, remaining=0, reset=${retryAfter}`);
  expect(res.headers['ratelimit-policy']).toBe(`${points};w=${durationSeconds}`);
}

function expectUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body.code).toBe('store_unavailable');
  expect(res.headers['retry-after']).toBeDefined();
}

/** An exchange sent from another loopback address (127.0.0.2, …): another client, as the gateway sees it. */
async function exchangeFrom(gw: TestGateway, localAddress: string, apiKey: string, body: unknown): Promise<Reply> {
  const url = new URL('/live_api/s2s/v1/users/verification', gw.urls.live);
  const payload = JSON.stringify(body);
  // The callbacks only collect; every assertion runs once the response is in (a failed
  // expectation thrown inside a callback would surface as a timeout, not as itself).
  const { status, headers, text } = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), 'X-API-KEY': apiKey },
      },
      (res) => {
        let received = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (received += chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: received }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  const reply = { status, headers, body: JSON.parse(text) as Record<string, unknown> };
  expectResponseToMatchSpec({ ...reply, text }, 'POST', url.pathname);
  return reply;
}

async function provisionWithToken(gw: TestGateway) {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'u1');
  const token = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'u1'));
  return { admin, site, token };
}

/** A well-formed API key of `site` that has been revoked. */
async function revokedKeyOf(admin: ReturnType<typeof adminClient>, site: Provisioned): Promise<string> {
  const doomed = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'doomed' });
  expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${doomed.body.keyId}`)).status).toBe(204);
  return doomed.body.apiKey as string;
}

/** A gateway on a redis-server of its own (which the test may kill or freeze), with a short command timeout. */
async function onPrivateRedis(rateLimits: GatewayOptions['rateLimits']) {
  const server = await startRedisServer();
  const gw = await startGateway({ redisUrl: server.url, rateLimits, redisOverrides: { commandTimeoutMs: 300 } });
  return { server, gw };
}

describe('exchanges per API key (in memory)', () => {
  const LIMIT = { points: 3, durationSeconds: 60 };
  let gw: TestGateway;
  let site: Provisioned;
  let token: string;
  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    // A strict refused-key limit too: a limited (valid) key must not count as a refused one.
    gw = await startGateway({ rateLimits: { exchangePerApiKey: LIMIT, failedApiKeyPerIp: { points: 1, durationSeconds: 60 } } });
    ({ admin, site, token } = await provisionWithToken(gw));
  });
  afterAll(() => gw.close());

  it('answers 429 rate_limited with Retry-After, RateLimit and RateLimit-Policy past the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT.points; i++) {
      const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
      expect(res.body.isAuthenticated).toBe(true);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
    expectRateLimited(limited, LIMIT.points, LIMIT.durationSeconds);
    expect(limited.body).not.toHaveProperty('isAuthenticated');
    // It stays limited: not one more exchange slips through.
    expectRateLimited(await exchange(gw, 'live', site.apiKey, { userVerificationToken: token }), LIMIT.points, LIMIT.durationSeconds);
  });

  it('leaves other keys alone: another key of the same site, and another site’s key', async () => {
    const second = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'second' });
    expect(second.status).toBe(201);
    const res = await exchange(gw, 'live', second.body.apiKey, { userVerificationToken: token });
    expect(res.status).toBe(200);
    expect(res.body.isAuthenticated).toBe(true);

    const other = await provisionWithToken(gw);
    const otherRes = await exchange(gw, 'live', other.site.apiKey, { userVerificationToken: other.token });
    expect(otherRes.body.isAuthenticated).toBe(true);
  });

  it('a limited key is still a valid key: its 429s do not count as refused keys', async () => {
    for (let i = 0; i < 3; i++) expect((await exchange(gw, 'live', site.apiKey, { userVerificationToken: token })).status).toBe(429);
    // With a refused-key limit of 1, any of those counted would make this a 429.
    const bad = await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('invalid_api_key');
  });
});

describe('refused API keys per client address (in the store)', () => {
  const LIMIT = { points: 3, durationSeconds: 60 };
  let gw: TestGateway;
  let site: Provisioned;
  let token: string;
  let revokedKey: string;

  beforeAll(async () => {
    gw = await startGateway({ rateLimits: { failedApiKeyPerIp: LIMIT } });
    let admin: ReturnType<typeof adminClient>;
    ({ admin, site, token } = await provisionWithToken(gw));
    revokedKey = await revokedKeyOf(admin, site);
  });
  afterAll(() => gw.close());

  it('after N refused lookups, further well-formed bad keys from the address get 429; malformed keys stay 401 without the store', async () => {
    const refusals = [
      await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }),
      await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }),
      await exchange(gw, 'live', revokedKey, { userVerificationToken: token }),
    ];
    expect(refusals.map((r) => [r.status, r.body.code])).toEqual([
      [401, 'invalid_api_key'],
      [401, 'invalid_api_key'],
      [401, 'invalid_api_key'],
    ]);
    for (const bad of [generateCredential('live', 'sk'), revokedKey]) {
      expectRateLimited(await exchange(gw, 'live', bad, { userVerificationToken: token }), LIMIT.points, LIMIT.durationSeconds);
    }
    // A typo, another environment's key or no key costs no store work: refused as such, never counted (SPEC §2).
    const cheap: [string | undefined, string][] = [
      ['not-a-key', 'invalid_api_key'],
      [generateCredential('sandbox', 'sk'), 'api_key_wrong_environment'],
      [undefined, 'missing_api_key'],
    ];
    for (const [bad, code] of cheap) {
      const res = await exchange(gw, 'live', bad, { userVerificationToken: token });
      expect([res.status, res.body.code]).toEqual([401, code]);
    }
  });

  it('a VALID key from the same address still gets its 200, again and again', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
      expect(res.status).toBe(200);
      expect(res.body.isAuthenticated).toBe(true);
      // …and bad keys in between are still refused 429.
      expect((await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token })).status).toBe(429);
    }
  });

  it('another client address is not affected', async () => {
    const res = await exchangeFrom(gw, '127.0.0.2', generateCredential('live', 'sk'), { userVerificationToken: token });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_api_key');
  });

  it('the count lives in the store: another instance sharing it refuses the next bad key at once', async () => {
    const peer = await startGateway({ prefix: gw.prefix, masterKey: gw.masterKey, clock: gw.clock, rateLimits: { failedApiKeyPerIp: LIMIT } });
    try {
      expectRateLimited(await exchange(peer, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }), LIMIT.points, LIMIT.durationSeconds);
      const ok = await exchange(peer, 'live', site.apiKey, { userVerificationToken: token });
      expect(ok.body.isAuthenticated).toBe(true);
    } finally {
      await peer.close();
    }
  });

});

describe.each([
  ['the test store', undefined],
  ['the embedded store', 'memory'],
] as const)('refused API keys per environment (%s)', (_label, store) => {
  const LIMIT = { points: 3, durationSeconds: 60 };
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    gw = await startGateway({ ...(store && { store }), rateLimits: { failedApiKeyPerIp: LIMIT } });
    ({ token } = await provisionWithToken(gw));
  });
  afterAll(() => gw.close());

  const refusals = async (env: 'live' | 'sandbox', count: number): Promise<request.Response[]> => {
    const replies: request.Response[] = [];
    for (let i = 0; i < count; i++) replies.push(await exchange(gw, env, generateCredential(env, 'sk'), { userVerificationToken: token }));
    return replies;
  };

  const codes = (replies: request.Response[]) => replies.map((r) => [r.status, r.body.code]);

  it('sandbox reaches its own 429; neither environment’s refusals count in the other', async () => {
    expect(codes(await refusals('sandbox', 2))).toEqual([[401, 'invalid_api_key'], [401, 'invalid_api_key']]);
    // Live, from the same address, starts from a full allowance and counts to its own limit…
    const live = await refusals('live', LIMIT.points + 1);
    expect(codes(live.slice(0, LIMIT.points))).toEqual(Array(LIMIT.points).fill([401, 'invalid_api_key']));
    expectRateLimited(live[LIMIT.points] as request.Response, LIMIT.points, LIMIT.durationSeconds);
    // …while sandbox still has the one refusal left that its own two earlier ones leave it…
    expect(codes(await refusals('sandbox', 1))).toEqual([[401, 'invalid_api_key']]);
    // …and is limited once it has used that.
    expectRateLimited((await refusals('sandbox', 1))[0] as request.Response, LIMIT.points, LIMIT.durationSeconds);
  });
});

describe('refused sign-ins per site (in the store)', () => {
  const LIMIT = { points: 2, durationSeconds: 60 };
  let gw: TestGateway;
  let busy: Provisioned;
  let quiet: Provisioned;

  beforeAll(async () => {
    gw = await startGateway({ rateLimits: { signInFailuresPerSite: LIMIT } });
    const admin = adminClient(gw, 'live');
    busy = await admin.provisionSite({ name: 'Busy' });
    quiet = await admin.provisionSite({ name: 'Quiet' });
  });
  afterAll(() => gw.close());

  const identityToken = async (site: Provisioned, sub: string, secret = site.identitySecret) => {
    const now = Math.floor(gw.clock.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setJti(`${sub}-${Math.random()}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(createSecretKey(Buffer.from(secret)));
  };
  const signIn = async (site: Provisioned, identityToken: string) =>
    checked(await gw.http('live').post('/live_api/v1/sessions').send({ publishableKey: site.publishableKey, identityToken }));
  const forged = (site: Provisioned, sub: string) => identityToken(site, sub, `vg_live_is_${'x'.repeat(43)}`);

  it('valid sign-ins never count: many more than the limit all sign in', async () => {
    for (let i = 0; i < LIMIT.points * 3; i++) expect((await signIn(busy, await identityToken(busy, `ok-${i}`))).status).toBe(201);
  });

  it('refusals count: past the limit a bad token is 429 instead of 401, another site is untouched', async () => {
    const refused = [await signIn(busy, await forged(busy, 'a')), await signIn(busy, await forged(busy, 'b'))];
    expect(refused.map((r) => [r.status, r.body.code, r.body.reason])).toEqual([
      [401, 'invalid_identity_token', 'bad_signature'],
      [401, 'invalid_identity_token', 'bad_signature'],
    ]);
    expectRateLimited(await signIn(busy, await forged(busy, 'c')), LIMIT.points, LIMIT.durationSeconds);
    expectRateLimited(await signIn(busy, 'not-a-jwt'), LIMIT.points, LIMIT.durationSeconds);
    const other = await signIn(quiet, await forged(quiet, 'a'));
    expect([other.status, other.body.code]).toEqual([401, 'invalid_identity_token']);
  });

  it('a valid identity token still signs in once the site’s failure budget is spent', async () => {
    expectRateLimited(await signIn(busy, await forged(busy, 'd')), LIMIT.points, LIMIT.durationSeconds);
    for (let i = 0; i < 3; i++) {
      const res = await signIn(busy, await identityToken(busy, `after-${i}`));
      expect(res.status).toBe(201);
      expect(res.body.user.userId).toBe(`after-${i}`);
    }
  });
});

describe('when the store cannot count (a private redis-server)', () => {
  const LIMIT = { points: 3, durationSeconds: 60 };
  let server: RedisServerHandle;
  let gw: TestGateway;
  let site: Provisioned;
  let token: string;

  beforeAll(async () => {
    ({ server, gw } = await onPrivateRedis({ failedApiKeyPerIp: LIMIT }));
    ({ site, token } = await provisionWithToken(gw));
  });
  afterAll(async () => {
    server.thaw();
    await gw.close();
    await server.stop();
  });

  it('while Redis is down a key that needs a lookup is 503 store_unavailable (never 401 nor 200); a malformed one is still 401', async () => {
    await server.kill();
    try {
      // Well-formed but unknown: the lookup itself fails.
      expectUnavailable(await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }));
      // The valid key: no guess either way (the session read fails even with the key cached).
      expectUnavailable(await exchange(gw, 'live', site.apiKey, { userVerificationToken: token }));
      // Malformed: refused without any store call.
      for (const bad of ['not-a-key', generateCredential('live', 'sk').slice(0, -1)]) {
        const res = await exchange(gw, 'live', bad, { userVerificationToken: token });
        expect([res.status, res.body.code]).toEqual([401, 'invalid_api_key']);
      }
    } finally {
      await server.restart();
    }
    // Healed by itself: lookups are answered (and refusals counted) again.
    await pollUntil(
      () => exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }),
      (res) => res.status === 401 || res.status === 429,
      { timeoutMs: 15_000, intervalMs: 50, what: 'a bad key to be refused again' },
    );
  });

});

/**
 * The in-memory block (`blockInMemoryWhenExceeded`, rate-limiter-flexible's
 * `inMemoryBlockOnConsumed`): once an address is over the refused-key limit,
 * its refusals are limited from memory without asking Redis. Shown with Redis
 * frozen: a refusal that needs no store read (a revoked key, its record cached
 * in-process) then gets its 429 only if the count is not consulted.
 */
describe('an address over the refused-key limit is blocked in memory (a private redis-server)', () => {
  const LIMIT = { points: 3, durationSeconds: 60 };
  let server: RedisServerHandle;
  let gw: TestGateway;
  let token: string;
  let revokedKey: string;

  beforeAll(async () => {
    ({ server, gw } = await onPrivateRedis({ failedApiKeyPerIp: LIMIT }));
    const { admin, site, token: issued } = await provisionWithToken(gw);
    token = issued;
    revokedKey = await revokedKeyOf(admin, site);
  });
  afterAll(async () => {
    server?.thaw();
    await gw?.close();
    await server?.stop();
  });

  it('refuses the blocked address 429 with Redis frozen, for a refusal that needs no store read', async () => {
    // The revoked key first: its lookup caches its (revoked) record in-process.
    const counted = [revokedKey, generateCredential('live', 'sk'), generateCredential('live', 'sk')];
    const refused: [number, unknown][] = [];
    for (const key of counted) {
      const res = await exchange(gw, 'live', key, { userVerificationToken: token });
      refused.push([res.status, res.body.code]);
    }
    expect(refused).toEqual(Array(LIMIT.points).fill([401, 'invalid_api_key']));
    // One past the limit: 429, and the address is now blocked in memory.
    expectRateLimited(await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }), LIMIT.points, LIMIT.durationSeconds);
    expect(gw.records.live.invalidation.active).toBe(true);

    server.freeze();
    try {
      // Refused from the cache, limited from memory: neither asks Redis, so no 503.
      expectRateLimited(await exchange(gw, 'live', revokedKey, { userVerificationToken: token }), LIMIT.points, LIMIT.durationSeconds);
      // The control: a refusal that does need the store (an unknown key's lookup) fails closed…
      expectUnavailable(await exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }));
      // …and a malformed key is refused without it.
      const res = await exchange(gw, 'live', 'not-a-key', { userVerificationToken: token });
      expect([res.status, res.body.code]).toEqual([401, 'invalid_api_key']);
    } finally {
      server.thaw();
    }
  });
});
