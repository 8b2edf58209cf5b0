import { VerigateError } from './errors.js';
import { resolveEnvironment } from './environment.js';
import type { Environment, VerigateUser } from './protocol.js';
import { takeLoginLinkToken } from './login-link.js';
import { defaultStorage, memoryStorage, safe, type StorageLike } from './storage.js';

/**
 * A verification token is reused while it has more than this left (ms);
 * `getUserVerificationToken()` fetches a new one after that.
 *
 * @example
 * ```ts
 * const fresh = (expiresAt: number) => expiresAt - Date.now() > TOKEN_REUSE_MARGIN_MS;
 * ```
 */
export const TOKEN_REUSE_MARGIN_MS = 60_000;

/** Per request; a hung gateway must not hang the page's sign-in. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Options of {@link Verigate.init}.
 *
 * @example
 * ```ts
 * const options: InitOptions = { publishableKey: 'vg_sandbox_pk_…', sandbox: true };
 * ```
 */
export interface InitOptions {
  /** The site's publishable key, `vg_live_pk_…` or `vg_sandbox_pk_…` (public; fine in page source). */
  publishableKey: string;
  /**
   * The environment you mean. Optional: the key says; when given, a key of
   * the other environment is refused with `publishable_key_wrong_environment`.
   */
  sandbox?: boolean;
  /**
   * The gateway's base URL. Default: the origin the SDK script was loaded
   * from, else the build's default for the key's environment.
   */
  baseUrl?: string;
  /**
   * Where the session token is kept. `'local'` (default): `localStorage`,
   * so sign-in survives reloads and is shared by the origin's tabs;
   * `'memory'`: this page only; or any `getItem/setItem/removeItem` object
   * (e.g. `sessionStorage`). See docs/sdk.md for the trade-offs.
   */
  storage?: 'local' | 'memory' | StorageLike;
  /** A `fetch` to use instead of the global one (instrumentation, tests). */
  fetch?: typeof fetch;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
  /**
   * Login links (default `true`): when the page's address carries
   * `?verigate_identity=<identity token>`, `init` takes it out of the
   * address at once (`history.replaceState`) and signs in with it. Call
   * `init` before anything else on the page reads `location`.
   */
  loginLink?: boolean;
}

/**
 * Called with the new visitor (or `null`) whenever the signed-in user changes.
 *
 * @example
 * ```ts
 * const render: UserChangeListener = (user) => console.log(user?.userId ?? 'anonymous');
 * Verigate.on('userChange', render);
 * ```
 */
export type UserChangeListener = (user: VerigateUser | null) => void;

/**
 * The browser SDK: the global `Verigate` of `/sdk/v1/verigate.js`.
 *
 * @example
 * ```ts
 * await Verigate.init({ publishableKey: 'vg_sandbox_pk_…' });
 * await Verigate.identify(identityTokenFromYourBackend);
 * const token = await Verigate.getUserVerificationToken();
 * await fetch('/api/reports', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
 * ```
 */
export interface Verigate {
  /**
   * Configures the SDK and restores a stored session (the returned promise
   * settles once that is done). Throws synchronously on a misconfiguration,
   * so it fails loudly during development: `invalid_publishable_key` (not a
   * publishable key; a secret key is refused outright) or
   * `publishable_key_wrong_environment` (a live key with `sandbox: true`, or
   * a base URL known to serve the other environment).
   */
  init(options: InitOptions): Promise<void>;
  /**
   * Signs the visitor in with an identity token your backend signed with the
   * site's identity secret, replacing any current session. Never throws for
   * a bad, expired or rejected token, nor when the gateway is unreachable:
   * the visitor is left anonymous, `null` is returned, and the error is in
   * {@link Verigate.lastError}. A token is presented to the gateway once
   * (SPEC §7): called again with the token that opened the stored session
   * (a reload rendering the same token), it keeps that session; with a token
   * presented before whose session has ended, it stays anonymous with
   * `lastError.reason === 'replayed'`, without asking the gateway.
   */
  identify(identityToken: string): Promise<VerigateUser | null>;
  /** `true` once a session is confirmed by the gateway. */
  readonly isAuthenticated: boolean;
  /** The signed-in visitor, or `null`. */
  readonly user: VerigateUser | null;
  /** The last thing that went wrong (sign-in refused, gateway unreachable), for debugging; `null` after a success. */
  readonly lastError: VerigateError | null;
  /** The environment of the publishable key, once initialised. */
  readonly environment: Environment | null;
  /** The gateway base URL in use, once initialised. */
  readonly baseUrl: string | null;
  /** Settles when every pending init, identify and resetUser is done. */
  readonly ready: Promise<void>;
  on(event: 'userChange', listener: UserChangeListener): void;
  off(event: 'userChange', listener: UserChangeListener): void;
  /** Signs out: forgets the session token here, then ends the session at the gateway. */
  resetUser(): Promise<void>;
  /**
   * A short-lived verification token for your backend (`Authorization:
   * Bearer …`), or `null` when nobody is signed in (or the session ended).
   * Reuses a token with more than 60 s left; concurrent calls share one
   * request. Rejects with a {@link VerigateError} when the gateway cannot
   * answer (`network_error`, `store_unavailable`, `origin_not_allowed`, …).
   */
  getUserVerificationToken(): Promise<string | null>;
}

