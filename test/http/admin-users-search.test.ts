/**
 * GET /admin/v1/{environment}/sites/{siteId}/users (SPEC §10): a prefix
 * search on userId or email, a page at a time, the index kept in step with
 * every change of a user, on one Redis and on the cluster.
 */
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

const search = async (params: Record<string, string | number>, siteId = site.siteId) => {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return checked(await admin.call('get', `/sites/${siteId}/users${query ? `?${query}` : ''}`));
};
const ids = (res: { body: { users: { userId: string }[] } }) => res.body.users.map((u) => u.userId);

/** Every page of a search, following nextCursor. */
async function allPages(params: Record<string, string | number>): Promise<{ ids: string[]; pages: number }> {
  const out: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await search({ ...params, ...(cursor && { cursor }) });
    expect(res.status).toBe(200);
    out.push(...ids(res));
    cursor = res.body.nextCursor;
    pages++;
    if (pages > 50) throw new Error('pagination does not end');
  } while (cursor);
  return { ids: out, pages };
}

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'ada', { email: 'Ada.Lovelace@Example.com', name: 'Ada' });
  await admin.putUser(site.siteId, 'adam', { email: 'adam@example.com' });
  await admin.putUser(site.siteId, 'Adele', { email: 'x@example.com' });
  await admin.putUser(site.siteId, 'bob', { email: 'ada-fan@example.com' });
  await admin.putUser(site.siteId, 'carol', {});
  for (let i = 0; i < 23; i++) await admin.putUser(site.siteId, `u${String(i).padStart(2, '0')}`, { email: `user${i}@example.com` });
});
afterAll(() => gw.close());

it('matches the start of a user id (case as given) or of an email (any case), each user once', async () => {
  const res = await search({ query: 'ad' });
  expect(res.status).toBe(200);
  // ada (id and email), adam (id and email), bob (email ada-fan@…); Adele's id does not match 'ad'.
  expect(ids(res).sort()).toEqual(['ada', 'adam', 'bob']);
  expect(res.body.nextCursor).toBeNull();
  expect(ids(await search({ query: 'Ad' })).sort()).toEqual(['Adele', 'ada', 'adam', 'bob']);
  expect(ids(await search({ query: 'ADA.LOVELACE@' }))).toEqual(['ada']);
  expect(ids(await search({ query: 'zz' }))).toEqual([]);
  const ada = (await search({ query: 'ada.' })).body.users[0];
  expect(ada).toMatchObject({ userId: 'ada', email: 'Ada.Lovelace@Example.com', name: 'Ada', productAccess: [] });
});

it('pages through every user, none twice, with nextCursor', async () => {
  const { ids: every, pages } = await allPages({ limit: 7 });
  // 28 users, 7 a page: 4 pages, the last one saying there is no more.
  expect(pages).toBe(4);
  expect(new Set(every).size).toBe(every.length);
  expect(every).toHaveLength(28);
  // Ordered by user id, byte order.
  expect(every).toEqual([...every].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});

it('pages through a search matching on ids and emails alike, none twice', async () => {
  // 'u' matches u00…u22 by id and user0…user22@ by email: 23 users, each once.
  const { ids: found } = await allPages({ query: 'u', limit: 4 });
  expect(found).toHaveLength(23);
  expect(new Set(found).size).toBe(23);
  const small = await allPages({ query: 'ad', limit: 1 });
  expect(small.ids.sort()).toEqual(['ada', 'adam', 'bob']);
});

it('follows changes: a new email is found, the old one no more; a deleted user is gone', async () => {
  await admin.putUser(site.siteId, 'carol', { email: 'carol@new.example' });
  expect(ids(await search({ query: 'carol@' }))).toEqual(['carol']);
  await admin.putUser(site.siteId, 'carol', { email: 'cc@other.example' });
  expect(ids(await search({ query: 'carol@' }))).toEqual([]);
  expect(ids(await search({ query: 'carol' }))).toEqual(['carol']); // still by id
  expect(ids(await search({ query: 'cc@' }))).toEqual(['carol']);
  await admin.putUser(site.siteId, 'gone', { email: 'gone@example.com' });
  expect(ids(await search({ query: 'gone' }))).toEqual(['gone']);
  expect((await admin.call('delete', `/sites/${site.siteId}/users/gone`)).status).toBe(204);
  expect(ids(await search({ query: 'gone' }))).toEqual([]);
});

it('finds users created by a sign-in too', async () => {
  const signedIn = await admin.provisionSite();
  await admin.createSession(signedIn.siteId, 'x').catch(() => undefined);
  await admin.putUser(signedIn.siteId, 'zed', { email: 'zed@example.com' });
  expect(ids(await search({ query: 'zed@' }, signedIn.siteId))).toEqual(['zed']);
  expect(ids(await search({}, signedIn.siteId))).toEqual(['zed']);
});

it('refuses a cursor of another query, a forged cursor and a limit out of range with 400 invalid_request', async () => {
  const first = await search({ query: 'u', limit: 2 });
  const cursor = first.body.nextCursor as string;
  expect(typeof cursor).toBe('string');
  const cases: Record<string, string | number>[] = [
    { query: 'a', cursor },
    { cursor: 'not-a-cursor' },
    { limit: 0 },
    { limit: 101 },
    { limit: 'ten' },
  ];
  for (const params of cases) {
    const res = await search(params);
    expect([JSON.stringify(params), res.status, res.body.code]).toEqual([JSON.stringify(params), 400, 'invalid_request']);
  }
});

it('404 site_not_found for an unknown site', async () => {
  const res = await search({ query: 'a' }, 'site_nope');
  expect([res.status, res.body.code]).toEqual([404, 'site_not_found']);
});

it('never lists another site’s users', async () => {
  const other = await admin.provisionSite({ name: 'Other' });
  await admin.putUser(other.siteId, 'ada-other', { email: 'ada@example.com' });
  expect(ids(await search({ query: 'ada' }))).not.toContain('ada-other');
  expect(ids(await search({ query: 'ada' }, other.siteId))).toEqual(['ada-other']);
});

it('pages in the same order as one big page, however ids and emails interleave', async () => {
  const mixed = await admin.provisionSite({ name: 'Mixed' });
  // Email entries of users whose id matches too are skipped; the rest interleave with the id entries.
  for (const [userId, email] of [
    ['md', 'm0@example.com'],
    ['me', 'm1@example.com'],
    ['x1', 'ma@example.com'],
    ['x2', 'mb@example.com'],
    ['x3', 'mc@example.com'],
    ['mz', null],
    ['y1', 'mza@example.com'],
  ] as const) {
    await admin.putUser(mixed.siteId, userId, email ? { email } : {});
  }
  const whole = ids(await search({ query: 'm', limit: 100 }, mixed.siteId));
  expect(whole).toEqual(['x1', 'x2', 'x3', 'md', 'me', 'mz', 'y1']);
  for (const limit of [1, 2, 3]) {
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await search({ query: 'm', limit, ...(cursor && { cursor }) }, mixed.siteId);
      paged.push(...ids(res));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect([limit, paged]).toEqual([limit, whole]);
  }
});
