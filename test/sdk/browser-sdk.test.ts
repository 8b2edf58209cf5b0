/**
 * The browser SDK's logic, run in Node against a real in-process gateway
 * (real Redis): a fake localStorage stands in for the page's, and the
 * global fetch (Node's) reaches the gateway. Browser-only behaviour (CORS,
 * the script tag, a real localStorage) is covered by test/e2e/demo.e2e.test.ts.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { adminClient, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { createVerigate, DEFAULT_BASE_URLS, TOKEN_REUSE_MARGIN_MS, VerigateError, type Verigate, type VerigateUser } from '@verigate/browser';
import { autoInit } from '../../packages/browser/src/script-tag';

class FakeLocalStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let storage: FakeLocalStorage;
let requests: string[];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'ada', { name: 'Ada', productAccess: [{ productId: 'reports', expiresAt: null }] });
});
afterAll(() => gw.close());

beforeEach(() => {
  storage = new FakeLocalStorage();
  (globalThis as { localStorage?: unknown }).localStorage = storage;
  requests = [];
  // Every call the SDK makes, counted, then sent for real.
  globalThis.fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return realFetch(input, init);
  };
});
afterEach(() => {
  globalThis.fetch = realFetch;
  delete (globalThis as { localStorage?: unknown }).localStorage;
});

const storageKey = () => `verigate.session.${site.publishableKey}`;

/** A session made by the admin API, stored as if an earlier page had signed in. */
async function storedSession(userId = 'ada'): Promise<string> {
  const sessionToken = await admin.createSession(site.siteId, userId);
  storage.setItem(storageKey(), JSON.stringify({ t: sessionToken, e: Date.now() + 3600_000 }));
  return sessionToken;
}

async function initialised(options: { now?: () => number } = {}): Promise<Verigate> {
  const verigate = createVerigate();
  await verigate.init({ publishableKey: site.publishableKey, baseUrl: gw.urls.live, ...options });
  return verigate;
}

/** An identity token as the customer backend signs it: a new one each time (jti), as a token signs in once. */
function identityToken(claims: Record<string, unknown>, secret = site.identitySecret): Promise<string> {
  return new SignJWT({ jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(createSecretKey(Buffer.from(secret, 'utf8')));
}

async function sessionIsActive(sessionToken: string): Promise<boolean> {
  const res = await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`);
  return res.body.isAuthenticated as boolean;
}

describe('init', () => {
  it('restores a stored session and reports the user', async () => {
    await storedSession();
    const verigate = await initialised();
    expect(verigate.isAuthenticated).toBe(true);
    expect(verigate.user).toMatchObject({ userId: 'ada', name: 'Ada', productAccess: [{ productId: 'reports' }] });
    expect(verigate.environment).toBe('live');
    expect(verigate.baseUrl).toBe(gw.urls.live);
    expect(requests).toEqual(['GET /live_api/v1/session']);
  });

  it('drops a stored session the gateway no longer knows', async () => {
    const sessionToken = await storedSession();
    await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`);
    const verigate = await initialised();
    expect(verigate.isAuthenticated).toBe(false);
    expect(storage.getItem(storageKey())).toBeNull();
  });

  it('makes no request when nothing is stored', async () => {
    const verigate = await initialised();
    expect(verigate.user).toBeNull();
    expect(requests).toEqual([]);
  });

  describe('refuses a publishable key of the other environment', () => {
    /**
     * `init` throws at once and sends nothing: a session is stored under the
     * refused key first, so an SDK that went on to restore it (or asked
     * anything else) would show up in `requests`.
     */
    const refusal = async (options: Parameters<Verigate['init']>[0], verigate = createVerigate()): Promise<VerigateError> => {
      const sessionToken = await admin.createSession(site.siteId, 'ada');
      storage.setItem(`verigate.session.${String(options.publishableKey)}`, JSON.stringify({ t: sessionToken, e: Date.now() + 3600_000 }));
      let thrown: unknown;
      try {
        void verigate.init(options);
      } catch (err) {
        thrown = err;
      }
      if (thrown === undefined) throw new Error('expected init to throw');
      // Whatever an init that went on would have queued has had its turn.
      await new Promise((resolve) => setImmediate(resolve));
      expect(requests).toEqual([]);
      return thrown as VerigateError;
    };

    it('with sandbox: true and a live key', async () => {
      const err = await refusal({ publishableKey: site.publishableKey, sandbox: true, baseUrl: gw.urls.live });
      expect(err).toBeInstanceOf(VerigateError);
      expect(err.code).toBe('publishable_key_wrong_environment');
      expect(err.message).toMatch(/live key .* sandbox: true/);
    });

    it('against the sandbox base URL', async () => {
      const err = await refusal({ publishableKey: site.publishableKey, baseUrl: DEFAULT_BASE_URLS.sandbox });
      expect(err).toMatchObject({ code: 'publishable_key_wrong_environment' });
      expect(err.message).toMatch(/sandbox gateway/);
    });

    it('when the script came from the sandbox gateway', async () => {
      const fromSandbox = createVerigate({ scriptOrigin: DEFAULT_BASE_URLS.sandbox });
      expect(await refusal({ publishableKey: site.publishableKey }, fromSandbox)).toMatchObject({
        code: 'publishable_key_wrong_environment',
      });
    });

    it('and refuses a secret key outright', async () => {
      const err = await refusal({ publishableKey: site.apiKey, baseUrl: gw.urls.live });
      expect(err).toMatchObject({ code: 'invalid_publishable_key' });
      expect(err.message).toMatch(/SECRET/);
    });

    it('and a malformed key', async () => {
      expect(await refusal({ publishableKey: 'pk_test_123', baseUrl: gw.urls.live })).toMatchObject({ code: 'invalid_publishable_key' });
    });
  });

  it('picks the base URL: option, else script origin, else the build default for the key', async () => {
    const sandboxKey = (await adminClient(gw, 'sandbox').provisionSite()).publishableKey;
    const a = createVerigate();
    await a.init({ publishableKey: sandboxKey, storage: 'memory' });
    expect(a.baseUrl).toBe(DEFAULT_BASE_URLS.sandbox);
    const b = createVerigate({ scriptOrigin: 'https://gateway.example' });
    await b.init({ publishableKey: sandboxKey, storage: 'memory' });
    expect(b.baseUrl).toBe('https://gateway.example');
    const c = createVerigate({ scriptOrigin: 'https://gateway.example' });
    await c.init({ publishableKey: sandboxKey, baseUrl: 'https://api-sandbox.example.com/', storage: 'memory' });
    expect(c.baseUrl).toBe('https://api-sandbox.example.com');
  });

  it('rejects with TypeError when used before init', async () => {
    const verigate = createVerigate();
    await expect(verigate.getUserVerificationToken()).rejects.toThrow(TypeError);
    await expect(verigate.identify('x')).rejects.toThrow(/init/);
    await expect(verigate.resetUser()).rejects.toThrow(TypeError);
  });
});

