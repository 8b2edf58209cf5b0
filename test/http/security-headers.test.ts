import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { generateCredential } from '../../src/domain/credentials';

/**
 * Every response of every listener carries helmet's default security
 * headers. The reference is what `helmet()` itself does to a response of a
 * plain Express app (worked out here, not by the gateway's code), so a helmet
 * upgrade that changes a default changes the expectation with it; the key
 * headers are also asserted by name, so a default dropping out of helmet
 * cannot go unnoticed either.
 */

let gw: TestGateway;
let site: Provisioned;
let token: string;
let sessionToken: string;
/** Header name (lower case) -> value, as helmet() sets it. */
let reference: Record<string, string>;
/** Headers helmet() removes. */
let removed: string[];

/** helmet()'s headers: a response with it, minus the same response without it. */
async function helmetReference(): Promise<{ set: Record<string, string>; removed: string[] }> {
  const handler = (_req: express.Request, res: express.Response): void => {
    res.send('ok');
  };
  const bare = (await request(express().get('/', handler)).get('/')).headers;
  const withHelmet = (await request(express().use(helmet()).get('/', handler)).get('/')).headers;
  const set: Record<string, string> = {};
  for (const [name, value] of Object.entries(withHelmet)) {
    if (bare[name] === undefined) set[name] = String(value);
  }
  return { set, removed: Object.keys(bare).filter((name) => withHelmet[name] === undefined) };
}

beforeAll(async () => {
  ({ set: reference, removed } = await helmetReference());
  gw = await startGateway();
  const admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'u1');
  sessionToken = await admin.createSession(site.siteId, 'u1');
  token = await verificationTokenFor(gw, 'live', sessionToken);
});
afterAll(() => gw.close());

it('the reference holds the headers helmet is known for (so it cannot come out empty)', () => {
  expect(reference).toMatchObject({
    'content-security-policy': expect.stringContaining("default-src 'self'"),
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
  });
  expect(removed).toContain('x-powered-by');
});

type Probe = [string, () => Promise<request.Response>, number];
const probes = (): Probe[] => [
  ['live GET /healthz', async () => checked(await gw.http('live').get('/healthz')), 200],
  ['live exchange, verified (the hot route)', () => exchange(gw, 'live', site.apiKey, { userVerificationToken: token }), 200],
  ['live exchange, refused key (the hot route)', () => exchange(gw, 'live', generateCredential('live', 'sk'), { userVerificationToken: token }), 401],
  ['live exchange, wrong method (405)', async () => checked(await gw.http('live').get('/live_api/s2s/v1/users/verification')), 405],
  ['live GET /live_api/v1/session', async () => checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`)), 200],
  ['live GET /.well-known/jwks.json', async () => checked(await gw.http('live').get('/.well-known/jwks.json')), 200],
  ['live unknown path (404)', async () => checked(await gw.http('live').get('/nothing-here')), 404],
  ['sandbox GET /readyz', async () => checked(await gw.http('sandbox').get('/readyz')), 200],
  ['sandbox exchange, refused key', () => exchange(gw, 'sandbox', generateCredential('sandbox', 'sk'), { userVerificationToken: token }), 401],
  ['sandbox bad JSON (400)', async () => checked(await gw.http('sandbox').post('/live_api/v1/sessions').set('Content-Type', 'application/json').send('{')), 400],
  ['admin GET /healthz', async () => checked(await gw.http('admin').get('/healthz')), 200],
  ['admin without its token (401)', async () => checked(await gw.http('admin').get('/admin/v1/live/sites')), 401],
  ['admin GET sites', async () => adminClient(gw, 'live').call('get', '/sites'), 200],
  ['admin unknown site (404)', async () => adminClient(gw, 'live').call('get', '/sites/site_nope'), 404],
];

describe.each(probes().map(([label], i) => [label, i] as const))('%s', (_label, i) => {
  it('carries helmet’s default headers, exactly, and no X-Powered-By', async () => {
    const [, send, status] = probes()[i] as Probe;
    const res = await send();
    expect(res.status).toBe(status);
    const carried = Object.fromEntries(Object.keys(reference).map((name) => [name, res.headers[name]]));
    expect(carried).toEqual(reference);
    for (const name of removed) expect(res.headers).not.toHaveProperty(name);
    // By name, whatever helmet's defaults become.
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });
});
