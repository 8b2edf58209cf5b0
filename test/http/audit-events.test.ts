import { adminClient, checked, startGateway, type TestGateway } from '../support/gateway';

/**
 * SPEC §11's audit log: the events admin calls caused, each with who and
 * from where, newest first across every site, paged by cursor.
 */

let gw: TestGateway;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(() => gw.close());

const root = () => ({ Authorization: `Bearer ${gw.adminToken}` });

interface AuditBody {
  id: string;
  type: string;
  siteId: string | null;
  actor: string;
  clientAddress: string;
  data: Record<string, unknown>;
}

async function auditPage(query = '', auth: Record<string, string> = root()) {
  return checked(await gw.http('admin').get(`/admin/v1/live/audit-events${query}`).set(auth));
}

async function wholeLog(limit: number): Promise<AuditBody[]> {
  const out: AuditBody[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const res = await auditPage(`?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    out.push(...res.body.data);
    if (!res.body.hasMore) return out;
    cursor = res.body.nextCursor;
  }
  throw new Error('the audit log did not end');
}

it("lists what admin calls changed, newest first, with actor and client address, and not what visitors did", async () => {
  const admin = adminClient(gw, 'live');
  const a = await admin.provisionSite({ name: 'A' });
  const b = await admin.provisionSite({ name: 'B' });
  await admin.putUser(a.siteId, 'ada', {});
  await admin.call('post', '/signing-keys/rotate');
  await admin.putUser(b.siteId, 'bob', {});
  // A sign-in by a visitor is on the feed, not in the audit log.
  const token = await admin.call('post', `/sites/${b.siteId}/users/bob/sessions`, {});
  expect(token.status).toBe(201);
  await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${token.body.sessionToken}`);

  const log = await wholeLog(100);
  expect(log.map((e) => [e.type, e.siteId])).toEqual([
    ['session.created', b.siteId],
    ['user.created', b.siteId],
    ['signing_key.rotated', null],
    ['user.created', a.siteId],
    ['api_key.created', b.siteId],
    ['site.created', b.siteId],
    ['api_key.created', a.siteId],
    ['site.created', a.siteId],
  ]);
  for (const e of log) expect(e).toMatchObject({ actor: 'root', clientAddress: expect.stringMatching(/127\.0\.0\.1/) });
  // The visitor's sign-out is on the site's feed only.
  const feed = checked(await gw.http('live').get('/live_api/s2s/v1/events').set('X-API-KEY', b.apiKey));
  expect(feed.body.data.map((e: { type: string }) => e.type)).toContain('session.ended');
});

it('pages by cursor through every site without losing or repeating an entry', async () => {
  const admin = adminClient(gw, 'live');
  const sites = [await admin.provisionSite(), await admin.provisionSite(), await admin.provisionSite()];
  for (let i = 0; i < 4; i++) for (const s of sites) await admin.putUser(s.siteId, `u${i}`, {});
  const whole = await wholeLog(500);
  expect(whole).toHaveLength(3 * 2 + 12);
  for (const limit of [1, 2, 5]) {
    expect((await wholeLog(limit)).map((e) => `${e.siteId} ${e.id}`)).toEqual(whole.map((e) => `${e.siteId} ${e.id}`));
  }
});

it('names a scoped token as the actor, and is refused to a site-limited token', async () => {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  const made = checked(
    await gw.http('admin').post('/admin/v1/admin-tokens').set(root()).send({ name: 'ops', environments: ['live'], role: 'write' }),
  );
  const limited = checked(
    await gw
      .http('admin')
      .post('/admin/v1/admin-tokens')
      .set(root())
      .send({ name: 'one site', environments: ['live'], role: 'write', siteIds: [site.siteId] }),
  );
  const ops = { Authorization: `Bearer ${made.body.token}` };
  expect(checked(await gw.http('admin').put(`/admin/v1/live/sites/${site.siteId}/users/ada`).set(ops).send({})).status).toBe(201);
  const [latest] = (await auditPage('?limit=1', ops)).body.data as AuditBody[];
  expect(latest).toMatchObject({ type: 'user.created', actor: made.body.tokenId, siteId: site.siteId });
  const refused = await auditPage('', { Authorization: `Bearer ${limited.body.token}` });
  expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
});

it('refuses a cursor it did not hand out', async () => {
  for (const cursor of ['nonsense', Buffer.from('{"id":"x","s":""}').toString('base64url')]) {
    const res = await auditPage(`?cursor=${cursor}`);
    expect([res.status, res.body.code]).toEqual([400, 'invalid_request']);
  }
});
