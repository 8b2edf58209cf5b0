import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { generateCredential } from '../../src/domain/credentials';
import { SecretBox } from '../../src/domain/secrets';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
});
afterAll(() => gw.close());

const problem = (res: { status: number; body: { code?: string } }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body.code).toBe(code);
};

const userPath = (userId: string, siteId = site.siteId) => `/sites/${siteId}/users/${encodeURIComponent(userId)}`;

async function exchangeReason(token: string): Promise<string | true> {
  const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
  expect(res.status).toBe(200);
  return res.body.isAuthenticated ? true : (res.body.reason as string);
}

async function sessionStatus(sessionToken: string | undefined) {
  let req = gw.http('live').get('/live_api/v1/session');
  if (sessionToken !== undefined) req = req.set('Authorization', `Bearer ${sessionToken}`);
  const res = checked(await req);
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  return res.body as { isAuthenticated: boolean; user: { userId: string } | null };
}

describe('PUT /admin/v1/{environment}/sites/{siteId}/users/{userId}', () => {
  it('creates (201) then updates (200), keeping omitted fields', async () => {
    const created = await admin.call('put', userPath('u-put'), {
      email: 'ada@example.com',
      name: 'Ada',
      attributes: { plan: 'pro', seats: 3, beta: true, note: null },
      productAccess: [{ productId: 'reports', expiresAt: null }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      userId: 'u-put',
      email: 'ada@example.com',
      name: 'Ada',
      attributes: { plan: 'pro', seats: 3, beta: true, note: null },
      productAccess: [{ productId: 'reports', expiresAt: null }],
    });
    expect(created.body.createdAt).toBe(created.body.updatedAt);

    gw.clock.advance(1000);
    const updated = await admin.call('put', userPath('u-put'), { name: 'Ada L.' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      userId: 'u-put',
      email: 'ada@example.com',
      name: 'Ada L.',
      attributes: { plan: 'pro', seats: 3, beta: true, note: null },
      productAccess: [{ productId: 'reports', expiresAt: null }],
      createdAt: created.body.createdAt,
    });
    expect(Date.parse(updated.body.updatedAt)).toBe(Date.parse(created.body.createdAt) + 1000);

    // null clears; an empty body changes nothing.
    const cleared = await admin.call('put', userPath('u-put'), { email: null, attributes: {} });
    expect(cleared.body).toMatchObject({ email: null, name: 'Ada L.', attributes: {} });
    const untouched = await admin.call('put', userPath('u-put'), {});
    expect(untouched.status).toBe(200);
    expect(untouched.body).toMatchObject({ email: null, name: 'Ada L.', productAccess: [{ productId: 'reports', expiresAt: null }] });

    const got = await admin.call('get', userPath('u-put'));
    expect(got.status).toBe(200);
    expect(got.headers['cache-control']).toBe('no-store');
    expect(got.body).toEqual(untouched.body);
  });

  it('creates a user with defaults from an empty body', async () => {
    const res = await admin.call('put', userPath('u-empty'), {});
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ userId: 'u-empty', email: null, name: null, attributes: {}, productAccess: [] });
  });

  it('accepts attributes of exactly 4 KiB', async () => {
    // {"a":"…"} is 8 bytes of framing.
    const attributes = { a: 'x'.repeat(4096 - 8) };
    expect(Buffer.byteLength(JSON.stringify(attributes))).toBe(4096);
    expect((await admin.call('put', userPath('u-4k'), { attributes })).status).toBe(201);
  });

  it.each([
    ['attributes over 4 KiB', { attributes: { a: 'x'.repeat(4096 - 7) } }],
    ['attributes over 4 KiB in multi-byte characters', { attributes: { a: 'é'.repeat(2100) } }],
    ['a nested attribute object', { attributes: { address: { city: 'Paris' } } }],
    ['an attribute array', { attributes: { tags: ['a', 'b'] } }],
    ['attributes that are an array', { attributes: ['a'] }],
    ['a bad email', { email: 'not-an-email' }],
    ['an email that is not a string', { email: 42 }],
    ['a name of 257 characters', { name: 'n'.repeat(257) }],
    ['productAccess with a bad date', { productAccess: [{ productId: 'p', expiresAt: 'next tuesday' }] }],
    ['productAccess with a date without zone', { productAccess: [{ productId: 'p', expiresAt: '2030-01-01' }] }],
    ['productAccess without productId', { productAccess: [{ expiresAt: null }] }],
    ['productAccess with an empty productId', { productAccess: [{ productId: '', expiresAt: null }] }],
    ['productAccess that is not an array', { productAccess: { productId: 'p' } }],
    ['an unknown member', { email: 'a@example.com', role: 'admin' }],
    ['a body that is an array', []],
  ])('400 invalid_request for %s (and nothing is written)', async (_label, body) => {
    const userId = `u-invalid-${Math.random().toString(36).slice(2)}`;
    problem(await admin.call('put', userPath(userId), body), 400, 'invalid_request');
    problem(await admin.call('get', userPath(userId)), 404, 'user_not_found');
  });

  it('refuses a userId of 257 characters, accepts 256', async () => {
    problem(await admin.call('put', userPath('u'.repeat(257)), {}), 400, 'invalid_request');
    const ok = await admin.call('put', userPath('u'.repeat(256)), {});
    expect(ok.status).toBe(201);
    expect(ok.body.userId).toHaveLength(256);
  });

  it('keeps an invalid update from changing the user', async () => {
    await admin.call('put', userPath('u-keep'), { email: 'keep@example.com' });
    problem(await admin.call('put', userPath('u-keep'), { email: 'broken', name: 'New' }), 400, 'invalid_request');
    expect((await admin.call('get', userPath('u-keep'))).body).toMatchObject({ email: 'keep@example.com', name: null });
  });

  it('415 for a non-JSON body', async () => {
    const res = checked(
      await gw.http('admin').put(`/admin/v1/live${userPath('u-415')}`).set('Authorization', `Bearer ${gw.adminToken}`).set('Content-Type', 'text/plain').send('x'),
    );
    problem(res, 415, 'unsupported_media_type');
  });

  it('404 site_not_found for an unknown site', async () => {
    problem(await admin.call('put', userPath('u', 'site_nope'), {}), 404, 'site_not_found');
    problem(await admin.call('get', userPath('u', 'site_nope')), 404, 'site_not_found');
  });

  it.each([
    ['Unicode', 'Zoë-李雷-🙂'],
    ['spaces and punctuation', 'a b+c&d=e?f#g%h'],
    ['an email address', 'ada@example.com'],
    ['colons and braces', 'tenant:{42}:user'],
    ['a dot-only-looking id', '...x'],
  ])('round-trips a userId with %s (URL-encoded in the path)', async (_label, userId) => {
    const put = await admin.call('put', userPath(userId), { name: 'Special' });
    expect(put.status).toBe(201);
    expect(put.body.userId).toBe(userId);
    const got = await admin.call('get', userPath(userId));
    expect(got.status).toBe(200);
    expect(got.body.userId).toBe(userId);

    // And it works end to end.
    const st = await admin.createSession(site.siteId, userId);
    const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: await verificationTokenFor(gw, 'live', st) });
    expect(res.body.isAuthenticated).toBe(true);
    expect(res.body.userInfo.userId).toBe(userId);
    expect((await sessionStatus(st)).user?.userId).toBe(userId);

    const del = await admin.call('delete', userPath(userId));
    expect(del.status).toBe(204);
    problem(await admin.call('get', userPath(userId)), 404, 'user_not_found');
  });

  it('keeps users of different sites apart', async () => {
    const other = await admin.provisionSite({ name: 'Other' });
    await admin.putUser(site.siteId, 'u-shared', { email: 'here@example.com' });
    problem(await admin.call('get', userPath('u-shared', other.siteId)), 404, 'user_not_found');
    await admin.putUser(other.siteId, 'u-shared', { email: 'there@example.com' });
    expect((await admin.call('get', userPath('u-shared'))).body.email).toBe('here@example.com');
    expect((await admin.call('get', userPath('u-shared', other.siteId))).body.email).toBe('there@example.com');
  });
});

