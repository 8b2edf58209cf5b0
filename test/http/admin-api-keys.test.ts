import { adminClient, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { parseCredential } from '../../src/domain/credentials';
import { keys } from '../../src/store/records/keys';
import { FrozenClock } from '../../src/domain/clock';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let sessionToken: string;

// Each test on a gateway of its own, with its own clock, site and session:
// no state and no clock left advanced reach the next one.
beforeEach(async () => {
  gw = await startGateway({ clock: new FrozenClock() });
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1', { email: 'ada@example.com' });
  sessionToken = await admin.createSession(site.siteId, 'user-1');
});
afterEach(() => gw.close());

const problem = (res: { status: number; body: { code?: string } }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body.code).toBe(code);
};

interface ApiKeyView {
  keyId: string;
  siteId: string;
  name: string;
  last4: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

async function listKeys(siteId = site.siteId): Promise<ApiKeyView[]> {
  const res = await admin.call('get', `/sites/${siteId}/api-keys`);
  expect(res.status).toBe(200);
  return res.body.apiKeys as ApiKeyView[];
}

async function keyView(keyId: string): Promise<ApiKeyView> {
  const found = (await listKeys()).find((k) => k.keyId === keyId);
  if (!found) throw new Error(`key ${keyId} not listed`);
  return found;
}

async function createKey(body: Record<string, unknown> = { name: 'backend' }) {
  const res = await admin.call('post', `/sites/${site.siteId}/api-keys`, body);
  expect(res.status).toBe(201);
  return res.body as ApiKeyView & { apiKey: string };
}

async function exchangeWith(apiKey: string) {
  return exchange(gw, 'live', apiKey, { userVerificationToken: await verificationTokenFor(gw, 'live', sessionToken) });
}

describe('POST /admin/v1/{environment}/sites/{siteId}/api-keys', () => {
  it('201: the secret is shown once, in the documented format, with matching last4', async () => {
    const res = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'checkout' });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const { apiKey, keyId, last4 } = res.body;
    expect(apiKey).toMatch(/^vg_live_sk_[0-9A-Za-z]{38}$/);
    expect(parseCredential(apiKey, 'sk')).toEqual({ ok: true, environment: 'live', kind: 'sk' });
    expect(keyId).toMatch(/^key_[0-9A-Za-z]+$/);
    expect(last4).toBe(apiKey.slice(-4));
    expect(res.body).toMatchObject({ siteId: site.siteId, name: 'checkout', expiresAt: null, revokedAt: null, lastUsedAt: null });

    // Listed masked: the record, never the secret.
    const list = await admin.call('get', `/sites/${site.siteId}/api-keys`);
    expect(JSON.stringify(list.body)).not.toContain(apiKey);
    expect(JSON.stringify(list.body)).not.toContain(apiKey.slice(11, -6));
    const listed = (list.body.apiKeys as ApiKeyView[]).find((k) => k.keyId === keyId);
    expect(listed).toEqual({
      keyId,
      siteId: site.siteId,
      name: 'checkout',
      last4,
      createdAt: res.body.createdAt,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });
    expect(listed).not.toHaveProperty('apiKey');
  });

  it('issues a different secret every time', async () => {
    const a = await createKey({ name: 'a' });
    const b = await createKey({ name: 'b' });
    expect(a.apiKey).not.toBe(b.apiKey);
    expect(a.keyId).not.toBe(b.keyId);
  });

  it('accepts a future expiresAt and reports it', async () => {
    const expiresAt = new Date(gw.clock.now() + 3_600_000).toISOString();
    const key = await createKey({ name: 'expiring', expiresAt });
    expect(key.expiresAt).toBe(expiresAt);
    expect((await keyView(key.keyId)).expiresAt).toBe(expiresAt);
  });