describe('getUserVerificationToken', () => {
  it('answers null when nobody is signed in, without a request', async () => {
    const verigate = await initialised();
    expect(await verigate.getUserVerificationToken()).toBeNull();
    expect(requests).toEqual([]);
  });

  it('reuses a token while it has more than 60 s left', async () => {
    await storedSession();
    let now = Date.now();
    const verigate = await initialised({ now: () => now });
    requests.length = 0;
    const first = await verigate.getUserVerificationToken();
    expect(first).toMatch(/^ey/);
    expect(await verigate.getUserVerificationToken()).toBe(first);
    now += 300_000 - TOKEN_REUSE_MARGIN_MS - 1_000; // 61 s left
    expect(await verigate.getUserVerificationToken()).toBe(first);
    expect(requests).toEqual(['POST /live_api/v1/users/verification-token']);
    now += 2_000; // 59 s left: time for a fresh one
    const second = await verigate.getUserVerificationToken();
    expect(second).toMatch(/^ey/);
    expect(second).not.toBe(first);
    expect(requests).toHaveLength(2);
  });

  it('shares one request between concurrent calls', async () => {
    await storedSession();
    const verigate = await initialised();
    requests.length = 0;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => verigate.getUserVerificationToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^ey/);
    expect(requests).toEqual(['POST /live_api/v1/users/verification-token']);
  });

  it('turns anonymous when the session was ended elsewhere', async () => {
    const sessionToken = await storedSession();
    const verigate = await initialised();
    const changes: (VerigateUser | null)[] = [];
    verigate.on('userChange', (u) => changes.push(u));
    await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`);
    expect(await verigate.getUserVerificationToken()).toBeNull();
    expect(verigate.isAuthenticated).toBe(false);
    expect(verigate.lastError).toMatchObject({ code: 'no_session', status: 401 });
    expect(storage.getItem(storageKey())).toBeNull();
    expect(changes).toEqual([null]);
  });

  it('rejects with network_error when the gateway cannot be reached', async () => {
    await storedSession();
    const verigate = createVerigate();
    await verigate.init({ publishableKey: site.publishableKey, baseUrl: 'http://127.0.0.1:9' });
    await expect(verigate.getUserVerificationToken()).rejects.toMatchObject({ code: 'network_error' });
    expect(verigate.lastError).toMatchObject({ code: 'network_error' });
    expect(storage.getItem(storageKey())).not.toBeNull(); // not signed out by a network blip
  });
  it('keeps the session through a network blip at restore, and learns the user on the next call', async () => {
    await storedSession();
    let calls = 0;
    const flaky: typeof fetch = (input, init) => (++calls === 1 ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init));
    const verigate = createVerigate();
    await verigate.init({ publishableKey: site.publishableKey, baseUrl: gw.urls.live, fetch: flaky });
    expect(verigate.isAuthenticated).toBe(false);
    expect(verigate.lastError).toMatchObject({ code: 'network_error' });
    expect(await verigate.getUserVerificationToken()).toMatch(/^ey/);
    await verigate.ready;
    expect(verigate.user?.userId).toBe('ada');
  });
});

describe('resetUser', () => {
  it('clears storage, signs out at the gateway, and tells listeners', async () => {
    const sessionToken = await storedSession();
    const verigate = await initialised();
    const changes: (VerigateUser | null)[] = [];
    const listener = (u: VerigateUser | null) => changes.push(u);
    verigate.on('userChange', listener);
    await verigate.resetUser();
    expect(storage.getItem(storageKey())).toBeNull();
    expect(verigate.isAuthenticated).toBe(false);
    expect(verigate.user).toBeNull();
    expect(await verigate.getUserVerificationToken()).toBeNull();
    expect(await sessionIsActive(sessionToken)).toBe(false);
    expect(changes).toEqual([null]);
    verigate.off('userChange', listener);
    await storedSession();
    await verigate.init({ publishableKey: site.publishableKey, baseUrl: gw.urls.live });
    expect(changes).toEqual([null]);
  });
});

describe('identify', () => {
  it('signs in with a customer-signed identity token and persists the session', async () => {
    const verigate = await initialised();
    const changes: (string | null)[] = [];
    verigate.on('userChange', (u) => changes.push(u?.userId ?? null));
    const user = await verigate.identify(await identityToken({ sub: 'grace', email: 'grace@example.com', name: 'Grace' }));
    expect(user).toMatchObject({ userId: 'grace', email: 'grace@example.com', name: 'Grace' });
    expect(verigate.isAuthenticated).toBe(true);
    expect(verigate.lastError).toBeNull();
    expect(changes).toEqual(['grace']);
    const stored = JSON.parse(storage.getItem(storageKey()) ?? 'null') as { t: string };
    expect(stored.t).toMatch(/^vg_live_st_/);
    // A reload: a new instance over the same storage is still signed in.
    const reloaded = await initialised();
    expect(reloaded.user).toMatchObject({ userId: 'grace' });
    expect(await reloaded.getUserVerificationToken()).toMatch(/^ey/);
  });

  it('replaces, and ends, the previous session', async () => {
    const previous = await storedSession();
    const verigate = await initialised();
    await verigate.identify(await identityToken({ sub: 'grace' }));
    expect(verigate.user?.userId).toBe('grace');
    expect(await sessionIsActive(previous)).toBe(false);
  });

  it.each([
    ['signed with the wrong secret', () => identityToken({ sub: 'eve' }, 'vg_live_is_' + 'x'.repeat(43)), 'bad_signature'],
    [
      'expired',
      () =>
        new SignJWT({ sub: 'eve' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
          .sign(createSecretKey(Buffer.from(site.identitySecret))),
      'expired',
    ],
    ['not a JWT', async () => 'garbage', 'malformed'],
  ])('leaves the visitor anonymous, without throwing, for a token %s', async (_what, token, reason) => {
    const previous = await storedSession();
    const verigate = await initialised();
    expect(verigate.isAuthenticated).toBe(true);
    await expect(verigate.identify(await token())).resolves.toBeNull();
    expect(verigate.isAuthenticated).toBe(false);
    expect(verigate.user).toBeNull();
    expect(verigate.lastError).toBeInstanceOf(VerigateError);
    expect(verigate.lastError).toMatchObject({ code: 'invalid_identity_token', status: 401, reason });
    expect(verigate.lastError?.requestId).toEqual(expect.any(String));
    expect(storage.getItem(storageKey())).toBeNull();
    expect(await sessionIsActive(previous)).toBe(false);
    expect(await verigate.getUserVerificationToken()).toBeNull();
  });

  it('treats a missing token as a bad one, without a request', async () => {
    const verigate = await initialised();
    await expect(verigate.identify('')).resolves.toBeNull();
    expect(verigate.lastError).toMatchObject({ code: 'invalid_identity_token', reason: 'malformed' });
    expect(requests).toEqual([]);
  });

  it('leaves the visitor anonymous when the gateway is unreachable', async () => {
    const verigate = createVerigate();
    await verigate.init({ publishableKey: site.publishableKey, baseUrl: 'http://127.0.0.1:9' });
    await expect(verigate.identify(await identityToken({ sub: 'x' }))).resolves.toBeNull();
    expect(verigate.lastError).toMatchObject({ code: 'network_error' });
  });

  it('runs after a pending restore, so the restore cannot overwrite it', async () => {
    await storedSession('ada');
    const verigate = createVerigate();
    void verigate.init({ publishableKey: site.publishableKey, baseUrl: gw.urls.live });
    const user = await verigate.identify(await identityToken({ sub: 'grace' }));
    expect(user?.userId).toBe('grace');
    await verigate.ready;
    expect(verigate.user?.userId).toBe('grace');
  });
});

describe('an identity token is presented once (SPEC §7)', () => {
  it('a reload with the same token keeps the session it opened: no second sign-in, nothing stored of the token itself', async () => {
    const token = await identityToken({ sub: 'reloader' });
    const first = await initialised();
    await first.identify(token);
    const opened = JSON.parse(storage.getItem(storageKey()) ?? 'null') as { t: string; i: string };
    expect(opened.i).toMatch(/^sha256:/);
    expect(storage.getItem(storageKey())).not.toContain(token.split('.')[2]);

    requests = [];
    const reloaded = await initialised();
    const user = await reloaded.identify(token);
    expect(user?.userId).toBe('reloader');
    expect(reloaded.lastError).toBeNull();
    // The restore's read of the session, and no sign-in.
    expect(requests).toEqual(['GET /live_api/v1/session']);
    expect((JSON.parse(storage.getItem(storageKey()) ?? 'null') as { t: string }).t).toBe(opened.t);
  });

  it('a new token signs in anew, replacing the session', async () => {
    const first = await initialised();
    await first.identify(await identityToken({ sub: 'reloader' }));
    const before = (JSON.parse(storage.getItem(storageKey()) ?? 'null') as { t: string }).t;
    requests = [];
    const reloaded = await initialised();
    expect((await reloaded.identify(await identityToken({ sub: 'reloader' })))?.userId).toBe('reloader');
    expect(requests).toContain('POST /live_api/v1/sessions');
    expect(await sessionIsActive(before)).toBe(false);
  });

  it('when the session that token opened has ended, the token is not presented again: anonymous, reason replayed', async () => {
    const token = await identityToken({ sub: 'ended' });
    const first = await initialised();
    await first.identify(token);
    const { t } = JSON.parse(storage.getItem(storageKey()) ?? 'null') as { t: string };
    await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${t}`);
    requests = [];
    const reloaded = await initialised();
    expect(await reloaded.identify(token)).toBeNull();
    expect(reloaded.isAuthenticated).toBe(false);
    expect(reloaded.lastError).toMatchObject({ code: 'invalid_identity_token', reason: 'replayed' });
    expect(requests).not.toContain('POST /live_api/v1/sessions');
  });
});

