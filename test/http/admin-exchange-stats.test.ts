/**
 * GET /admin/v1/{environment}/stats/exchanges: the console's chart of
 * exchanges per second by outcome over the last 15 minutes, added up over
 * every instance in the store (each flushes what it counted about once a
 * second; the test flushes by hand instead of waiting).
 */
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/domain/clock';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { uniquePrefix } from '../support/redis';

let a: TestGateway;
let b: TestGateway;
const clock = new FrozenClock(Date.parse('2026-11-21T10:00:00.500Z'));

beforeAll(async () => {
  const prefix = uniquePrefix();
  const masterKey = randomBytes(32);
  // Flushed by hand below, never by the gateways' own timers.
  a = await startGateway({ prefix, masterKey, clock, exchangeCountsFlushMs: 3_600_000 });
  b = await startGateway({ prefix, masterKey, clock, exchangeCountsFlushMs: 3_600_000 });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const series = async (gw: TestGateway, env: 'live' | 'sandbox' = 'live') =>
  checked(await gw.http('admin').get(`/admin/v1/${env}/stats/exchanges`).set('Authorization', `Bearer ${gw.adminToken}`));

function countsOf(body: { series: { outcome: string; counts: number[] }[] }): Record<string, number> {
  return Object.fromEntries(body.series.map((s) => [s.outcome, s.counts.reduce((x, y) => x + y, 0)]));
}

it('adds up every instance’s exchanges by outcome, refusals by their code, one point a second', async () => {
  const admin = adminClient(a, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'ada');
  const token = await verificationTokenFor(a, 'live', await admin.createSession(site.siteId, 'ada'));
  for (const gw of [a, a, b]) expect((await exchange(gw, 'live', site.apiKey, { userVerificationToken: token })).status).toBe(200);
  await exchange(b, 'live', site.apiKey, { userVerificationToken: 'not-a-jwt' });
  await exchange(a, 'live', 'vg_live_sk_nope', { userVerificationToken: token });
  await exchange(b, 'live', undefined, { userVerificationToken: token });

  // B has not flushed: A's answer has only what is in the store and its own.
  await a.domains.live.exchangeStats.flush();
  expect(countsOf((await series(a)).body)).toEqual({ verified: 2, invalid_api_key: 1 });

  await b.domains.live.exchangeStats.flush();
  clock.advance(3000);
  await exchange(b, 'live', site.apiKey, { userVerificationToken: token });
  await b.domains.live.exchangeStats.flush();
  const res = await series(a);
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toMatchObject({ stepSeconds: 1, to: '2026-11-21T10:00:03.000Z', from: '2026-11-21T09:45:04.000Z' });
  expect(countsOf(res.body)).toEqual({ verified: 4, token_malformed: 1, invalid_api_key: 1, missing_api_key: 1 });
  const verified = res.body.series.find((s: { outcome: string }) => s.outcome === 'verified').counts as number[];
  expect(verified).toHaveLength(900);
  // 10:00:00 is three seconds before the last point; 10:00:03 is the last.
  expect([verified[896], verified[899]]).toEqual([3, 1]);
  expect(countsOf((await series(a, 'sandbox')).body)).toEqual({});
});

it('drops what is older than 15 minutes', async () => {
  // The last exchange (10:00:03) is the first second of the window, then out of it.
  clock.advance(15 * 60_000 - 1000);
  const counts = countsOf((await series(b)).body);
  expect(counts).toEqual({ verified: 1 });
  clock.advance(1000);
  expect((await series(b)).body.series).toEqual([]);
});