describe('GET and DELETE /admin/v1/{environment}/sites/{siteId}/users/{userId}', () => {
  it('404 user_not_found for an unknown user', async () => {
    problem(await admin.call('get', userPath('nobody')), 404, 'user_not_found');
    problem(await admin.call('delete', userPath('nobody')), 404, 'user_not_found');
  });

  it('DELETE removes the user and ends every session: their tokens exchange as session_ended', async () => {
    await admin.putUser(site.siteId, 'u-delete');
    const st1 = await admin.createSession(site.siteId, 'u-delete');
    const st2 = await admin.createSession(site.siteId, 'u-delete');
    const t1 = await verificationTokenFor(gw, 'live', st1);
    const t2 = await verificationTokenFor(gw, 'live', st2);
    expect(await exchangeReason(t1)).toBe(true);

    const del = await admin.call('delete', userPath('u-delete'));
    expect(del.status).toBe(204);
    expect(del.text).toBe('');

    expect(await exchangeReason(t1)).toBe('session_ended');
    expect(await exchangeReason(t2)).toBe('session_ended');
    for (const st of [st1, st2]) {
      expect(await sessionStatus(st)).toEqual({ isAuthenticated: false, user: null });
      const issue = checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${st}`));
      problem(issue, 401, 'no_session');
    }
    problem(await admin.call('get', userPath('u-delete')), 404, 'user_not_found');

    // Recreating the user does not bring the old sessions back.
    await admin.putUser(site.siteId, 'u-delete');
    expect(await exchangeReason(t1)).toBe('session_ended');
    expect((await admin.call('get', `${userPath('u-delete')}/sessions`)).body.sessions).toEqual([]);
  });
});

describe('sessions', () => {
  it('POST …/sessions for an unknown user: 404 user_not_found; unknown site: 404 site_not_found', async () => {
    problem(await admin.call('post', `${userPath('ghost')}/sessions`), 404, 'user_not_found');
    problem(await admin.call('post', `${userPath('ghost', 'site_nope')}/sessions`), 404, 'site_not_found');
    problem(await admin.call('get', `${userPath('ghost')}/sessions`), 404, 'user_not_found');
    problem(await admin.call('delete', `${userPath('ghost')}/sessions`), 404, 'user_not_found');
  });

  it('POST …/sessions: 201 with a session token shown once', async () => {
    await admin.putUser(site.siteId, 'u-new-session');
    const res = await admin.call('post', `${userPath('u-new-session')}/sessions`, { expiresInSeconds: 3600, idleTimeoutSeconds: 600 });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.sessionToken).toMatch(/^vg_live_st_[0-9A-Za-z]{38}$/);
    expect(res.body).toMatchObject({ siteId: site.siteId, userId: 'u-new-session', idleTimeoutSeconds: 600 });
    expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(3_600_000);
    const list = await admin.call('get', `${userPath('u-new-session')}/sessions`);
    expect(JSON.stringify(list.body)).not.toContain(res.body.sessionToken);
  });

  it('POST …/sessions refuses bad options', async () => {
    await admin.putUser(site.siteId, 'u-bad-options');
    for (const body of [{ expiresInSeconds: 0 }, { idleTimeoutSeconds: 'long' }, { sessionId: 'mine' }]) {
      problem(await admin.call('post', `${userPath('u-bad-options')}/sessions`, body), 400, 'invalid_request');
    }
  });

  it('GET …/sessions lists the active sessions', async () => {
    await admin.putUser(site.siteId, 'u-list');
    expect((await admin.call('get', `${userPath('u-list')}/sessions`)).body.sessions).toEqual([]);
    const a = await admin.call('post', `${userPath('u-list')}/sessions`);
    gw.clock.advance(10);
    const b = await admin.call('post', `${userPath('u-list')}/sessions`);
    const list = await admin.call('get', `${userPath('u-list')}/sessions`);
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([a.body.sessionId, b.body.sessionId]);
    for (const s of list.body.sessions) {
      expect(s).not.toHaveProperty('sessionToken');
      expect(s).not.toHaveProperty('tokenHash');
    }

    // A signed-out session leaves the list.
    const out = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${a.body.sessionToken}`));
    expect(out.status).toBe(204);
    const after = await admin.call('get', `${userPath('u-list')}/sessions`);
    expect(after.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([b.body.sessionId]);
  });

  it('DELETE …/sessions signs the user out everywhere', async () => {
    await admin.putUser(site.siteId, 'u-everywhere');
    const st1 = await admin.createSession(site.siteId, 'u-everywhere');
    const st2 = await admin.createSession(site.siteId, 'u-everywhere');
    const t1 = await verificationTokenFor(gw, 'live', st1);
    const t2 = await verificationTokenFor(gw, 'live', st2);
    expect(await exchangeReason(t1)).toBe(true);
    expect(await exchangeReason(t2)).toBe(true);
    expect((await sessionStatus(st1)).isAuthenticated).toBe(true);

    const res = await admin.call('delete', `${userPath('u-everywhere')}/sessions`);
    expect(res.status).toBe(204);

    expect(await exchangeReason(t1)).toBe('session_ended');
    expect(await exchangeReason(t2)).toBe('session_ended');
    expect(await sessionStatus(st1)).toEqual({ isAuthenticated: false, user: null });
    expect(await sessionStatus(st2)).toEqual({ isAuthenticated: false, user: null });
    expect((await admin.call('get', `${userPath('u-everywhere')}/sessions`)).body.sessions).toEqual([]);
    // The user remains; a new sign-in works.
    expect((await admin.call('get', userPath('u-everywhere'))).status).toBe(200);
    const st3 = await admin.createSession(site.siteId, 'u-everywhere');
    expect(await exchangeReason(await verificationTokenFor(gw, 'live', st3))).toBe(true);
  });

  it('DELETE …/sessions leaves other users signed in', async () => {
    await admin.putUser(site.siteId, 'u-stay');
    await admin.putUser(site.siteId, 'u-go');
    const stay = await admin.createSession(site.siteId, 'u-stay');
    await admin.createSession(site.siteId, 'u-go');
    await admin.call('delete', `${userPath('u-go')}/sessions`);
    expect((await sessionStatus(stay)).isAuthenticated).toBe(true);
  });
});