  it('refuses an expiresAt in the past or now (400 invalid_request)', async () => {
    for (const at of [gw.clock.now() - 1000, gw.clock.now()]) {
      const res = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'dead', expiresAt: new Date(at).toISOString() });
      problem(res, 400, 'invalid_request');
    }
  });

  it("judges expiresAt by the gateway's clock", async () => {
    // The gateway's clock a year ahead of the wall clock: an hour from its reading a moment ago is
    // still in the wall clock's future, but past by the gateway's once it has moved two hours on.
    gw.clock.set(Date.now() + 365 * 86_400_000);
    const inAnHour = new Date(gw.clock.now() + 3_600_000).toISOString();
    gw.clock.advance(2 * 3_600_000);
    const res = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'born dead', expiresAt: inAnHour });
    problem(res, 400, 'invalid_request');
  });

  it.each([
    ['no name', {}],
    ['an empty name', { name: '' }],
    ['a bad expiresAt', { name: 'x', expiresAt: 'tomorrow' }],
    ['an unknown member', { name: 'x', scopes: ['all'] }],
  ])('400 invalid_request for %s', async (_label, body) => {
    problem(await admin.call('post', `/sites/${site.siteId}/api-keys`, body), 400, 'invalid_request');
  });

  it('404 site_not_found for an unknown site', async () => {
    problem(await admin.call('post', '/sites/site_nope/api-keys', { name: 'x' }), 404, 'site_not_found');
    problem(await admin.call('get', '/sites/site_nope/api-keys'), 404, 'site_not_found');
  });
});

