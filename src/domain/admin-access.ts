import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock';
import { iso } from './clock';
import { generateAdminToken, isWellFormedAdminToken, last4, randomBase62 } from './credentials';
import { ENVIRONMENTS, isEnvironment, type Environment } from './environments';
import { VerigateError } from './errors';
import type { AdminTokenStore, ConsoleSessionStore } from './ports';
import type { AdminRole, AdminTokenRecord, ConsoleSessionRecord } from './records';
import { SecretBox } from './secrets';

export type { AdminRole, AdminTokenRecord } from './records';

/** The actor of the root token (`VERIGATE_ADMIN_TOKEN`) in audit lines and console sessions. */
export const ROOT_ACTOR = 'root';

/** Who is calling the admin API: the root token, or a scoped admin token. */
export interface AdminPrincipal {
  /** `root`, or the scoped token's tokenId. */
  readonly actor: string;
  readonly name: string;
  readonly role: AdminRole;
  readonly environments: readonly Environment[];
  /** null: every site of its environments. */
  readonly siteIds: readonly string[] | null;
}

/** What one admin call touches, for {@link authorize}. */
export interface AdminScope {
  /** The environment named in the path, if any. */
  readonly environment?: Environment;
  /** The site named in the path, if any. */
  readonly siteId?: string;
  /** It changes something (role `write` needed). */
  readonly write: boolean;
  /** It acts on the whole environment (creating a site, rotating signing keys, its exchange chart): no site-limited token. */
  readonly wholeEnvironment?: boolean;
  /** Only the root token (admin tokens themselves). */
  readonly rootOnly?: boolean;
}

const forbidden = (detail: string): VerigateError => new VerigateError('forbidden', detail);

/**
 * Refuses, with 403 `forbidden`, a call outside the principal's scope: an
 * environment it does not cover, a site not among its sites, a change
 * with role `read`, a whole-environment action with a site-limited token,
 * or anything root-only. The root token may do everything.
 */
export function authorize(principal: AdminPrincipal, scope: AdminScope): void {
  if (principal.actor === ROOT_ACTOR) return;
  if (scope.rootOnly) throw forbidden('Only the root admin token (VERIGATE_ADMIN_TOKEN) may do this');
  if (scope.environment !== undefined && !principal.environments.includes(scope.environment)) {
    throw forbidden(`This admin token does not cover the ${scope.environment} environment`);
  }
  if (scope.siteId !== undefined && principal.siteIds !== null && !principal.siteIds.includes(scope.siteId)) {
    // The same answer whether or not the site exists: a scoped token learns nothing by guessing ids.
    throw forbidden('This admin token does not cover that site');
  }
  if (scope.wholeEnvironment && principal.siteIds !== null) {
    throw forbidden('This admin token covers some sites only; this acts on the whole environment');
  }
  if (scope.write && principal.role !== 'write') throw forbidden('This admin token may read only (role read)');
}

/** Whether the principal may see `siteId` (for filtering lists). */
export function coversSite(principal: AdminPrincipal, siteId: string): boolean {
  return principal.siteIds === null || principal.siteIds.includes(siteId);
}

/** Console sessions: idle 1 h, at most 12 h (SPEC §10); the idle timeout slides at most once a minute. */
export const CONSOLE_IDLE_MS = 60 * 60_000;
export const CONSOLE_MAX_MS = 12 * 60 * 60_000;
const CONSOLE_TOUCH_RESOLUTION_MS = 60_000;

export interface AdminTokenInput {
  readonly name: string;
  readonly environments: readonly Environment[];
  readonly siteIds?: readonly string[] | undefined;
  readonly role: AdminRole;
}

export interface AdminTokenView {
  tokenId: string;
  name: string;
  role: AdminRole;
  environments: Environment[];
  siteIds: string[] | null;
  last4: string;
  createdAt: string;
}

/** A console session as the page learns it (never the cookie's secret). */
export interface ConsoleSessionView {
  principal: AdminPrincipal;
  /** The synchronizer token every mutation must send in `X-CSRF-Token`. */
  csrfToken: string;
  expiresAt: string;
  idleExpiresAt: string;
}

