import { adminClient, checked, exchange, startGateway, type TestGateway } from '../support/gateway';
import { parseCredential } from '../../src/domain/credentials';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let sandbox: ReturnType<typeof adminClient>;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  sandbox = adminClient(gw, 'sandbox');
});
afterAll(() => gw.close());

const problem = (res: { status: number; headers: Record<string, string>; body: { code?: string } }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe(code);
};

describe('admin authentication', () => {
  const unauthorized = async (authorization: string | undefined) => {
    let req = gw.http('admin').get('/admin/v1/live/sites');
    if (authorization !== undefined) req = req.set('Authorization', authorization);
    const res = checked(await req);
    problem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    return res;
  };

  it('401 unauthorized without a token', async () => {
    await unauthorized(undefined);
  });

  it('401 unauthorized with a wrong token (same length, one character off, longer, empty)', async () => {
    const t = gw.adminToken;
    await unauthorized(`Bearer ${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`);
    await unauthorized(`Bearer ${t}x`);
    await unauthorized(`Bearer ${t.slice(0, -1)}`);
    await unauthorized('Bearer ');
  });

  it('401 unauthorized with the right token under another scheme', async () => {
    await unauthorized(`Basic ${gw.adminToken}`);
    await unauthorized(`Token ${gw.adminToken}`);
    await unauthorized(gw.adminToken);
  });

  it('401 on a write too, and nothing is created', async () => {
    const before = await admin.call('get', '/sites');
    const res = checked(await gw.http('admin').post('/admin/v1/live/sites').send({ name: 'Sneaky' }));
    problem(res, 401, 'unauthorized');
    const after = await admin.call('get', '/sites');
    expect(after.body.sites).toHaveLength(before.body.sites.length);
  });

  it('accepts the token with any case of the Bearer scheme', async () => {
    const res = checked(await gw.http('admin').get('/admin/v1/live/sites').set('Authorization', `bearer ${gw.adminToken}`));
    expect(res.status).toBe(200);
  });
});

describe('environment in the path', () => {
  it.each(['staging', 'LIVE', 'prod'])('404 not_found for /admin/v1/%s/sites', async (env) => {
    const res = checked(
      await gw.http('admin').get(`/admin/v1/${env}/sites`).set('Authorization', `Bearer ${gw.adminToken}`),
    );
    problem(res, 404, 'not_found');
  });
});

