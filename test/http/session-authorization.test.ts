import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';

/**
 * The browser's session endpoints take the session token only as
 * `Authorization: Bearer <st>` (RFC 6750 §2.1: the scheme in any case, one or
 * more spaces, exactly the token; HTTP strips spaces and tabs at either end).
 * Every other way of presenting a genuine, live session token opens nothing:
 * no session read, no verification token, no sign-out.
 * (test/security/properties.test.ts checks the same rule on arbitrary values.)
 */

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'u1');
});
afterAll(() => gw.close());

const getSession = async (authorization: string) =>
  checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', authorization));
const issueToken = async (authorization: string) =>
  checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', authorization));
const signOut = async (authorization: string) =>
  checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', authorization));

describe.each<[string, (st: string) => string]>([
  ['Bearer <st>', (st) => `Bearer ${st}`],
  ['the scheme in lower case', (st) => `bearer ${st}`],
  ['the scheme in upper case, several spaces', (st) => `BEARER   ${st}`],
  ['spaces and tabs around the value (HTTP strips them)', (st) => ` \tBearer ${st} \t`],
])('accepted: %s', (_label, present) => {
  it('reads the session, issues a token, signs out', async () => {
    const st = await admin.createSession(site.siteId, 'u1');
    expect((await getSession(present(st))).body).toMatchObject({ isAuthenticated: true, user: { userId: 'u1' } });
    expect((await issueToken(present(st))).status).toBe(200);
    expect((await signOut(present(st))).status).toBe(204);
    expect((await getSession(`Bearer ${st}`)).body.isAuthenticated).toBe(false);
  });
});

describe.each<[string, (st: string) => string]>([
  ['another scheme: Basic <st>', (st) => `Basic ${st}`],
  ['another scheme: Token <st>', (st) => `Token ${st}`],
  ['no scheme: a bare <st>', (st) => st],
  ['the scheme twice', (st) => `Bearer Bearer ${st}`],
  ['something before the scheme', (st) => `x Bearer ${st}`],
  ['no space after the scheme', (st) => `Bearer${st}`],
  ['a tab between scheme and token', (st) => `Bearer\t${st}`],
  ['junk glued to the token: Bearer <st>junk', (st) => `Bearer ${st}junk`],
  ['a second word after the token', (st) => `Bearer ${st} junk`],
  ['the token twice', (st) => `Bearer ${st},Bearer ${st}`],
  ['the token quoted', (st) => `Bearer "${st}"`],
  ['the token truncated', (st) => `Bearer ${st.slice(0, -1)}`],
  ['the token with one character more', (st) => `Bearer ${st}0`],
  ['the token lower-cased', (st) => `Bearer ${st.toLowerCase()}`],
])('refused: %s', (_label, present) => {
  it('reads no session, issues no token (401 no_session), and a sign-out ends nothing', async () => {
    const st = await admin.createSession(site.siteId, 'u1');
    expect((await getSession(present(st))).body).toEqual({ isAuthenticated: false, user: null });
    const issued = await issueToken(present(st));
    expect([issued.status, issued.body.code]).toEqual([401, 'no_session']);
    const out = await signOut(present(st));
    expect([out.status, out.body.code]).toEqual([401, 'no_session']);
    // The control: the same token, presented properly, is live throughout.
    expect((await getSession(`Bearer ${st}`)).body.isAuthenticated).toBe(true);
  });
});

// TODO(issue 18 finding): bearerToken (src/http/body.ts) ignores trailing
// whitespace in JavaScript's sense, NBSP (0xA0) included, which HTTP does not
// strip. Harmless (the token must still match exactly) but not RFC 6750.
// Pinned here so the day the `\s*` goes, this flips and the tolerance in
// test/security/support/bearer-oracle.ts goes with it.
it('tolerates (for now) a trailing NBSP after the token', async () => {
  const st = await admin.createSession(site.siteId, 'u1');
  expect((await getSession(`Bearer ${st}\xa0`)).body.isAuthenticated).toBe(true);
});