export interface AdminAccessOptions {
  readonly rootToken: string;
  readonly masterKey: Buffer;
  readonly clock: Clock;
  /** The stores of each environment this process serves. */
  readonly stores: Readonly<Partial<Record<Environment, { readonly adminTokens: AdminTokenStore; readonly consoleSessions: ConsoleSessionStore }>>>;
  /** Whether a site exists in an environment (to refuse a token for sites that do not). */
  readonly siteExists: (environment: Environment, siteId: string) => Promise<boolean>;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const newTokenId = (): string => `admtok_${randomBase62(20)}`;

/**
 * Who may use the admin API: the root token, scoped admin tokens (stored as
 * keyed hashes in the namespace of every environment they cover, never
 * cached, so a deleted one is refused by the next request everywhere), and
 * the console's cookie sessions (stored as keyed hashes too).
 */
export class AdminAccess {
  private readonly root: Buffer;
  private readonly secrets: Partial<Record<Environment, SecretBox>> = {};
  /** The environments this process serves, in a fixed order. */
  readonly environments: readonly Environment[];

  constructor(private readonly options: AdminAccessOptions) {
    this.root = digest(options.rootToken);
    this.environments = ENVIRONMENTS.filter((env) => options.stores[env] !== undefined);
    for (const env of this.environments) this.secrets[env] = new SecretBox(options.masterKey, env);
  }

  private store(env: Environment) {
    const store = this.options.stores[env];
    if (!store) throw new VerigateError('not_found', `This process does not serve the ${env} environment`);
    return store;
  }

  private box(env: Environment): SecretBox {
    return this.secrets[env] as SecretBox;
  }

  rootPrincipal(): AdminPrincipal {
    return { actor: ROOT_ACTOR, name: ROOT_ACTOR, role: 'write', environments: this.environments, siteIds: null };
  }

  private principalOf(record: AdminTokenRecord): AdminPrincipal {
    return { actor: record.tokenId, name: record.name, role: record.role, environments: record.environments, siteIds: record.siteIds };
  }

  /**
   * The principal a bearer token names: the root token (constant-time
   * compare, over digests so lengths leak nothing) or a scoped token found
   * by its keyed hash in any environment it covers. Anything else is 401
   * `unauthorized`, malformed tokens without a store lookup.
   */
  async authenticate(presented: string | undefined): Promise<AdminPrincipal> {
    if (presented !== undefined) {
      if (timingSafeEqual(digest(presented), this.root)) return this.rootPrincipal();
      if (isWellFormedAdminToken(presented)) {
        for (const env of this.environments) {
          const record = await this.store(env).adminTokens.findByHash(this.box(env).hash('admin-token', presented));
          if (record) return this.principalOf(record);
        }
      }
    }
    throw new VerigateError('unauthorized', 'Send Authorization: Bearer <admin token>', undefined, {
      'WWW-Authenticate': 'Bearer realm="verigate-admin"',
    });
  }

  view(record: AdminTokenRecord): AdminTokenView {
    return {
      tokenId: record.tokenId,
      name: record.name,
      role: record.role,
      environments: [...record.environments],
      siteIds: record.siteIds === null ? null : [...record.siteIds],
      last4: record.last4,
      createdAt: iso(record.createdAt),
    };
  }

  /** A new scoped token, stored in each environment it covers; the token is returned once. */
  async createToken(input: AdminTokenInput): Promise<{ record: AdminTokenRecord; token: string }> {
    const environments = ENVIRONMENTS.filter((env) => input.environments.includes(env));
    for (const env of environments) {
      if (!this.environments.includes(env)) {
        throw new VerigateError('invalid_request', `This process does not serve ${env}; a token for it cannot be stored here`, {
          errors: [{ path: 'environments', message: `${env} is not served by this gateway` }],
        });
      }
    }
    const siteIds = input.siteIds === undefined ? null : [...new Set(input.siteIds)];
    if (siteIds) {
      for (const [i, siteId] of siteIds.entries()) {
        const found = await Promise.all(environments.map((env) => this.options.siteExists(env, siteId)));
        if (!found.some(Boolean)) {
          throw new VerigateError('invalid_request', `No site ${siteId} in ${environments.join(' or ')}`, {
            errors: [{ path: `siteIds/${i}`, message: 'no such site in the token’s environments' }],
          });
        }
      }
    }
    const token = generateAdminToken();
    const record: AdminTokenRecord = {
      tokenId: newTokenId(),
      name: input.name,
      role: input.role,
      environments,
      siteIds,
      last4: last4(token),
      createdAt: this.options.clock.now(),
    };
    for (const env of environments) await this.store(env).adminTokens.create(this.box(env).hash('admin-token', token), record);
    return { record, token };
  }

