/**
 * The console's server side (SPEC §10): the page under a strict CSP, sign-in
 * with a root or scoped token into an `HttpOnly; SameSite=Strict` cookie
 * session (idle 1 h, at most 12 h, only a keyed hash stored), and CSRF
 * protection on every change made under it: same Origin and the session's
 * synchronizer token, or 403 `forbidden`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { buildConsoleAssets } from '../support/console-assets';
import { dumpRedis } from '../support/redis-dump';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';

let server: RedisServerHandle;
let gw: TestGateway;
let site: Provisioned;
let assets: ReturnType<typeof buildConsoleAssets>;
let origin: string;

beforeAll(async () => {
  assets = buildConsoleAssets();
  // A Redis of its own, so a dump of it holds only what this gateway wrote.
  server = await startRedisServer();
  gw = await startGateway({ redisUrl: server.url, consoleAssetsDir: assets.dir });
  site = await adminClient(gw, 'live').provisionSite({ name: 'Shop' });
  origin = gw.urls.admin;
});
afterAll(async () => {
  await gw.close();
  await server.stop();
  assets.remove();
});

interface Signed {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: Record<string, unknown>;
}

async function signIn(token = gw.adminToken): Promise<Signed> {
  const res = checked(await gw.http('admin').post('/console/api/session').set('Origin', origin).send({ token }));
  if (res.status !== 201) throw new Error(`sign-in: ${res.status} ${JSON.stringify(res.body)}`);
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] as string;
  return { cookie: setCookie.split(';')[0] as string, csrf: res.body.csrfToken, setCookie, body: res.body };
}

const siteNames = async (): Promise<string[]> =>
  (await adminClient(gw, 'live').call('get', '/sites')).body.sites.map((s: { name: string }) => s.name);

describe('the page', () => {
  it('GET /console/ serves the page under a CSP that allows only its own script and styles', async () => {
    const res = checked(await gw.http('admin').get('/console/'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(res.text).toBe(readFileSync(join(assets.dir, 'index.html'), 'utf8'));
  });

  it('serves each asset the page names, cached for good; an unknown one is 404', async () => {
    const page = await gw.http('admin').get('/console/');
    const refs = [...page.text.matchAll(/(?:src|href)="\/console\/assets\/([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs).toHaveLength(3);
    for (const ref of refs) {
      const res = checked(await gw.http('admin').get(`/console/assets/${ref}`));
      expect([ref, res.status]).toEqual([ref, 200]);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers['content-type']).toMatch(/^(text\/javascript|text\/css|image\/svg\+xml)/);
    }
    const missing = checked(await gw.http('admin').get('/console/assets/nope.js'));
    expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
  });

  it('without a build, GET /console/ is 404 not_found saying so', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'verigate-no-console-'));
    const bare = await startGateway({ store: 'memory', consoleAssetsDir: empty });
    try {
      const res = checked(await bare.http('admin').get('/console/'));
      expect([res.status, res.body.code, res.body.detail]).toEqual([404, 'not_found', 'The console has not been built: run npm run build']);
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('signing in and out', () => {
  it('GET /console/api/session without a session is 200 signedIn false (the page logs no error)', async () => {
    const res = checked(await gw.http('admin').get('/console/api/session'));
    expect([res.status, res.body]).toEqual([200, { signedIn: false }]);
  });

  it('a root sign-in sets an HttpOnly, SameSite=Strict cookie for at most 12 h, and no token comes back', async () => {
    const { setCookie, body, cookie } = await signIn();
    expect(setCookie).toMatch(/^vg_console=(live|sandbox)\.[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(body).toMatchObject({ signedIn: true, principal: { actor: 'root', role: 'write', siteIds: null } });
    expect(JSON.stringify(body)).not.toContain(gw.adminToken);
    const again = checked(await gw.http('admin').get('/console/api/session').set('Cookie', cookie));
    expect(again.body).toEqual({ ...body });
  });

  it('refuses a wrong token (401), a cross-site sign-in (403) and a body that is not JSON (415)', async () => {
    const wrong = checked(await gw.http('admin').post('/console/api/session').set('Origin', origin).send({ token: 'nope' }));
    expect([wrong.status, wrong.body.code]).toEqual([401, 'unauthorized']);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const cross = checked(await gw.http('admin').post('/console/api/session').set('Origin', 'https://evil.example').send({ token: gw.adminToken }));
    expect([cross.status, cross.body.code]).toEqual([403, 'forbidden']);
    expect(cross.headers['set-cookie']).toBeUndefined();
    const form = checked(
      await gw.http('admin').post('/console/api/session').set('Content-Type', 'application/x-www-form-urlencoded').send(`token=${gw.adminToken}`),
    );
    expect([form.status, form.body.code]).toEqual([415, 'unsupported_media_type']);
  });

  it('signing out needs the CSRF token, ends the session and clears the cookie', async () => {
    const { cookie, csrf } = await signIn();
    const noCsrf = checked(await gw.http('admin').delete('/console/api/session').set('Cookie', cookie).set('Origin', origin));
    expect([noCsrf.status, noCsrf.body.code]).toEqual([403, 'forbidden']);
    const out = checked(await gw.http('admin').delete('/console/api/session').set('Cookie', cookie).set('Origin', origin).set('X-CSRF-Token', csrf));
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^vg_console=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict/);
    expect(checked(await gw.http('admin').get('/console/api/session').set('Cookie', cookie)).body).toEqual({ signedIn: false });
    const api = checked(await gw.http('admin').get('/admin/v1/live/sites').set('Cookie', cookie));
    expect([api.status, api.body.code]).toEqual([401, 'unauthorized']);
  });
});

describe('the admin API under a console session', () => {
  it('reads with the cookie alone', async () => {
    const { cookie } = await signIn();
    const res = checked(await gw.http('admin').get('/admin/v1/live/sites').set('Cookie', cookie));
    expect(res.status).toBe(200);
    expect(res.body.sites.map((s: { siteId: string }) => s.siteId)).toContain(site.siteId);
  });

  it('refuses every change without the same Origin and the session’s X-CSRF-Token, changing nothing', async () => {
    const { cookie, csrf } = await signIn();
    const post = (headers: Record<string, string>, name: string) =>
      gw.http('admin').post('/admin/v1/live/sites').set({ Cookie: cookie, ...headers }).send({ name });
    const refusals: [string, Record<string, string>][] = [
      ['no token', { Origin: origin }],
      ['wrong token', { Origin: origin, 'X-CSRF-Token': `${csrf.slice(0, -1)}x` }],
      ['another session’s token', { Origin: origin, 'X-CSRF-Token': (await signIn()).csrf }],
      ['another origin', { Origin: 'https://evil.example', 'X-CSRF-Token': csrf }],
      ['the listener on another port', { Origin: 'http://127.0.0.1:1', 'X-CSRF-Token': csrf }],
      ['a cross-site fetch without Origin', { 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': csrf }],
    ];
    for (const [label, headers] of refusals) {
      const res = checked(await post(headers, `csrf ${label}`));
      expect([label, res.status, res.body.code]).toEqual([label, 403, 'forbidden']);
    }
    expect((await siteNames()).filter((n) => n.startsWith('csrf '))).toEqual([]);
    const ok = checked(await post({ Origin: origin, 'X-CSRF-Token': csrf }, 'made in the console'));
    expect(ok.status).toBe(201);
    expect(await siteNames()).toContain('made in the console');
  });

  it('refuses a cross-site form post to a console action, with the cookie, and nothing is made', async () => {
    const { cookie } = await signIn();
    // What another site's <form method=post enctype=text/plain> sends: a "JSON" body, no custom header.
    const res = checked(
      await gw
        .http('admin')
        .post('/admin/v1/live/sites')
        .set({ Cookie: cookie, Origin: 'https://evil.example', 'Content-Type': 'text/plain', 'Sec-Fetch-Site': 'cross-site' })
        .send('{"name":"forged","x":"="}'),
    );
    expect([res.status, res.body.code]).toEqual([403, 'forbidden']);
    expect(await siteNames()).not.toContain('forged');
  });

  it('has the scope of the token it was opened with', async () => {
    const made = checked(
      await gw.http('admin').post('/admin/v1/admin-tokens').set('Authorization', `Bearer ${gw.adminToken}`).send({
        name: 'reader',
        environments: ['live'],
        siteIds: [site.siteId],
        role: 'read',
      }),
    );
    const other = await adminClient(gw, 'live').provisionSite({ name: 'Other' });
    const { cookie, csrf, body } = await signIn(made.body.token);
    expect(body.principal).toEqual({ actor: made.body.tokenId, name: 'reader', role: 'read', environments: ['live'], siteIds: [site.siteId] });
    const list = checked(await gw.http('admin').get('/admin/v1/live/sites').set('Cookie', cookie));
    expect(list.body.sites.map((s: { siteId: string }) => s.siteId)).toEqual([site.siteId]);
    const elsewhere = checked(await gw.http('admin').get(`/admin/v1/live/sites/${other.siteId}`).set('Cookie', cookie));
    expect([elsewhere.status, elsewhere.body.code]).toEqual([403, 'forbidden']);
    const write = checked(
      await gw.http('admin').patch(`/admin/v1/live/sites/${site.siteId}`).set({ Cookie: cookie, Origin: origin, 'X-CSRF-Token': csrf }).send({ name: 'x' }),
    );
    expect([write.status, write.body.code]).toEqual([403, 'forbidden']);

    // Revoking the token ends the console session at once.
    expect(checked(await gw.http('admin').delete(`/admin/v1/admin-tokens/${made.body.tokenId}`).set('Authorization', `Bearer ${gw.adminToken}`)).status).toBe(204);
    expect(checked(await gw.http('admin').get('/console/api/session').set('Cookie', cookie)).body).toEqual({ signedIn: false });
    expect(checked(await gw.http('admin').get('/admin/v1/live/sites').set('Cookie', cookie)).status).toBe(401);
  });

  it('a forged or unknown cookie is 401 unauthorized', async () => {
    for (const cookie of ['vg_console=live.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'vg_console=staging.x', 'vg_console=']) {
      const res = checked(await gw.http('admin').get('/admin/v1/live/sites').set('Cookie', cookie));
      expect([cookie, res.status, res.body.code]).toEqual([cookie, 401, 'unauthorized']);
    }
  });
});

describe('lifetime and storage', () => {
  it('ends after an hour idle; activity slides it, but never past 12 h', async () => {
    const { cookie } = await signIn();
    const signedIn = async () => checked(await gw.http('admin').get('/console/api/session').set('Cookie', cookie)).body.signedIn;
    for (let hour = 0; hour < 11; hour++) {
      gw.clock.advance(59 * 60_000);
      expect([hour, await signedIn()]).toEqual([hour, true]);
    }
    gw.clock.advance(59 * 60_000); // 11 h 49 min after sign-in: still in
    expect(await signedIn()).toBe(true);
    gw.clock.advance(12 * 60_000); // 12 h 01 min: over
    expect(await signedIn()).toBe(false);

    const idle = await signIn();
    gw.clock.advance(61 * 60_000);
    expect(checked(await gw.http('admin').get('/console/api/session').set('Cookie', idle.cookie)).body).toEqual({ signedIn: false });
  });

  it('keeps only a keyed hash of the cookie’s secret; neither it nor the CSRF token is in the store', async () => {
    const { cookie, csrf } = await signIn();
    const secret = cookie.split('.')[1] as string;
    const dumped = await dumpRedis(server.url);
    expect(dumped.filter((k) => k.key.includes(':console-session:')).length).toBeGreaterThan(0);
    const everything = JSON.stringify(dumped);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(csrf);
    expect(everything).not.toContain(gw.adminToken);
  });
});
