import { randomBytes } from 'node:crypto';
import Redis, { ReplyError } from 'ioredis';
import type { Environment } from '../../src/domain/environments';
import { ENVIRONMENTS } from '../../src/domain/environments';
import { REDIS_COMMANDS_USED } from '../../src/store/redis-commands';
import { createRedisClient } from '../../src/store/redis-connections';

/**
 * The rules of an environment's restricted Redis user, exactly as README
 * documents them (`README.md`, between the `<!-- ACL -->` markers; the unit
 * test test/unit/readme-acl.test.ts keeps the two in step):
 * its own keys and channels, and only the commands in REDIS_COMMANDS_USED.
 */
export function aclRules(prefix: string, environment: Environment, password: string): string[] {
  return namespaceAclRules(`${prefix}:${environment}:`, password);
}

/**
 * The same rules for any store namespace (`x:live:`), optionally with extra
 * commands (e.g. REDIS_CLUSTER_EXTRA_COMMANDS on a cluster).
 */
export function namespaceAclRules(namespace: string, password: string, extraCommands: readonly string[] = []): string[] {
  return [
    'on',
    `>${password}`,
    'resetkeys',
    `~${namespace}*`,
    'resetchannels',
    `&${namespace}*`,
    '-@all',
    ...[...REDIS_COMMANDS_USED, ...extraCommands].map((command) => `+${command.toLowerCase()}`),
  ];
}

/** The README line for an environment: `ACL SETUSER <user> on ><password> resetkeys ~… -@all +get …`. */
export function aclSetUserLine(user: string, prefix: string, environment: Environment, password: string): string {
  return ['ACL', 'SETUSER', user, ...aclRules(prefix, environment, password)].join(' ');
}

export interface AclUser {
  readonly username: string;
  readonly password: string;
}

/** One `ACL LOG` entry: something Redis refused a user (or a failed AUTH). */
export interface AclLogEntry {
  readonly reason: string;
  readonly context: string;
  readonly object: string;
  readonly username: string;
  readonly clientInfo: string;
  readonly count: number;
}

/** `url` with the user's credentials in place of any it had. */
export function urlAs(url: string, user: AclUser): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user.username);
  u.password = encodeURIComponent(user.password);
  return u.toString();
}

function parseAclLog(reply: unknown): AclLogEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((flat: unknown[]) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
    return {
      reason: String(fields.get('reason') ?? ''),
      context: String(fields.get('context') ?? ''),
      object: String(fields.get('object') ?? ''),
      username: String(fields.get('username') ?? ''),
      clientInfo: String(fields.get('client-info') ?? ''),
      count: Number(fields.get('count') ?? 1),
    };
  });
}

/** `addr=` of a CLIENT LIST / ACL LOG client-info line. */
export function clientAddr(clientInfo: string): string | undefined {
  return /(?:^| )addr=(\S+)/.exec(clientInfo)?.[1];
}

/**
 * Whether the Redis at `url` lets its (URL's) user create ACL users: tries
 * with a throwaway disabled user. Resolves true when Redis cannot be reached
 * (the tests will say so themselves).
 */
export async function aclAllowed(url: string): Promise<boolean> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    const probe = `verigate-acl-probe-${randomBytes(4).toString('hex')}`;
    await admin.call('ACL', 'SETUSER', probe, 'off', 'resetkeys', '-@all');
    await admin.call('ACL', 'DELUSER', probe);
    return true;
  } catch (err) {
    return !(err instanceof ReplyError);
  } finally {
    admin.disconnect();
  }
}

/**
 * Set when this process must never run without ACL users: the test Redis
 * is the one global-setup started (a Redis 7 we control), so a refusal
 * there is a bug, not a managed server's policy.
 */
const mustUseAcl = (): boolean => process.env.TEST_REDIS_OWNED === '1';

let warnedNoAcl = false;

/** Thrown by `provisionAclUsers` when the server refuses ACL SETUSER (a managed Redis, say). */
export class AclRefusedError extends Error {}

/**
 * Restricted Redis users for one gateway, one per environment, created by a
 * raw connection as the URL's own (admin) user. The users are created again
 * each time that connection becomes ready — a restarted redis-server has
 * forgotten them — so a gateway heals after a restart as it would in
 * production with an ACL file.
 */
export class GatewayAclUsers {
  readonly users: Record<Environment, AclUser>;
  /** `addr`s of probe connections (`connectAs`): their refusals are expected. */
  private readonly probeAddrs = new Set<string>();
  private readonly probes: Redis[] = [];
  private closed = false;