  /** Every scoped token, oldest first (a token covering both environments once). */
  async listTokens(): Promise<AdminTokenRecord[]> {
    const byId = new Map<string, AdminTokenRecord>();
    for (const env of this.environments) for (const r of await this.store(env).adminTokens.list()) byId.set(r.tokenId, r);
    return [...byId.values()].sort((a, b) => a.createdAt - b.createdAt || a.tokenId.localeCompare(b.tokenId));
  }

  /** Deletes the token from every environment: the next request with it, or a console session opened with it, is refused. */
  async revokeToken(tokenId: string): Promise<void> {
    let found = false;
    for (const env of this.environments) found = (await this.store(env).adminTokens.delete(tokenId)) || found;
    if (!found) throw new VerigateError('not_found', `No admin token ${tokenId}`);
  }

  /**
   * A console session for `principal`. The cookie's value is
   * `<environment>.<secret>`: the environment whose store keeps it (the
   * first this process serves that the principal covers); only the keyed
   * hash of the secret is stored. The CSRF token is derived from the secret,
   * so nothing more is stored and only the holder of the cookie can have it.
   */
  async openConsoleSession(principal: AdminPrincipal): Promise<{ cookie: string; view: ConsoleSessionView }> {
    const home = this.environments.find((env) => principal.environments.includes(env));
    if (!home) throw new VerigateError('forbidden', 'This admin token covers no environment this gateway serves');
    const secret = randomBytes(32).toString('base64url');
    const now = this.options.clock.now();
    const record: ConsoleSessionRecord = { actor: principal.actor, createdAt: now, expiresAt: now + CONSOLE_MAX_MS, lastSeenAt: now };
    await this.store(home).consoleSessions.save(this.box(home).hash('console-session', secret), record, this.ttlOf(record, now));
    return { cookie: `${home}.${secret}`, view: this.sessionView(home, secret, principal, record) };
  }

  /**
   * The live console session a cookie names, with its principal, or null:
   * unknown, idle for an hour, past 12 h, or opened with a token that has
   * been revoked since. The idle timeout slides (written at most once a minute).
   */
  async resumeConsoleSession(cookie: string | undefined): Promise<ConsoleSessionView | null> {
    const parsed = this.parseCookie(cookie);
    if (!parsed) return null;
    const { env, secret } = parsed;
    const hash = this.box(env).hash('console-session', secret);
    const store = this.store(env);
    const record = await store.consoleSessions.find(hash);
    if (!record) return null;
    const now = this.options.clock.now();
    if (now >= record.expiresAt || now >= record.lastSeenAt + CONSOLE_IDLE_MS) {
      await store.consoleSessions.delete(hash);
      return null;
    }
    let principal: AdminPrincipal;
    if (record.actor === ROOT_ACTOR) principal = this.rootPrincipal();
    else {
      const token = await store.adminTokens.findById(record.actor);
      if (!token) {
        await store.consoleSessions.delete(hash);
        return null;
      }
      principal = this.principalOf(token);
    }
    let current = record;
    if (now - record.lastSeenAt >= CONSOLE_TOUCH_RESOLUTION_MS) {
      current = { ...record, lastSeenAt: now };
      await store.consoleSessions.save(hash, current, this.ttlOf(current, now));
    }
    return this.sessionView(env, secret, principal, current);
  }

  /** Signs the console session out (nothing when there is none). */
  async endConsoleSession(cookie: string | undefined): Promise<void> {
    const parsed = this.parseCookie(cookie);
    if (!parsed) return;
    await this.store(parsed.env).consoleSessions.delete(this.box(parsed.env).hash('console-session', parsed.secret));
  }

  private parseCookie(cookie: string | undefined): { env: Environment; secret: string } | null {
    if (!cookie) return null;
    const dot = cookie.indexOf('.');
    const env = cookie.slice(0, dot);
    const secret = cookie.slice(dot + 1);
    if (dot < 0 || !isEnvironment(env) || !this.environments.includes(env) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
    return { env, secret };
  }

  private ttlOf(record: ConsoleSessionRecord, now: number): number {
    return Math.max(1, Math.min(record.expiresAt, record.lastSeenAt + CONSOLE_IDLE_MS) - now);
  }

  private sessionView(env: Environment, secret: string, principal: AdminPrincipal, record: ConsoleSessionRecord): ConsoleSessionView {
    return {
      principal,
      csrfToken: this.box(env).hash('console-session', `csrf:${secret}`),
      expiresAt: iso(record.expiresAt),
      idleExpiresAt: iso(Math.min(record.expiresAt, record.lastSeenAt + CONSOLE_IDLE_MS)),
    };
  }
}
