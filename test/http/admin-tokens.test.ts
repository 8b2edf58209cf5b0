/**
 * Scoped admin tokens (SPEC §10): made by the root token only, shown once,
 * stored as keyed hashes in each environment they cover, refused with 403
 * `forbidden` outside their environments, sites and role, and refused
 * everywhere within 1 s of being revoked.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { dumpRedis } from '../support/redis-dump';
import { startRedisServer } from '../support/redis-server';
import { uniquePrefix } from '../support/redis';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function base62(value: number, width: number): string {
  let out = '';
  for (let v = value; v > 0; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  return out.padStart(width, '0');
}

let gw: TestGateway;
let live: ReturnType<typeof adminClient>;
let sandbox: ReturnType<typeof adminClient>;
let siteA: Provisioned;
let siteB: Provisioned;
let sandboxSite: Provisioned;

const root = () => ({ Authorization: `Bearer ${gw.adminToken}` });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function createToken(body: Record<string, unknown>): Promise<{ tokenId: string; token: string; [k: string]: unknown }> {
  const res = checked(await gw.http('admin').post('/admin/v1/admin-tokens').set(root()).send(body));
  if (res.status !== 201) throw new Error(`createToken: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function forbidden(res: { status: number; body: { code?: string } }): void {
  expect([res.status, res.body.code]).toEqual([403, 'forbidden']);
}

beforeAll(async () => {
  gw = await startGateway();
  live = adminClient(gw, 'live');
  sandbox = adminClient(gw, 'sandbox');
  siteA = await live.provisionSite({ name: 'A' });
  siteB = await live.provisionSite({ name: 'B' });
  sandboxSite = await sandbox.provisionSite({ name: 'Sandbox shop' });
  await live.putUser(siteA.siteId, 'ada', { email: 'ada@example.com' });
  await live.putUser(siteB.siteId, 'bob', { email: 'bob@example.com' });
});
afterAll(() => gw.close());

describe('POST /admin/v1/admin-tokens', () => {
  it('makes a vg_admin_ token with the credential checksum, shown once and listed without it', async () => {
    const made = await createToken({ name: 'support desk', environments: ['live'], siteIds: [siteA.siteId], role: 'read' });
    expect(made).toMatchObject({ name: 'support desk', environments: ['live'], siteIds: [siteA.siteId], role: 'read' });
    expect(made.token).toMatch(/^vg_admin_[0-9A-Za-z]{38}$/);
    const body = made.token.slice(0, -6);
    expect(made.token.slice(-6)).toBe(base62(crc32(body), 6));
    expect(made.last4).toBe(made.token.slice(-4));

    const list = checked(await gw.http('admin').get('/admin/v1/admin-tokens').set(root()));
    expect(list.status).toBe(200);
    const listed = list.body.adminTokens.find((t: { tokenId: string }) => t.tokenId === made.tokenId);
    expect(listed).toMatchObject({ name: 'support desk', last4: made.last4 });
    expect(JSON.stringify(list.body)).not.toContain(made.token);
  });

  it('refuses a site that does not exist in the token’s environments, and other bad bodies', async () => {
    const cases: Record<string, unknown>[] = [
      { name: 'x', environments: ['live'], siteIds: [sandboxSite.siteId], role: 'read' },
      { name: 'x', environments: ['live'], siteIds: ['site_nope'], role: 'read' },
      { name: 'x', environments: [], role: 'read' },
      { name: 'x', environments: ['staging'], role: 'read' },
      { name: 'x', environments: ['live'], role: 'admin' },
      { name: '', environments: ['live'], role: 'read' },
      { environments: ['live'], role: 'read' },
    ];
    for (const body of cases) {
      const res = checked(await gw.http('admin').post('/admin/v1/admin-tokens').set(root()).send(body));
      expect([JSON.stringify(body), res.status, res.body.code]).toEqual([JSON.stringify(body), 400, 'invalid_request']);
    }
  });

  it('keeps only keyed hashes, in the namespace of each environment the token covers', async () => {
    // A Redis of its own, so the dump holds only what this gateway wrote.
    const server = await startRedisServer();
    const own = await startGateway({ redisUrl: server.url, prefix: uniquePrefix() });
    try {
      const make = async (environments: string[]) => {
        const res = checked(
          await own.http('admin').post('/admin/v1/admin-tokens').set({ Authorization: `Bearer ${own.adminToken}` }).send({ name: 'n', environments, role: 'read' }),
        );
        expect(res.status).toBe(201);
        return res.body as { tokenId: string; token: string };
      };
      const both = await make(['live', 'sandbox']);
      const liveOnly = await make(['live']);
      const dumped = await dumpRedis(server.url);
      const records = (env: string) => dumped.filter((k) => k.key.startsWith(`${own.prefix}:${env}:admintoken:`));
      const holds = (env: string, tokenId: string) => records(env).some((k) => k.values.some((v) => v.includes(`"${tokenId}"`)));
      expect([holds('live', both.tokenId), holds('sandbox', both.tokenId)]).toEqual([true, true]);
      expect([holds('live', liveOnly.tokenId), holds('sandbox', liveOnly.tokenId)]).toEqual([true, false]);
      const everything = JSON.stringify(dumped);
      for (const { token } of [both, liveOnly]) {
        expect(everything).not.toContain(token);
        expect(everything).not.toContain(token.slice(9, 41));
      }
    } finally {
      await own.close();
      await server.stop();
    }
  });
});

describe('a scoped token', () => {
  let reader: string;
  let writer: string;
  let sandboxWriter: string;
  let wholeLive: string;

  beforeAll(async () => {
    reader = (await createToken({ name: 'reader', environments: ['live'], siteIds: [siteA.siteId], role: 'read' })).token;
    writer = (await createToken({ name: 'writer', environments: ['live'], siteIds: [siteA.siteId], role: 'write' })).token;
    sandboxWriter = (await createToken({ name: 'sandbox', environments: ['sandbox'], role: 'write' })).token;
    wholeLive = (await createToken({ name: 'ops', environments: ['live'], role: 'write' })).token;
  });

  it('reads and changes what it covers', async () => {
    const read = checked(await gw.http('admin').get(`/admin/v1/live/sites/${siteA.siteId}/users/ada`).set(bearer(reader)));
    expect([read.status, read.body.userId]).toEqual([200, 'ada']);
    const write = checked(
      await gw.http('admin').put(`/admin/v1/live/sites/${siteA.siteId}/users/ada/products/reports`).set(bearer(writer)).send({}),
    );
    expect(write.status).toBe(200);
    const key = checked(await gw.http('admin').post(`/admin/v1/sandbox/sites/${sandboxSite.siteId}/api-keys`).set(bearer(sandboxWriter)).send({ name: 'k' }));
    expect(key.status).toBe(201);
  });

  it('lists only its sites', async () => {
    const res = checked(await gw.http('admin').get('/admin/v1/live/sites').set(bearer(reader)));
    expect(res.body.sites.map((s: { siteId: string }) => s.siteId)).toEqual([siteA.siteId]);
    const all = checked(await gw.http('admin').get('/admin/v1/live/sites').set(bearer(wholeLive)));
    expect(all.body.sites.map((s: { siteId: string }) => s.siteId)).toEqual(expect.arrayContaining([siteA.siteId, siteB.siteId]));
  });

  it('is forbidden in another environment', async () => {
    forbidden(checked(await gw.http('admin').get('/admin/v1/sandbox/sites').set(bearer(reader))));
    forbidden(checked(await gw.http('admin').get(`/admin/v1/sandbox/sites/${sandboxSite.siteId}`).set(bearer(writer))));
    forbidden(checked(await gw.http('admin').get('/admin/v1/live/sites').set(bearer(sandboxWriter))));
    forbidden(checked(await gw.http('admin').post('/admin/v1/live/signing-keys/rotate').set(bearer(sandboxWriter))));
    const envs = checked(await gw.http('admin').get('/admin/v1/environments').set(bearer(reader)));
    expect(envs.body).toEqual({ environments: [{ environment: 'live', publicUrl: 'https://api.verigate.test' }] });
  });

  it('is forbidden on another site, existing or guessed, the same way (nothing to learn from the answer)', async () => {
    for (const siteId of [siteB.siteId, 'site_doesnotexist00000', sandboxSite.siteId]) {
      for (const [method, path] of [
        ['get', `/admin/v1/live/sites/${siteId}`],
        ['get', `/admin/v1/live/sites/${siteId}/users/bob`],
        ['get', `/admin/v1/live/sites/${siteId}/users?query=b`],
        ['get', `/admin/v1/live/sites/${siteId}/security`],
        ['get', `/admin/v1/live/sites/${siteId}/api-keys`],
        ['delete', `/admin/v1/live/sites/${siteId}`],
        ['put', `/admin/v1/live/sites/${siteId}/users/bob/products/reports`],
      ] as const) {
        const res = checked(await gw.http('admin')[method](path).set(bearer(writer)).send({}));
        expect([method, path, res.status, res.body.code, res.body.detail]).toEqual([
          method,
          path,
          403,
          'forbidden',
          'This admin token does not cover that site',
        ]);
      }
    }
    // And nothing happened to site B.
    const bob = checked(await gw.http('admin').get(`/admin/v1/live/sites/${siteB.siteId}/users/bob`).set(root()));
    expect(bob.body.productAccess).toEqual([]);
  });

  it('with role read, is forbidden every change, and nothing changes', async () => {
    const attempts = [
      ['put', `/admin/v1/live/sites/${siteA.siteId}/users/ada/products/extra`, {}],
      ['delete', `/admin/v1/live/sites/${siteA.siteId}/users/ada/products/reports`, undefined],
      ['put', `/admin/v1/live/sites/${siteA.siteId}/users/eve`, {}],
      ['delete', `/admin/v1/live/sites/${siteA.siteId}/users/ada/sessions`, undefined],
      ['post', `/admin/v1/live/sites/${siteA.siteId}/api-keys`, { name: 'x' }],
      ['patch', `/admin/v1/live/sites/${siteA.siteId}`, { name: 'renamed' }],
      ['post', `/admin/v1/live/sites/${siteA.siteId}/security/rotate-identity-secret`, {}],
      ['delete', `/admin/v1/live/sites/${siteA.siteId}`, undefined],
    ] as const;
    for (const [method, path, body] of attempts) {
      let req = gw.http('admin')[method](path).set(bearer(reader));
      if (body !== undefined) req = req.send(body);
      const res = checked(await req);
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'forbidden']);
    }
    const site = checked(await gw.http('admin').get(`/admin/v1/live/sites/${siteA.siteId}`).set(root()));
    expect(site.body.name).toBe('A');
    const ada = checked(await gw.http('admin').get(`/admin/v1/live/sites/${siteA.siteId}/users/ada`).set(root()));
    expect(ada.body.productAccess.map((p: { productId: string }) => p.productId)).toEqual(['reports']);
    const eve = checked(await gw.http('admin').get(`/admin/v1/live/sites/${siteA.siteId}/users/eve`).set(root()));
    expect(eve.status).toBe(404);
  });

  it('limited to some sites, is forbidden whole-environment actions', async () => {
    forbidden(checked(await gw.http('admin').post('/admin/v1/live/sites').set(bearer(writer)).send({ name: 'new' })));
    forbidden(checked(await gw.http('admin').post('/admin/v1/live/signing-keys/rotate').set(bearer(writer))));
    forbidden(checked(await gw.http('admin').get('/admin/v1/live/stats/exchanges').set(bearer(reader))));
    forbidden(checked(await gw.http('admin').get('/metrics').set(bearer(wholeLive))));
    const site = checked(await gw.http('admin').post('/admin/v1/live/sites').set(bearer(wholeLive)).send({ name: 'made by ops' }));
    expect(site.status).toBe(201);
  });

  it('can never make, list or revoke admin tokens, whatever its role and scope', async () => {
    const everywhere = (await createToken({ name: 'all', environments: ['live', 'sandbox'], role: 'write' })).token;
    for (const token of [everywhere, wholeLive, reader]) {
      forbidden(
        checked(
          await gw.http('admin').post('/admin/v1/admin-tokens').set(bearer(token)).send({ name: 'escalate', environments: ['live'], role: 'write' }),
        ),
      );
      forbidden(checked(await gw.http('admin').get('/admin/v1/admin-tokens').set(bearer(token))));
      forbidden(checked(await gw.http('admin').delete('/admin/v1/admin-tokens/admtok_x').set(bearer(token))));
    }
  });

  it('malformed, unknown or of another checksum, it is 401 unauthorized', async () => {
    const wrongChecksum = `${reader.slice(0, -1)}${reader.endsWith('0') ? '1' : '0'}`;
    const unknown = (() => {
      const body = `vg_admin_${'A'.repeat(32)}`;
      return body + base62(crc32(body), 6);
    })();
    for (const token of [wrongChecksum, unknown, 'vg_admin_short', `${reader}x`]) {
      const res = checked(await gw.http('admin').get('/admin/v1/live/sites').set(bearer(token)));
      expect([token, res.status, res.body.code]).toEqual([token, 401, 'unauthorized']);
    }
  });
});

describe('DELETE /admin/v1/admin-tokens/{tokenId}', () => {
  it('404 not_found for an unknown token', async () => {
    const res = checked(await gw.http('admin').delete('/admin/v1/admin-tokens/admtok_nope').set(root()));
    expect([res.status, res.body.code]).toEqual([404, 'not_found']);
  });

  it('stops the token working on another instance within 1 s', async () => {
    const prefix = uniquePrefix();
    const masterKey = randomBytes(32);
    const a = await startGateway({ prefix, masterKey });
    const b = await startGateway({ prefix, masterKey });
    try {
      const made = checked(
        await a.http('admin').post('/admin/v1/admin-tokens').set({ Authorization: `Bearer ${a.adminToken}` }).send({
          name: 'temp',
          environments: ['live', 'sandbox'],
          role: 'read',
        }),
      );
      const token = made.body.token as string;
      expect(checked(await b.http('admin').get('/admin/v1/sandbox/sites').set(bearer(token))).status).toBe(200);
      const since = performance.now();
      const revoked = checked(await a.http('admin').delete(`/admin/v1/admin-tokens/${made.body.tokenId}`).set({ Authorization: `Bearer ${a.adminToken}` }));
      expect(revoked.status).toBe(204);
      const status = await pollUntil(
        async () => (await b.http('admin').get('/admin/v1/sandbox/sites').set(bearer(token))).status,
        (s) => s === 401,
        { timeoutMs: 3000, intervalMs: 5, what: 'the revoked token refused on B' },
      );
      const elapsed = performance.now() - since;
      expect(status).toBe(401);
      expect(elapsed).toBeLessThan(1000);
      const listed = checked(await b.http('admin').get('/admin/v1/admin-tokens').set({ Authorization: `Bearer ${b.adminToken}` }));
      expect(listed.body.adminTokens.map((t: { tokenId: string }) => t.tokenId)).not.toContain(made.body.tokenId);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