  private constructor(
    private readonly admin: Redis,
    private readonly url: string,
    private readonly prefix: string,
  ) {
    const tag = randomBytes(3).toString('hex');
    this.users = {
      live: { username: `${prefix}-live-${tag}`, password: randomBytes(24).toString('base64url') },
      sandbox: { username: `${prefix}-sandbox-${tag}`, password: randomBytes(24).toString('base64url') },
    };
  }

  /**
   * Creates the users on `url`. Resolves null (after one warning per
   * process) when the server refuses ACL SETUSER, unless this run owns its
   * Redis: then that is an error. When nothing answers yet (a test starting
   * a gateway before its Redis), the users are created once it does.
   */
  static async provision(url: string, prefix: string): Promise<GatewayAclUsers | null> {
    // global-setup found that REDIS_URL refuses ACL SETUSER, and said so once.
    if (url === process.env.TEST_REDIS_URL && process.env.TEST_REDIS_ACL === 'off') return null;
    const admin = createRedisClient(url);
    admin.on('error', () => undefined);
    const acl = new GatewayAclUsers(admin, url, prefix);
    const reachable = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        admin.off('ready', onReady);
        admin.off('close', onClose);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const onClose = (): void => done(false);
      admin.on('ready', onReady);
      admin.on('close', onClose);
    });
    if (reachable) {
      try {
        await acl.apply();
      } catch (err) {
        if (!(err instanceof ReplyError) || /NOAUTH|LOADING/.test(String(err))) throw err;
        admin.disconnect();
        if (mustUseAcl()) throw new AclRefusedError(`the test Redis refused ACL SETUSER: ${String(err)}`);
        if (!warnedNoAcl) {
          warnedNoAcl = true;
          process.emitWarning(
            `${url.replace(/\/\/[^@/]*@/, '//')} refused ACL SETUSER (${String(err)}); ` +
              'the gateways of these tests connect as its default user, without the ACL isolation proof',
          );
        }
        return null;
      }
    }
    // From now on (and at once if it was not reachable), every (re)connection recreates the users.
    admin.on('ready', () => {
      acl.apply().catch((err: unknown) => {
        // A connection error means Redis went away again: the next 'ready' retries.
        if (!acl.closed && err instanceof ReplyError) {
          process.emitWarning(`could not recreate the gateway's ACL users: ${String(err)}`);
        }
      });
    });
    return acl;
  }

  private async apply(): Promise<void> {
    for (const env of ENVIRONMENTS) {
      const { username, password } = this.users[env];
      await this.admin.call('ACL', 'SETUSER', username, ...aclRules(this.prefix, env, password));
    }
  }

  /** The test Redis URL as `env`'s user. */
  urlFor(env: Environment): string {
    return urlAs(this.url, this.users[env]);
  }

  /**
   * A raw connection as `env`'s user, for probing what it may not do. Its
   * refusals are left out of `denials()`. Closed by `close()`.
   */
  async connectAs(env: Environment): Promise<Redis> {
    const client = new Redis(this.urlFor(env), {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      disableClientInfo: true,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    this.probes.push(client);
    await client.connect();
    // Proves the connection is authenticated as the user (the ACL lets it PING).
    await client.ping();
    const { localAddress, localPort } = client.stream;
    this.probeAddrs.add(`${localAddress ?? '127.0.0.1'}:${localPort ?? 0}`);
    return client;
  }

  /** Every ACL LOG entry of this gateway's users. */
  async log(): Promise<AclLogEntry[]> {
    const names = new Set(ENVIRONMENTS.map((env) => this.users[env].username));
    const entries = parseAclLog(await this.admin.call('ACL', 'LOG', '128'));
    return entries.filter((e) => names.has(e.username));
  }

  /**
   * Commands, keys and channels Redis refused this gateway's users, outside
   * probe connections: each one is a gap in REDIS_COMMANDS_USED or a key
   * outside the namespace. (Failed AUTH — a restarted Redis before the users
   * are back — is not a refusal of what the gateway does.)
   */
  async denials(): Promise<AclLogEntry[]> {
    return (await this.log()).filter(
      (e) => e.reason !== 'auth' && !this.probeAddrs.has(clientAddr(e.clientInfo) ?? ''),
    );
  }

  /** Drops the users (which also drops their connections) and the admin connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const probe of this.probes) probe.disconnect();
    if (this.admin.status === 'ready') {
      await this.admin
        .call('ACL', 'DELUSER', ...ENVIRONMENTS.map((env) => this.users[env].username))
        .catch(() => undefined);
    }
    this.admin.disconnect();
  }
}