interface Config {
  readonly publishableKey: string;
  readonly environment: Environment;
  readonly baseUrl: string;
  readonly storage: StorageLike;
  readonly storageKey: string;
  /** Where the fingerprint of the last identity token presented is kept, so it is never presented twice. */
  readonly presentedKey: string;
  readonly fetch: typeof fetch;
  readonly now: () => number;
}

/** The stored session: its token, when it ends, and the fingerprint of the identity token that opened it. */
interface StoredSession {
  readonly t: string;
  readonly e: number;
  readonly i?: string;
}

/** cyrb53: a 53-bit string hash; two seeds of it stand in for SHA-256 where Web Crypto is missing. */
function cyrb53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * What the stored session remembers of the identity token that opened it,
 * so a reload with the same token keeps that session instead of presenting
 * the token again (SPEC §7: a token signs in once). A digest, never the
 * token: SHA-256 where the page has Web Crypto (https and localhost), else
 * two seeded 53-bit hashes (plain-http pages).
 */
async function fingerprint(identityToken: string): Promise<string> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (subtle) {
    const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(identityToken)));
    return `sha256:${btoa(String.fromCharCode(...digest))}`;
  }
  return `cyrb53:${cyrb53(identityToken, 1).toString(36)}.${cyrb53(identityToken, 2).toString(36)}`;
}

interface Answer {
  readonly status: number;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** exp - iat of a JWT, in ms: the lifetime, free of any clock skew between page and gateway. */
function tokenLifetimeMs(jwt: string): number | undefined {
  try {
    const part = (jwt.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part)) as { exp?: unknown; iat?: unknown };
    if (typeof claims.exp === 'number' && typeof claims.iat === 'number') return (claims.exp - claims.iat) * 1000;
  } catch {
    // not a JWT we can read: fall back to expiresAt
  }
  return undefined;
}

/**
 * Creates an SDK instance. The script build makes one, the global `Verigate`;
 * create more only to test, or to talk to two sites from one page.
 *
 * @example
 * ```ts
 * const verigate = createVerigate();
 * await verigate.init({ publishableKey: 'vg_sandbox_pk_…', storage: 'memory' });
 * ```
 */