describe('POST /admin/v1/{environment}/sites', () => {
  it('201 with Location, the identity secret (once) and a live publishable key', async () => {
    const res = await admin.call('post', '/sites', {
      name: 'Shop',
      allowedOrigins: ['https://shop.example', 'http://localhost:3000'],
    });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const { siteId, publishableKey, identitySecret } = res.body;
    expect(siteId).toMatch(/^site_[0-9A-Za-z]+$/);
    expect(res.headers.location).toBe(`/admin/v1/live/sites/${siteId}`);
    expect(res.body).toMatchObject({
      environment: 'live',
      name: 'Shop',
      allowedOrigins: ['https://shop.example', 'http://localhost:3000'],
      maxIdentityTokenAgeSeconds: 3600,
    });
    expect(publishableKey).toMatch(/^vg_live_pk_[0-9A-Za-z]{38}$/);
    expect(parseCredential(publishableKey, 'pk')).toEqual({ ok: true, environment: 'live', kind: 'pk' });
    expect(identitySecret).toMatch(/^vg_live_is_[0-9A-Za-z]{43}$/);

    // The Location names the site, and reading it never shows the secret.
    const got = await admin.call('get', `/sites/${siteId}`);
    expect(got.status).toBe(200);
    expect(got.body.siteId).toBe(siteId);
    expect(got.body).not.toHaveProperty('identitySecret');
    expect(JSON.stringify(got.body)).not.toContain(identitySecret);
  });

  it('gives each site its own keys', async () => {
    const a = await admin.call('post', '/sites', { name: 'A' });
    const b = await admin.call('post', '/sites', { name: 'B' });
    expect(a.body.siteId).not.toBe(b.body.siteId);
    expect(a.body.publishableKey).not.toBe(b.body.publishableKey);
    expect(a.body.identitySecret).not.toBe(b.body.identitySecret);
  });

  it('creates sandbox sites with sandbox credentials', async () => {
    const res = await sandbox.call('post', '/sites', { name: 'Sandbox shop' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/admin/v1/sandbox/sites/${res.body.siteId}`);
    expect(res.body.environment).toBe('sandbox');
    expect(res.body.publishableKey).toMatch(/^vg_sandbox_pk_[0-9A-Za-z]{38}$/);
    expect(res.body.identitySecret).toMatch(/^vg_sandbox_is_[0-9A-Za-z]{43}$/);
  });

  it('refuses "*" in live (400 invalid_request), on create and on update', async () => {
    const created = await admin.call('post', '/sites', { name: 'Any', allowedOrigins: ['*'] });
    problem(created, 400, 'invalid_request');
    expect(created.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'allowedOrigins' })]));

    const site = await admin.call('post', '/sites', { name: 'Strict' });
    const patched = await admin.call('patch', `/sites/${site.body.siteId}`, { allowedOrigins: ['https://a.example', '*'] });
    problem(patched, 400, 'invalid_request');
    expect((await admin.call('get', `/sites/${site.body.siteId}`)).body.allowedOrigins).toEqual([]);
  });

  it('allows "*" in sandbox', async () => {
    const res = await sandbox.call('post', '/sites', { name: 'Anything goes', allowedOrigins: ['*'] });
    expect(res.status).toBe(201);
    expect(res.body.allowedOrigins).toEqual(['*']);
    const patched = await sandbox.call('patch', `/sites/${res.body.siteId}`, { allowedOrigins: ['*', 'https://b.example'] });
    expect(patched.status).toBe(200);
    expect(patched.body.allowedOrigins).toEqual(['*', 'https://b.example']);
  });

  it.each([
    ['a path', 'https://shop.example/checkout'],
    ['a trailing slash', 'https://shop.example/'],
    ['no scheme', 'shop.example'],
    ['another scheme', 'ftp://shop.example'],
    ['a query', 'https://shop.example?x=1'],
    ['credentials', 'https://user:pw@shop.example'],
    ['a wildcard subdomain', 'https://*.shop.example'],
    ['an empty string', ''],
    ['not a string', 42],
  ])('refuses an origin with %s', async (_label, origin) => {
    const res = await admin.call('post', '/sites', { name: 'Bad origin', allowedOrigins: [origin] });
    problem(res, 400, 'invalid_request');
    expect(res.body.errors.length).toBeGreaterThan(0);
  });

  it.each([
    ['no name', {}],
    ['an empty name', { name: '' }],
    ['a name of 201 characters', { name: 'x'.repeat(201) }],
    ['an unknown member', { name: 'Shop', color: 'blue' }],
    ['allowedOrigins not an array', { name: 'Shop', allowedOrigins: 'https://shop.example' }],
    ['a body that is an array', [{ name: 'Shop' }]],
  ])('400 invalid_request for %s', async (_label, body) => {
    const res = await admin.call('post', '/sites', body);
    problem(res, 400, 'invalid_request');
  });

  it('400 invalid_request without a body', async () => {
    const res = checked(await gw.http('admin').post('/admin/v1/live/sites').set('Authorization', `Bearer ${gw.adminToken}`));
    problem(res, 400, 'invalid_request');
  });

  describe('maxIdentityTokenAgeSeconds', () => {
    it.each([0, -1, 604801, 1.5, '3600'])('refuses %p', async (value) => {
      problem(await admin.call('post', '/sites', { name: 'Age', maxIdentityTokenAgeSeconds: value }), 400, 'invalid_request');
    });

    it('accepts the bounds 1 and 604800 (7 days)', async () => {
      const low = await admin.call('post', '/sites', { name: 'Low', maxIdentityTokenAgeSeconds: 1 });
      expect(low.status).toBe(201);
      expect(low.body.maxIdentityTokenAgeSeconds).toBe(1);
      const high = await admin.call('post', '/sites', { name: 'High', maxIdentityTokenAgeSeconds: 604800 });
      expect(high.status).toBe(201);
      expect(high.body.maxIdentityTokenAgeSeconds).toBe(604800);
    });

    it('refuses 0 and 604801 on update too', async () => {
      const site = await admin.call('post', '/sites', { name: 'Patch age' });
      for (const value of [0, 604801]) {
        problem(await admin.call('patch', `/sites/${site.body.siteId}`, { maxIdentityTokenAgeSeconds: value }), 400, 'invalid_request');
      }
      expect((await admin.call('get', `/sites/${site.body.siteId}`)).body.maxIdentityTokenAgeSeconds).toBe(3600);
    });
  });
});

describe('body handling on admin endpoints', () => {
  const auth = () => ({ Authorization: `Bearer ${gw.adminToken}` });

  it('415 unsupported_media_type for a non-JSON body', async () => {
    const res = checked(await gw.http('admin').post('/admin/v1/live/sites').set(auth()).set('Content-Type', 'text/plain').send('name=Shop'));
    problem(res, 415, 'unsupported_media_type');
    const form = checked(await gw.http('admin').post('/admin/v1/live/sites').set(auth()).type('form').send('name=Shop'));
    problem(form, 415, 'unsupported_media_type');
  });

  it('413 payload_too_large past 16 KiB', async () => {
    const res = checked(await gw.http('admin').post('/admin/v1/live/sites').set(auth()).send({ name: 'x'.repeat(17 * 1024) }));
    problem(res, 413, 'payload_too_large');
  });

  it('400 invalid_json for a body that does not parse', async () => {
    const res = checked(
      await gw.http('admin').post('/admin/v1/live/sites').set(auth()).set('Content-Type', 'application/json').send('{"name": "Shop"'),
    );
    problem(res, 400, 'invalid_json');
  });

  it('applies the same rules to PATCH', async () => {
    const site = await admin.call('post', '/sites', { name: 'Patchable' });
    const path = `/admin/v1/live/sites/${site.body.siteId}`;
    problem(checked(await gw.http('admin').patch(path).set(auth()).set('Content-Type', 'text/plain').send('x')), 415, 'unsupported_media_type');
    problem(checked(await gw.http('admin').patch(path).set(auth()).set('Content-Type', 'application/json').send('{')), 400, 'invalid_json');
    problem(checked(await gw.http('admin').patch(path).set(auth()).send({ name: 'y'.repeat(20_000) })), 413, 'payload_too_large');
  });
});

describe('GET /admin/v1/{environment}/sites and /sites/{siteId}', () => {
  it('lists the sites of the environment', async () => {
    const a = await admin.call('post', '/sites', { name: 'Listed A' });
    const b = await admin.call('post', '/sites', { name: 'Listed B' });
    const res = await admin.call('get', '/sites');
    expect(res.status).toBe(200);
    const ids = res.body.sites.map((s: { siteId: string }) => s.siteId);
    expect(ids).toEqual(expect.arrayContaining([a.body.siteId, b.body.siteId]));
    for (const s of res.body.sites) {
      expect(s.environment).toBe('live');
      expect(s).not.toHaveProperty('identitySecret');
    }
    expect(JSON.stringify(res.body)).not.toContain(a.body.identitySecret);
  });

  it('404 site_not_found for an unknown site', async () => {
    problem(await admin.call('get', '/sites/site_doesnotexist'), 404, 'site_not_found');
    problem(await admin.call('patch', '/sites/site_doesnotexist', { name: 'x' }), 404, 'site_not_found');
  });
});

describe('PATCH /admin/v1/{environment}/sites/{siteId}', () => {
  it('changes the given fields and keeps the others', async () => {
    const site = await admin.call('post', '/sites', { name: 'Before', allowedOrigins: ['https://a.example'] });
    const renamed = await admin.call('patch', `/sites/${site.body.siteId}`, { name: 'After' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      siteId: site.body.siteId,
      name: 'After',
      allowedOrigins: ['https://a.example'],
      maxIdentityTokenAgeSeconds: 3600,
      publishableKey: site.body.publishableKey,
    });
    const reorigined = await admin.call('patch', `/sites/${site.body.siteId}`, {
      allowedOrigins: ['https://b.example'],
      maxIdentityTokenAgeSeconds: 60,
    });
    expect(reorigined.body).toMatchObject({ name: 'After', allowedOrigins: ['https://b.example'], maxIdentityTokenAgeSeconds: 60 });
    expect((await admin.call('get', `/sites/${site.body.siteId}`)).body).toMatchObject({
      name: 'After',
      allowedOrigins: ['https://b.example'],
      maxIdentityTokenAgeSeconds: 60,
    });
  });

  it('400 for an empty patch or an unknown member', async () => {
    const site = await admin.call('post', '/sites', { name: 'Strict patch' });
    problem(await admin.call('patch', `/sites/${site.body.siteId}`, {}), 400, 'invalid_request');
    problem(await admin.call('patch', `/sites/${site.body.siteId}`, { name: 'ok', publishableKey: 'vg_live_pk_x' }), 400, 'invalid_request');
    problem(await admin.call('patch', `/sites/${site.body.siteId}`, { siteId: 'site_other' }), 400, 'invalid_request');
    expect((await admin.call('get', `/sites/${site.body.siteId}`)).body.name).toBe('Strict patch');
  });

  it('does not disturb the site: its API key keeps working', async () => {
    const site = await admin.provisionSite({ name: 'Keeps working' });
    await admin.call('patch', `/sites/${site.siteId}`, { name: 'Renamed' });
    // A garbage token proves the key authenticated (200 not-verified, not 401).
    const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: 'x' });
    expect(res.status).toBe(200);
    expect(res.body.reason).toBe('token_malformed');
  });
});

describe('405 method_not_allowed', () => {
  const auth = () => ({ Authorization: `Bearer ${gw.adminToken}` });

  it('names the allowed methods', async () => {
    const list = checked(await gw.http('admin').delete('/admin/v1/live/sites').set(auth()));
    problem(list, 405, 'method_not_allowed');
    expect(list.headers.allow?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);

    const one = checked(await gw.http('admin').put('/admin/v1/live/sites/site_x').set(auth()).send({}));
    problem(one, 405, 'method_not_allowed');
    expect(one.headers.allow?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);

    const rotate = checked(await gw.http('admin').get('/admin/v1/live/signing-keys/rotate').set(auth()));
    problem(rotate, 405, 'method_not_allowed');
    expect(rotate.headers.allow).toBe('POST');
  });
});

describe('operations on the admin listener', () => {
  it('GET /metrics needs the admin token', async () => {
    const res = checked(await gw.http('admin').get('/metrics'));
    problem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    problem(checked(await gw.http('admin').get('/metrics').set('Authorization', 'Bearer wrong')), 401, 'unauthorized');
  });

  it('GET /metrics serves Prometheus text with the request counter', async () => {
    // At least one request has been counted by now (the ones above).
    const res = checked(await gw.http('admin').get('/metrics').set('Authorization', `Bearer ${gw.adminToken}`));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('# TYPE verigate_http_requests_total counter');
    expect(res.text).toMatch(/^verigate_http_requests_total\{[^}]*environment="admin"[^}]*\} \d+/m);
    // Route patterns, never concrete ids, label the series.
    expect(res.text).toContain('route="/admin/v1/:environment/sites"');
    expect(res.text).not.toMatch(/route="[^"]*site_[0-9A-Za-z]/);
  });

  it.each(['/healthz', '/readyz', '/openapi.yaml'])('GET %s answers without a token', async (path) => {
    const res = checked(await gw.http('admin').get(path));
    expect(res.status).toBe(200);
  });

  it('GET /openapi.yaml is the contract', async () => {
    const res = checked(await gw.http('admin').get('/openapi.yaml'));
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(res.text).toMatch(/^openapi: 3\.1/);
  });

  it('answers 404 not_found for an unknown admin path (with the token)', async () => {
    const res = checked(await gw.http('admin').get('/admin/v2/live/sites').set('Authorization', `Bearer ${gw.adminToken}`));
    problem(res, 404, 'not_found');
  });
});

describe('admin token before routing', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startGateway();
  });
  afterAll(() => g.close());

  it.each([
    ['a wrong method on a real path', 'put', '/admin/v1/live/sites'],
    ['an unknown path', 'get', '/admin/v1/live/nothing-here'],
    ['an unknown environment', 'get', '/admin/v1/staging/sites'],
  ] as const)('without the token, %s is 401, not 404/405', async (_what, method, path) => {
    // Not run through `checked`: openapi.yaml documents operations, and these are not ones.
    const res = await g.http('admin')[method](path);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.body.code).toBe('unauthorized');
  });

  it('health, readiness and the spec stay open', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.yaml']) expect((await g.http('admin').get(path)).status).toBe(200);
  });
});