describe('browser session endpoints', () => {
  let sandboxSessionToken: string;
  beforeAll(async () => {
    const sandbox = adminClient(gw, 'sandbox');
    const sb = await sandbox.provisionSite();
    await sandbox.putUser(sb.siteId, 'u-browser');
    sandboxSessionToken = await sandbox.createSession(sb.siteId, 'u-browser');
  });

  it('GET /live_api/v1/session describes a live session', async () => {
    await admin.putUser(site.siteId, 'u-browser', { email: 'b@example.com' });
    const st = await admin.createSession(site.siteId, 'u-browser');
    const status = await sessionStatus(st);
    expect(status.isAuthenticated).toBe(true);
    expect(status.user).toMatchObject({ userId: 'u-browser', email: 'b@example.com' });
  });

  it('GET /live_api/v1/session without a token: isAuthenticated false', async () => {
    expect(await sessionStatus(undefined)).toEqual({ isAuthenticated: false, user: null });
    expect(await sessionStatus('garbage')).toEqual({ isAuthenticated: false, user: null });
  });

  describe('POST /live_api/v1/users/verification-token: 401 no_session', () => {
    const refused = async (authorization: string | undefined) => {
      let req = gw.http('live').post('/live_api/v1/users/verification-token');
      if (authorization !== undefined) req = req.set('Authorization', authorization);
      const res = checked(await req);
      problem(res, 401, 'no_session');
      expect(res.body).not.toHaveProperty('userVerificationToken');
    };

    it('without a token', async () => {
      await refused(undefined);
    });

    it('for an ended session', async () => {
      await admin.putUser(site.siteId, 'u-ended');
      const st = await admin.createSession(site.siteId, 'u-ended');
      await verificationTokenFor(gw, 'live', st);
      expect(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`)).status).toBe(204);
      await refused(`Bearer ${st}`);
    });

    it('for an unknown (well-formed) session token', async () => {
      await refused(`Bearer ${generateCredential('live', 'st')}`);
    });

    it('for a malformed session token (typo, truncated, wrong kind, junk)', async () => {
      await admin.putUser(site.siteId, 'u-typo');
      const st = await admin.createSession(site.siteId, 'u-typo');
      const typo = st.slice(0, 15) + (st[15] === 'a' ? 'b' : 'a') + st.slice(16);
      await refused(`Bearer ${typo}`);
      await refused(`Bearer ${st.slice(0, -1)}`);
      await refused(`Bearer ${site.apiKey}`);
      await refused('Bearer not-a-token');
      await refused(`Basic ${st}`);
      // The real one still works.
      expect(await verificationTokenFor(gw, 'live', st)).toEqual(expect.any(String));
    });

    it("for the other environment's session token", async () => {
      await refused(`Bearer ${sandboxSessionToken}`);
      // … which works where it belongs.
      expect(await verificationTokenFor(gw, 'sandbox', sandboxSessionToken)).toEqual(expect.any(String));
    });
  });

  it('DELETE /live_api/v1/session without a session: 401 no_session', async () => {
    problem(checked(await gw.http('live').delete('/live_api/v1/session')), 401, 'no_session');
    problem(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${generateCredential('live', 'st')}`)), 401, 'no_session');
    problem(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sandboxSessionToken}`)), 401, 'no_session');
  });

  it('DELETE /live_api/v1/session twice: the second is 401 no_session', async () => {
    await admin.putUser(site.siteId, 'u-twice');
    const st = await admin.createSession(site.siteId, 'u-twice');
    expect(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`)).status).toBe(204);
    problem(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`)), 401, 'no_session');
  });
});

describe('ending sessions leaves no session-token pointer behind', () => {
  const pointerOf = (sessionToken: string) => `st:${new SecretBox(gw.masterKey, 'live').hash('session-token', sessionToken)}`;

  it('DELETE …/sessions removes every session token pointer', async () => {
    await admin.putUser(site.siteId, 'ptr-1');
    const tokens = [await admin.createSession(site.siteId, 'ptr-1'), await admin.createSession(site.siteId, 'ptr-1')];
    for (const t of tokens) expect(await gw.stores.live.get(pointerOf(t))).not.toBeNull();
    expect((await admin.call('delete', `/sites/${site.siteId}/users/ptr-1/sessions`)).status).toBe(204);
    for (const t of tokens) expect(await gw.stores.live.get(pointerOf(t))).toBeNull();
  });

  it('DELETE …/users/{userId} removes them too', async () => {
    await admin.putUser(site.siteId, 'ptr-2');
    const token = await admin.createSession(site.siteId, 'ptr-2');
    expect((await admin.call('delete', `/sites/${site.siteId}/users/ptr-2`)).status).toBe(204);
    expect(await gw.stores.live.get(pointerOf(token))).toBeNull();
  });
});