export function createVerigate(context: { scriptOrigin?: string } = {}): Verigate {
  let config: Config | null = null;
  let user: VerigateUser | null = null;
  let lastError: VerigateError | null = null;
  let cached: { session: string; token: string; expiresAt: number } | null = null;
  /** The stored session this page has confirmed with the gateway (restore or sign-in), if any. */
  let confirmed: string | null = null;
  let inflight: { session: string; promise: Promise<string | null> } | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const listeners = new Set<UserChangeListener>();

  const configured = (): Config => {
    if (!config) throw new TypeError('verigate: call Verigate.init({ publishableKey }) first');
    return config;
  };

  // init, identify, resetUser and restores run one after another, so a slow
  // restore can never overwrite the sign-in that followed it.
  const enqueue = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => undefined);
    return run;
  };

  const setUser = (next: VerigateUser | null): void => {
    if (JSON.stringify(next) === JSON.stringify(user)) return;
    user = next;
    for (const listener of [...listeners]) {
      try {
        listener(next);
      } catch (err) {
        // A listener's bug must not break sign-in; surface it like an uncaught error.
        setTimeout(() => {
          throw err;
        });
      }
    }
  };

  const readStored = (c: Config): StoredSession | null => {
    const raw = c.storage.getItem(c.storageKey);
    if (raw === null) return null;
    try {
      const stored = JSON.parse(raw) as StoredSession;
      if (typeof stored.t === 'string' && typeof stored.e === 'number' && stored.e > c.now()) return stored;
    } catch {
      // unreadable: forget it
    }
    c.storage.removeItem(c.storageKey);
    return null;
  };

  const readSession = (c: Config): string | null => readStored(c)?.t ?? null;

  /** Forgets the session here, unless another tab has replaced it meanwhile. */
  const forgetSession = (c: Config, session: string): void => {
    if (readSession(c) === session) c.storage.removeItem(c.storageKey);
    if (cached?.session === session) cached = null;
    if (confirmed === session) confirmed = null;
  };

  const call = async (c: Config, method: string, path: string, session?: string, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (session) headers.Authorization = `Bearer ${session}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await c.fetch(`${c.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined,
      });
    } catch (err) {
      throw new VerigateError(
        'network_error',
        `verigate: could not reach ${c.baseUrl} (network down, or this page's origin is not in the site's allowedOrigins): ${String(err)}`,
      );
    }
    let parsed: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      parsed = res.status === 204 ? null : await res.json();
    } catch {
      // handled below
    }
    if (res.ok && (res.status === 204 || (parsed !== null && typeof parsed === 'object'))) return { status: res.status, body: parsed };
    const problem = parsed !== null && typeof parsed === 'object' && typeof parsed.code === 'string' ? parsed : null;
    throw new VerigateError(
      problem ? problem.code : 'unexpected_response',
      `verigate: ${method} ${path} answered ${res.status}${problem ? ` ${problem.code}${problem.detail ? `: ${problem.detail}` : ''}` : ''}`,
      res.status,
      problem && typeof problem.reason === 'string' ? problem.reason : null,
      problem && typeof problem.requestId === 'string' ? problem.requestId : res.headers.get('x-request-id'),
    );
  };

  const asError = (err: unknown): VerigateError =>
    err instanceof VerigateError ? err : new VerigateError('unexpected_response', String(err));

  /** Ends a session at the gateway; best effort (it expires by itself anyway). */
  const endRemote = async (c: Config, session: string): Promise<void> => {
    try {
      await call(c, 'DELETE', '/live_api/v1/session', session);
    } catch {
      // already ended, or unreachable: the token is gone from this browser either way
    }
  };

  const restore = async (c: Config): Promise<void> => {
    const session = readSession(c);
    if (!session) return setUser(null);
    try {
      const { body } = await call(c, 'GET', '/live_api/v1/session', session);
      if (body.isAuthenticated && body.user) {
        confirmed = session;
        return setUser(body.user as VerigateUser);
      }
      forgetSession(c, session);
      setUser(null);
    } catch (err) {
      // Unreachable: keep the token (the session may well be fine) and try again on the next call.
      lastError = asError(err);
    }
  };

  /**
   * Signs in with an identity token, replacing any current session; or,
   * when the stored session was opened by this very token (a reload with
   * the same `data-verigate-identity`, a login link visited again in this
   * browser), keeps that session and never presents the token again.
   */
  const signInWith = async (c: Config, identityToken: string): Promise<VerigateUser | null> => {
    const previous = readStored(c);
    cached = null;
    try {
      if (typeof identityToken !== 'string' || identityToken === '') {
        throw new VerigateError('invalid_identity_token', 'verigate: identify() needs the identity token your backend signed', 0, 'malformed');
      }
      const opened = await fingerprint(identityToken);
      if (previous && previous.i === opened) {
        if (confirmed !== previous.t) await restore(c);
        if (readSession(c) === previous.t && confirmed === previous.t) {
          lastError = null;
          return user;
        }
        if (readSession(c) === previous.t) return user; // unreachable gateway: the session is kept, lastError says why
      }
      if (c.storage.getItem(c.presentedKey) === opened) {
        // Presented before, and the session it opened (if any) is gone: the token has had its one sign-in.
        throw new VerigateError(
          'invalid_identity_token',
          'verigate: this identity token has been presented already (and its session has ended); sign a new one',
          0,
          'replayed',
        );
      }
      // Noted before it leaves: a token that reached the gateway counts as presented, whatever the answer.
      c.storage.setItem(c.presentedKey, opened);
      const { body } = await call(c, 'POST', '/live_api/v1/sessions', undefined, {
        publishableKey: c.publishableKey,
        identityToken,
      });
      const stored: StoredSession = { t: body.sessionToken, e: Date.parse(body.expiresAt), i: opened };
      c.storage.setItem(c.storageKey, JSON.stringify(stored));
      confirmed = stored.t;
      lastError = null;
      setUser(body.user as VerigateUser);
      // One visitor, one session: the replaced one is ended, not left to idle out.
      if (previous && previous.t !== stored.t) await endRemote(c, previous.t);
      return user;
    } catch (err) {
      lastError = asError(err);
      // The page said who the visitor is and that could not be verified: fail closed, anonymous.
      if (previous) {
        forgetSession(c, previous.t);
        await endRemote(c, previous.t);
      }
      setUser(null);
      return null;
    }
  };

  const fetchVerificationToken = async (c: Config, session: string): Promise<string | null> => {
    const started = c.now();
    try {
      const { body } = await call(c, 'POST', '/live_api/v1/users/verification-token', session);
      const token = String(body.userVerificationToken);
      const lifetime = tokenLifetimeMs(token) ?? Date.parse(body.expiresAt) - Date.now();
      // Anchored on when we asked, not on the gateway's clock: a page whose clock is off still reuses correctly.
      cached = { session, token, expiresAt: started + lifetime };
      // The session is fine after all (a restore had failed on the network): learn who it is.
      if (!user) void enqueue(() => restore(c));
      return token;
    } catch (err) {
      lastError = asError(err);
      if (lastError.code !== 'no_session') throw lastError;
      // Signed out elsewhere, expired or revoked: the visitor is anonymous now.
      forgetSession(c, session);
      if (!readSession(c)) setUser(null);
      return null;
    }
  };

  if (typeof addEventListener === 'function' && typeof window !== 'undefined') {
    // Another tab signed in or out: follow it.
    addEventListener('storage', (event: StorageEvent) => {
      const c = config;
      if (!c || event.key !== c.storageKey) return;
      cached = null;
      confirmed = null;
      void enqueue(() => restore(c));
    });
  }

  return {
    init(options: InitOptions): Promise<void> {
      if (!options || typeof options !== 'object') throw new TypeError('verigate: init needs { publishableKey }');
      const { environment, baseUrl } = resolveEnvironment(
        options.publishableKey,
        options.sandbox,
        options.baseUrl,
        context.scriptOrigin,
      );
      const choice = options.storage ?? 'local';
      const c: Config = {
        publishableKey: options.publishableKey,
        environment,
        baseUrl,
        storage: safe(choice === 'local' ? defaultStorage() : choice === 'memory' ? memoryStorage() : choice),
        storageKey: `verigate.session.${options.publishableKey}`,
        presentedKey: `verigate.presented.${options.publishableKey}`,
        fetch: options.fetch ?? ((input, init) => fetch(input, init)),
        now: options.now ?? Date.now,
      };
      // Before anything else runs: out of the address bar and the history entry at once.
      const loginLink = options.loginLink === false ? null : takeLoginLinkToken();
      config = c;
      cached = null;
      inflight = null;
      confirmed = null;
      lastError = null;
      return enqueue(async () => {
        if (loginLink) await signInWith(c, loginLink);
        else await restore(c);
      });
    },

    async identify(identityToken: string): Promise<VerigateUser | null> {
      const c = configured();
      return enqueue(() => signInWith(c, identityToken));
    },

    get isAuthenticated() {
      return user !== null;
    },
    get user() {
      return user;
    },
    get lastError() {
      return lastError;
    },
    get environment() {
      return config?.environment ?? null;
    },
    get baseUrl() {
      return config?.baseUrl ?? null;
    },
    get ready() {
      return queue.then(() => undefined);
    },

    on(event: 'userChange', listener: UserChangeListener): void {
      if (event !== 'userChange' || typeof listener !== 'function') throw new TypeError('verigate: on("userChange", fn)');
      listeners.add(listener);
    },
    off(event: 'userChange', listener: UserChangeListener): void {
      if (event === 'userChange') listeners.delete(listener);
    },

    async resetUser(): Promise<void> {
      const c = configured();
      return enqueue(async () => {
        const previous = readSession(c);
        c.storage.removeItem(c.storageKey);
        cached = null;
        inflight = null;
        confirmed = null;
        setUser(null);
        if (previous) await endRemote(c, previous);
      });
    },

    async getUserVerificationToken(): Promise<string | null> {
      const c = configured();
      await queue;
      const session = readSession(c);
      if (!session) return null;
      if (cached?.session === session && cached.expiresAt - c.now() > TOKEN_REUSE_MARGIN_MS) return cached.token;
      if (inflight?.session === session) return inflight.promise;
      const promise = fetchVerificationToken(c, session).finally(() => {
        if (inflight?.promise === promise) inflight = null;
      });
      inflight = { session, promise };
      return promise;
    },
  };
}
