/**
 * The exchange's two headers for @verigate/node's local mode (SPEC §12;
 * openapi.yaml XVerigateReusableUntil, XVerigateApiKeyExpiresAt): a
 * verified answer says until when it holds without an event (the session's
 * idle or absolute end, or the key's expiry, whichever is first); an
 * expiring key says when it expires. A session that ends by itself emits
 * no event, so without the first header a local verifier would answer a
 * session past its end.
 */
import { adminClient, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'ada', { name: 'Ada' });
});
afterAll(() => gw.close());

const iso = (ms: number) => new Date(ms).toISOString();

it('a verified answer carries the session idle end; past it the exchange says session_ended', async () => {
  const session = await admin.createSession(site.siteId, 'ada', { idleTimeoutSeconds: 60 });
  const token = await verificationTokenFor(gw, 'live', session);
  const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
  expect(res.body.isAuthenticated).toBe(true);
  const until = Date.parse(res.headers['x-verigate-reusable-until'] as string);
  expect(until).toBe(gw.clock.now() + 60_000);
  expect(res.headers['x-verigate-api-key-expires-at']).toBeUndefined();
  gw.clock.set(until);
  const after = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
  expect(after.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
  expect(after.headers['x-verigate-reusable-until']).toBeUndefined();
});

it('the absolute end when it comes first, and the API key expiry when that comes first', async () => {
  const now = gw.clock.now();
  const short = await admin.createSession(site.siteId, 'ada', { expiresInSeconds: 120 });
  const token = await verificationTokenFor(gw, 'live', short);
  const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
  expect(res.headers['x-verigate-reusable-until']).toBe(iso(now + 120_000));

  const keyExpiry = now + 90_000;
  const key = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'short', expiresAt: iso(keyExpiry) });
  const viaShortKey = await exchange(gw, 'live', key.body.apiKey as string, { userVerificationToken: token });
  expect(viaShortKey.headers['x-verigate-reusable-until']).toBe(iso(keyExpiry));
  expect(viaShortKey.headers['x-verigate-api-key-expires-at']).toBe(iso(keyExpiry));
  // On a refusal too: the key's expiry is a fact about the key, not the token.
  const refused = await exchange(gw, 'live', key.body.apiKey as string, { userVerificationToken: 'nope' });
  expect(refused.body).toMatchObject({ isAuthenticated: false, reason: 'token_malformed' });
  expect(refused.headers['x-verigate-api-key-expires-at']).toBe(iso(keyExpiry));
  expect(refused.headers['x-verigate-reusable-until']).toBeUndefined();
});