describe('lastUsedAt', () => {
  it('is null before use and set after an exchange', async () => {
    const key = await createKey({ name: 'used' });
    expect((await keyView(key.keyId)).lastUsedAt).toBeNull();
    const res = await exchangeWith(key.apiKey);
    expect(res.body.isAuthenticated).toBe(true);
    // Written in the background: wait for it to land.
    const used = await pollUntil(() => keyView(key.keyId), (k) => k.lastUsedAt !== null, { what: 'lastUsedAt' });
    expect(used.lastUsedAt).toBe(new Date(gw.clock.now()).toISOString());
  });

  it('is written at most once a minute per key (coalesced), not once per request', async () => {
    const key = await createKey({ name: 'busy' });
    const usedKey = keys.apiKeyLastUsed(key.keyId);
    expect(await gw.stores.live.get(usedKey)).toBeNull();

    const first = gw.clock.now();
    expect((await exchangeWith(key.apiKey)).body.isAuthenticated).toBe(true);
    await pollUntil(() => gw.stores.live.get(usedKey), (v) => v !== null, { what: 'first lastUsedAt write' });
    expect(await gw.stores.live.get(usedKey)).toBe(String(first));

    // Two more uses within the minute: no new write. The write, had there
    // been one, was sent on the same connection before the exchange's own
    // store read, so it would be visible once the response is in.
    gw.clock.advance(30_000);
    expect((await exchangeWith(key.apiKey)).body.isAuthenticated).toBe(true);
    gw.clock.advance(29_000);
    expect((await exchangeWith(key.apiKey)).body.isAuthenticated).toBe(true);
    expect(await gw.stores.live.get(usedKey)).toBe(String(first));

    // Past the minute: written again.
    gw.clock.advance(2_000);
    const third = gw.clock.now();
    expect((await exchangeWith(key.apiKey)).body.isAuthenticated).toBe(true);
    await pollUntil(() => gw.stores.live.get(usedKey), (v) => v === String(third), { what: 'second lastUsedAt write' });
    expect((await keyView(key.keyId)).lastUsedAt).toBe(new Date(third).toISOString());
  });

  it('is not touched by a refused key', async () => {
    const key = await createKey({ name: 'revoked-before-use' });
    expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.keyId}`)).status).toBe(204);
    problem(await exchangeWith(key.apiKey), 401, 'invalid_api_key');
    expect(await gw.stores.live.get(keys.apiKeyLastUsed(key.keyId))).toBeNull();
  });
});

describe('DELETE /admin/v1/{environment}/sites/{siteId}/api-keys/{keyId} (revoke)', () => {
  it('204, then the key is refused and listed as revoked', async () => {
    const key = await createKey({ name: 'to revoke' });
    expect((await exchangeWith(key.apiKey)).status).toBe(200);
    const res = await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.keyId}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    problem(await exchangeWith(key.apiKey), 401, 'invalid_api_key');
    expect((await keyView(key.keyId)).revokedAt).toBe(new Date(gw.clock.now()).toISOString());
  });

  it('is idempotent', async () => {
    const key = await createKey({ name: 'twice' });
    expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.keyId}`)).status).toBe(204);
    const revokedAt = (await keyView(key.keyId)).revokedAt;
    gw.clock.advance(5_000);
    expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.keyId}`)).status).toBe(204);
    expect((await keyView(key.keyId)).revokedAt).toBe(revokedAt);
  });

  it('leaves the other keys of the site working', async () => {
    const keep = await createKey({ name: 'keep' });
    const drop = await createKey({ name: 'drop' });
    await admin.call('delete', `/sites/${site.siteId}/api-keys/${drop.keyId}`);
    expect((await exchangeWith(keep.apiKey)).body.isAuthenticated).toBe(true);
  });

  it('404 api_key_not_found for an unknown keyId, or a key of another site', async () => {
    problem(await admin.call('delete', `/sites/${site.siteId}/api-keys/key_doesnotexist`), 404, 'api_key_not_found');
    const other = await admin.provisionSite({ name: 'Other' });
    problem(await admin.call('delete', `/sites/${site.siteId}/api-keys/${other.keyId}`), 404, 'api_key_not_found');
    // The other site's key was not touched.
    expect((await listKeys(other.siteId)).find((k) => k.keyId === other.keyId)?.revokedAt).toBeNull();
  });

  it('404 site_not_found for an unknown site', async () => {
    problem(await admin.call('delete', `/sites/site_nope/api-keys/${site.keyId}`), 404, 'site_not_found');
  });
});

describe('POST /admin/v1/{environment}/sites/{siteId}/api-keys/{keyId}/roll', () => {
  it('requires expiresInSeconds', async () => {
    const key = await createKey({ name: 'roll-me' });
    for (const body of [{}, { expiresInSeconds: -1 }, { expiresInSeconds: 1.5 }, { expiresInSeconds: '60' }, { expiresInSeconds: 604801 }]) {
      problem(await admin.call('post', `/sites/${site.siteId}/api-keys/${key.keyId}/roll`, body), 400, 'invalid_request');
    }
    const noBody = await adminRoll(key.keyId, undefined);
    problem(noBody, 400, 'invalid_request');
    // Nothing was rolled.
    expect((await keyView(key.keyId)).expiresAt).toBeNull();
  });

  it('expiresInSeconds 0: the old key stops now, the new one (shown once) works', async () => {
    const key = await createKey({ name: 'roll-now' });
    expect((await exchangeWith(key.apiKey)).status).toBe(200);
    const rolled = await adminRoll(key.keyId, { expiresInSeconds: 0 });
    expect(rolled.status).toBe(201);
    expect(rolled.headers['cache-control']).toBe('no-store');
    expect(rolled.body.apiKey).toMatch(/^vg_live_sk_[0-9A-Za-z]{38}$/);
    expect(rolled.body.apiKey).not.toBe(key.apiKey);
    expect(rolled.body.keyId).not.toBe(key.keyId);
    expect(rolled.body.last4).toBe(rolled.body.apiKey.slice(-4));
    expect(rolled.body.name).toBe('roll-now');
    expect(rolled.body.previousKey).toMatchObject({ keyId: key.keyId, expiresAt: new Date(gw.clock.now()).toISOString() });

    problem(await exchangeWith(key.apiKey), 401, 'invalid_api_key');
    expect((await exchangeWith(rolled.body.apiKey)).body.isAuthenticated).toBe(true);
    expect(JSON.stringify(await listKeys())).not.toContain(rolled.body.apiKey);
  });

  it('keeps an earlier expiry of the old key', async () => {
    const expiresAt = gw.clock.now() + 60_000;
    const key = await createKey({ name: 'short-lived', expiresAt: new Date(expiresAt).toISOString() });
    const rolled = await adminRoll(key.keyId, { expiresInSeconds: 3600 });
    expect(rolled.status).toBe(201);
    expect(rolled.body.previousKey.expiresAt).toBe(new Date(expiresAt).toISOString());
  });

  it('refuses to roll a revoked key, and 404s unknown keys', async () => {
    const key = await createKey({ name: 'revoked' });
    await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.keyId}`);
    problem(await adminRoll(key.keyId, { expiresInSeconds: 60 }), 400, 'invalid_request');
    problem(await adminRoll('key_doesnotexist', { expiresInSeconds: 60 }), 404, 'api_key_not_found');
  });
});

async function adminRoll(keyId: string, body: Record<string, unknown> | undefined) {
  return admin.call('post', `/sites/${site.siteId}/api-keys/${keyId}/roll`, body);
}
