import { Webhook } from 'standardwebhooks';
import { verifyWebhook, VerigateError } from '@verigate/node';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver';
import { createWebhookTransport } from '../../src/http/webhook-transport';
import { keys } from '../../src/store/records/keys';
import { EVENT_TYPES } from '../../src/domain/events';
import { randomBytes } from 'node:crypto';
import { uniquePrefix } from '../support/redis';

/**
 * SPEC §11's webhooks against real receivers: endpoints through the admin
 * API, Standard Webhooks signatures checked with the reference package
 * (`standardwebhooks`, not ours), retries on the schedule, the deliveries
 * list, resend, rotation with two signatures, redirects and SSRF rules.
 */

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let receiver: WebhookReceiver;

beforeEach(async () => {
  // One second between attempts: the schedule is the only thing a test can make short.
  gw = await startGateway({ env: { WEBHOOK_RETRY_SCHEDULE: '1,1', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  receiver = await WebhookReceiver.start();
});
afterEach(async () => {
  await gw.close();
  await receiver.close();
});

const base = () => `/sites/${site.siteId}/webhook-endpoints`;

async function createEndpoint(body: Record<string, unknown> = {}) {
  const res = await admin.call('post', base(), { url: receiver.url, ...body });
  expect(res.status).toBe(201);
  return res.body as { endpointId: string; secret: string; url: string };
}

const headersOf = (r: ReceivedWebhook): Record<string, string> => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

const ofType = (type: string) => (rs: ReceivedWebhook[]) => rs.some((r) => r.event.type === type);

describe('endpoints', () => {
  it('shows the secret once (whsec_ + base64 of 32 bytes) and stores it sealed', async () => {
    const made = await createEndpoint({ description: 'orders', eventTypes: ['session.ended'] });
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(made.secret.slice(6), 'base64')).toHaveLength(32);
    const listed = await admin.call('get', base());
    expect(listed.status).toBe(200);
    expect(listed.body.webhookEndpoints).toEqual([
      expect.objectContaining({ endpointId: made.endpointId, url: receiver.url, description: 'orders', eventTypes: ['session.ended'], disabled: false }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(made.secret.slice(6));
    const one = await admin.call('get', `${base()}/${made.endpointId}`);
    expect(one.body).not.toHaveProperty('secret');
    const stored = (await gw.stores.live.get(keys.webhook(site.siteId, made.endpointId))) as string;
    expect(stored).not.toContain(made.secret.slice(6));
    expect(stored).not.toContain(Buffer.from(made.secret.slice(6), 'base64').toString('hex'));
  });

  it('changes url, event types, description and disabled; deletes; 404 for an unknown endpoint', async () => {
    const made = await createEndpoint();
    const patched = await admin.call('patch', `${base()}/${made.endpointId}`, { eventTypes: ['user.created'], disabled: true, description: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ eventTypes: ['user.created'], disabled: true, description: null });
    expect((await admin.call('delete', `${base()}/${made.endpointId}`)).status).toBe(204);
    const gone = await admin.call('get', `${base()}/${made.endpointId}`);
    expect([gone.status, gone.body.code]).toEqual([404, 'webhook_endpoint_not_found']);
    for (const body of [{}, { url: receiver.url, eventTypes: ['no.such'] }, { url: 'ftp://x.example' }, { url: receiver.url, extra: 1 }]) {
      const res = await admin.call('post', base(), body);
      expect([JSON.stringify(body), res.status, res.body.code]).toEqual([JSON.stringify(body), 400, 'invalid_request']);
    }
  });
});

describe('delivery', () => {
  it('delivers every event type, each signed so that the standardwebhooks package verifies it', async () => {
    const made = await createEndpoint();
    const s = site.siteId;
    const ok = (res: { status: number }) => expect(res.status).toBeLessThan(300);
    ok(await admin.call('put', `/sites/${s}/users/ada`, { email: 'ada@example.com' }));
    ok(await admin.call('put', `/sites/${s}/users/ada`, { name: 'Ada' }));
    ok(await admin.call('put', `/sites/${s}/users/ada/products/reports`, {}));
    ok(await admin.call('post', `/sites/${s}/users/ada/sessions`, {}));
    ok(await admin.call('delete', `/sites/${s}/users/ada`));
    const key = await admin.call('post', `/sites/${s}/api-keys`, { name: 'k' });
    ok(await admin.call('post', `/sites/${s}/api-keys/${key.body.keyId}/roll`, { expiresInSeconds: 60 }));
    ok(await admin.call('delete', `/sites/${s}/api-keys/${key.body.keyId}`));
    ok(await admin.call('post', `/sites/${s}/security/rotate-identity-secret`, {}));
    ok(await admin.call('post', '/signing-keys/rotate'));
    ok(await admin.call('patch', `/sites/${s}`, { name: 'Renamed' }));
    const other = await createEndpoint({ url: 'http://127.0.0.1:9/never' });
    ok(await admin.call('patch', `${base()}/${other.endpointId}`, { disabled: true }));
    ok(await admin.call('delete', `${base()}/${other.endpointId}`));
    ok(await admin.call('delete', `/sites/${s}`));
    const expected = EVENT_TYPES.filter((t) => t !== 'site.created');
    await receiver.until((rs) => expected.every((t) => rs.some((r) => r.event.type === t)), 'every event type');
    const wh = new Webhook(made.secret);
    for (const r of receiver.received) {
      expect(wh.verify(r.body, headersOf(r))).toEqual(JSON.parse(r.body));
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-id']).toBe(`${s}_${r.event.id}`);
    }
    // Signed with another secret, or with the body changed, it does not verify.
    const first = receiver.received[0] as ReceivedWebhook;
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(first.body, headersOf(first))).toThrow();
    expect(() => wh.verify(first.body.replace('"live"', '"sandbox"'), headersOf(first))).toThrow();
    // The site's own creation came before the endpoint: not sent.
    expect(receiver.received.some((r) => r.event.type === 'site.created')).toBe(false);
  });

  it("verifyWebhook of @verigate/node accepts what verigate sends, with either secret after a rotation, and refuses a forgery", async () => {
    const made = await createEndpoint({ eventTypes: ['user.created'] });
    await admin.putUser(site.siteId, 'ada', {});
    const [r] = await receiver.until(ofType('user.created'), 'user.created');
    const headers = headersOf(r!);
    await expect(verifyWebhook(r!.body, r!.headers, made.secret)).resolves.toMatchObject({ type: 'user.created', siteId: site.siteId });
    await expect(verifyWebhook(Buffer.from(r!.body), new Headers(headers), [`whsec_${Buffer.alloc(32).toString('base64')}`, made.secret])).resolves.toMatchObject({
      type: 'user.created',
    });
    const refusals: [string, Promise<unknown>][] = [
      ['other secret', verifyWebhook(r!.body, headers, `whsec_${Buffer.alloc(32, 1).toString('base64')}`)],
      ['changed body', verifyWebhook(r!.body.replace('ada', 'eve'), headers, made.secret)],
      ['old timestamp', verifyWebhook(r!.body, headers, made.secret, { now: () => Date.now() + 10 * 60_000 })],
      ['no signature', verifyWebhook(r!.body, { ...headers, 'webhook-signature': '' }, made.secret)],
      ['other id', verifyWebhook(r!.body, { ...headers, 'webhook-id': 'x' }, made.secret)],
    ];
    for (const [what, result] of refusals) {
      const err = await result.then(() => null, (e: unknown) => e);
      expect([what, err instanceof VerigateError && err.code]).toEqual([what, 'webhook_invalid']);
    }
  });

  it('a receiver that answers 500 twice then 200 gets the event three times, and the deliveries list shows all three', async () => {
    const made = await createEndpoint({ eventTypes: ['user.created'] });
    receiver.answer(500, 500, 200);
    await admin.putUser(site.siteId, 'ada', {});
    const got = await receiver.until((rs) => rs.filter((r) => r.event.type === 'user.created').length >= 3, 'three tries');
    const tries = got.filter((r) => r.event.type === 'user.created');
    expect(tries.map((r) => r.answeredWith)).toEqual([500, 500, 200]);
    expect(new Set(tries.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(tries.map((r) => r.body)).size).toBe(1);
    const list = await admin.call('get', `${base()}/${made.endpointId}/deliveries`);
    expect(list.status).toBe(200);
    const rows = list.body.deliveries.filter((d: { eventType: string }) => d.eventType === 'user.created');
    expect(rows.map((d: { attempt: number; status: string; statusCode: number }) => [d.attempt, d.status, d.statusCode])).toEqual([
      [3, 'delivered', 200],
      [2, 'retrying', 500],
      [1, 'retrying', 500],
    ]);
    for (const row of rows) {
      expect(row.eventId).toBe(tries[0]?.event.id);
      expect(row.durationMs).toEqual(expect.any(Number));
      expect(row.attemptedAt).toEqual(expect.any(String));
    }
    expect(rows[0].nextAttemptAt).toBeNull();
    expect(rows[1].error).toBe('HTTP 500');
  });

  it('marks a delivery failed after the schedule, and resend sends it again with the same webhook-id', async () => {
    const made = await createEndpoint({ eventTypes: ['user.created'] });
    receiver.answer(503, 503, 503);
    await admin.putUser(site.siteId, 'ada', {});
    const event = (await receiver.until((rs) => rs.length >= 3, 'three failures'))[0]?.event;
    const rowsOf = async () => (await admin.call('get', `${base()}/${made.endpointId}/deliveries`)).body.deliveries as { status: string; attempt: number }[];
    // The third answer is recorded after the receiver saw it: wait for the row.
    const { pollUntil } = await import('../support/poll');
    const failed = await pollUntil(rowsOf, (rows) => rows[0]?.status === 'failed', { what: 'the delivery to be marked failed' });
    expect(failed.map((r) => [r.attempt, r.status])).toEqual([
      [3, 'failed'],
      [2, 'retrying'],
      [1, 'retrying'],
    ]);
    const resent = await admin.call('post', `${base()}/${made.endpointId}/deliveries/${event?.id}/resend`);
    expect(resent.status).toBe(202);
    const again = await receiver.until((rs) => rs.length >= 4, 'the resend');
    expect(again[3]?.headers['webhook-id']).toBe(again[0]?.headers['webhook-id']);
    const missing = await admin.call('post', `${base()}/${made.endpointId}/deliveries/1-1/resend`);
    expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
  });

  it('after rotate-secret, signs with both secrets (each verifies alone)', async () => {
    const made = await createEndpoint({ eventTypes: ['user.created'] });
    const rotated = await admin.call('post', `${base()}/${made.endpointId}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(made.secret);
    expect(rotated.body.previousSecretValidUntil).toEqual(expect.any(String));
    await admin.putUser(site.siteId, 'ada', {});
    const [r] = await receiver.until(ofType('user.created'), 'user.created');
    expect(String(r?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(new Webhook(made.secret).verify(r!.body, headersOf(r!))).toMatchObject({ type: 'user.created' });
    expect(new Webhook(rotated.body.secret).verify(r!.body, headersOf(r!))).toMatchObject({ type: 'user.created' });
  });

  it('never follows a redirect: a 3xx is a failed attempt', async () => {
    const made = await createEndpoint({ eventTypes: ['user.created'] });
    receiver.answer(302, 302, 302);
    await admin.putUser(site.siteId, 'ada', {});
    await receiver.until((rs) => rs.length >= 1, 'the first try');
    const { pollUntil } = await import('../support/poll');
    const rows = await pollUntil(
      async () => (await admin.call('get', `${base()}/${made.endpointId}/deliveries`)).body.deliveries as { statusCode: number; error: string }[],
      (rs) => rs.length > 0 && rs[rs.length - 1]?.statusCode === 302,
      { what: 'the attempt to be listed' },
    );
    expect(rows[rows.length - 1]?.error).toMatch(/^redirect to http:\/\/127\.0\.0\.1:1\/elsewhere not followed$/);
  });

  it('sends a disabled endpoint nothing, and an endpoint only the types it asked for', async () => {
    const sessionsOnly = await createEndpoint({ eventTypes: ['session.created'] });
    const other = await WebhookReceiver.start();
    try {
      const off = await admin.call('post', base(), { url: other.url });
      await admin.call('patch', `${base()}/${off.body.endpointId}`, { disabled: true });
      await admin.putUser(site.siteId, 'ada', {});
      await admin.createSession(site.siteId, 'ada');
      await receiver.until(ofType('session.created'), 'session.created');
      expect(receiver.received.map((r) => r.event.type)).toEqual(['session.created']);
      expect(sessionsOnly.endpointId).toMatch(/^whep_/);
      // The enabled endpoint got its event; by then the disabled one had its turn too, and got none of the
      // changes made while it was disabled (at most its own creation and disabling, made before).
      expect(other.received.map((r) => r.event.type).filter((t) => !t.startsWith('webhook_endpoint.'))).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('targets (SSRF)', () => {
  let strict: TestGateway;
  beforeAll(async () => {
    strict = await startGateway();
  });
  afterAll(() => strict.close());

  it('refuses loopback, private and link-local URLs, and http on live; sandbox may use http to a public host', async () => {
    const liveSite = await adminClient(strict, 'live').provisionSite();
    const sandboxSite = await adminClient(strict, 'sandbox').provisionSite();
    const refused = [
      'https://127.0.0.1/hook',
      'https://10.1.2.3/hook',
      'https://192.168.0.1/hook',
      'https://172.16.5.5/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://localhost/hook',
      'http://shop.example/hook',
    ];
    for (const url of refused) {
      const res = await adminClient(strict, 'live').call('post', `/sites/${liveSite.siteId}/webhook-endpoints`, { url });
      expect([url, res.status, res.body.code]).toEqual([url, 400, 'invalid_request']);
    }
    const ok = await adminClient(strict, 'live').call('post', `/sites/${liveSite.siteId}/webhook-endpoints`, { url: 'https://shop.example/hook' });
    expect(ok.status).toBe(201);
    const sandbox = await adminClient(strict, 'sandbox').call('post', `/sites/${sandboxSite.siteId}/webhook-endpoints`, { url: 'http://shop.example/hook' });
    expect(sandbox.status).toBe(201);
    const sandboxLoopback = await adminClient(strict, 'sandbox').call('post', `/sites/${sandboxSite.siteId}/webhook-endpoints`, { url: 'http://127.0.0.1/hook' });
    expect(sandboxLoopback.status).toBe(400);
  });

  it('refuses, when sending, a host that resolves to a loopback address, and sends there only when allowed', async () => {
    const url = receiver.url.replace('127.0.0.1', 'localhost');
    const signal = new AbortController().signal;
    const refusedResult = await createWebhookTransport({ allowPrivateTargets: false }).post(url, {}, '{}', { timeoutMs: 2000, signal });
    expect(refusedResult.statusCode).toBeNull();
    expect(refusedResult.error).toMatch(/loopback, private or link-local/);
    const literal = await createWebhookTransport({ allowPrivateTargets: false }).post(receiver.url, {}, '{}', { timeoutMs: 2000, signal });
    expect(literal.error).toMatch(/loopback, private or link-local/);
    expect(receiver.received).toEqual([]);
    const allowed = await createWebhookTransport({ allowPrivateTargets: true }).post(url, {}, '{"id":"1","type":"x"}', { timeoutMs: 2000, signal });
    expect(allowed).toEqual({ statusCode: 200, error: null });
    expect(receiver.received).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer within the time limit', async () => {
    const held = receiver.holdRequests();
    const res = await createWebhookTransport({ allowPrivateTargets: true }).post(receiver.url, {}, '{}', {
      timeoutMs: 200,
      signal: new AbortController().signal,
    });
    held.release();
    expect(res).toEqual({ statusCode: null, error: 'no answer within 200 ms' });
  });
});

it('a checked admin response shape: create answers as openapi.yaml says', async () => {
  const res = checked(
    await gw.http('admin').post(`/admin/v1/live${base()}`).set('Authorization', `Bearer ${gw.adminToken}`).send({ url: receiver.url }),
  );
  expect(res.headers['cache-control']).toBe('no-store');
});

it('two instances delivering one site lose no event and send none twice to a healthy receiver', async () => {
  const prefix = uniquePrefix();
  const masterKey = randomBytes(32);
  const env = { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' };
  const a = await startGateway({ prefix, masterKey, env });
  const b = await startGateway({ prefix, masterKey, env });
  try {
    const adminA = adminClient(a, 'live');
    const adminB = adminClient(b, 'live');
    const shop = await adminA.provisionSite();
    expect((await adminA.call('post', `/sites/${shop.siteId}/webhook-endpoints`, { url: receiver.url, eventTypes: ['user.created'] })).status).toBe(201);
    const ids = Array.from({ length: 40 }, (_, i) => `u${i}`);
    await Promise.all(ids.map((id, i) => (i % 2 ? adminA : adminB).putUser(shop.siteId, id, {})));
    await receiver.until((rs) => new Set(rs.map((r) => r.event.data.userId)).size === ids.length, 'every user.created');
    const perUser = new Map<unknown, number>();
    for (const r of receiver.received) perUser.set(r.event.data.userId, (perUser.get(r.event.data.userId) ?? 0) + 1);
    expect([...perUser.values()].every((n) => n === 1)).toBe(true);
    expect(receiver.received).toHaveLength(ids.length);
  } finally {
    await a.close();
    await b.close();
  }
});