describe('script-tag auto-init', () => {
  const scriptTag = (attributes: Record<string, string>) =>
    ({ getAttribute: (name: string) => attributes[name] ?? null }) as unknown as HTMLScriptElement;

  it('initialises from data-verigate-key and signs in with data-verigate-identity', async () => {
    const verigate = createVerigate();
    autoInit(
      verigate,
      scriptTag({
        'data-verigate-key': site.publishableKey,
        'data-verigate-base-url': gw.urls.live,
        'data-verigate-identity': await identityToken({ sub: 'tag-user' }),
      }),
    );
    await verigate.ready;
    expect(verigate.user?.userId).toBe('tag-user');
  });

  it('signs out when data-verigate-identity is present but empty', async () => {
    await storedSession();
    const verigate = createVerigate();
    autoInit(verigate, scriptTag({ 'data-verigate-key': site.publishableKey, 'data-verigate-base-url': gw.urls.live, 'data-verigate-identity': '' }));
    await verigate.ready;
    expect(verigate.isAuthenticated).toBe(false);
    expect(storage.getItem(storageKey())).toBeNull();
  });

  it('does nothing without data-verigate-key, and logs a misconfiguration', async () => {
    const verigate = createVerigate();
    autoInit(verigate, scriptTag({}));
    expect(verigate.environment).toBeNull();
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    autoInit(verigate, scriptTag({ 'data-verigate-key': site.publishableKey, 'data-verigate-base-url': DEFAULT_BASE_URLS.sandbox }));
    expect(error).toHaveBeenCalledWith(expect.objectContaining({ code: 'publishable_key_wrong_environment' }));
    error.mockRestore();
  });
});
