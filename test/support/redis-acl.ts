import { randomBytes } from 'node:crypto';
import Redis, { ReplyError } from 'ioredis';
import type { Environment } from '../../src/domain/environments';
import { ENVIRONMENTS } from '../../src/domain/environments';
import { REDIS_CLUSTER_EXTRA_COMMANDS, REDIS_COMMANDS_USED } from '../../src/store/redis-commands';
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

/**
 * Every entry of a node's ACL LOG: `ACL LOG` alone shows only the last 10, so
 * ask for as many as the server keeps (`acllog-max-len`).
 */
export async function aclLogOf(admin: Redis): Promise<AclLogEntry[]> {
  const [, maxLen] = (await admin.call('CONFIG', 'GET', 'acllog-max-len')) as [string, string];
  return parseAclLog(await admin.call('ACL', 'LOG', maxLen));
}

/** `addr=` of a CLIENT LIST / ACL LOG client-info line. */
export function clientAddr(clientInfo: string): string | undefined {
  return /(?:^| )addr=(\S+)/.exec(clientInfo)?.[1];
}

/** Where a gateway's stores live: one Redis by URL, or a Redis Cluster by its nodes. */
export type AclTarget = string | { readonly clusterNodes: readonly { readonly host: string; readonly port: number }[] };

const describeTarget = (target: AclTarget): string =>
  typeof target === 'string'
    ? target.replace(/\/\/[^@/]*@/, '//')
    : `the cluster ${target.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;

/** One admin connection per Redis of `target` (each cluster node: ACL users are per node). */
function adminConnections(target: AclTarget): Redis[] {
  return typeof target === 'string' ? [createRedisClient(target)] : target.clusterNodes.map((node) => createRedisClient(node));
}

/** Resolves true once `client` is ready, false once it closed first. */
function whenReachable(client: Redis): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (client.status === 'ready') return resolve(true);
    const done = (ok: boolean): void => {
      client.off('ready', onReady);
      client.off('close', onClose);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const onClose = (): void => done(false);
    client.on('ready', onReady);
    client.on('close', onClose);
  });
}

/**
 * Whether every Redis of `target` lets its (URL's, or the nodes' default)
 * user create ACL users: tries with a throwaway disabled user. Resolves true
 * when a Redis cannot be reached (the tests will say so themselves).
 */
export async function aclAllowed(target: AclTarget): Promise<boolean> {
  const urls = typeof target === 'string' ? [target] : target.clusterNodes.map((n) => `redis://${n.host}:${n.port}`);
  const results = await Promise.all(
    urls.map(async (url) => {
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
    }),
  );
  return results.every(Boolean);
}

/**
 * Whether `target` is a Redis the user handed to this run (REDIS_URL, or
 * TEST_REDIS_CLUSTER_NODES), which may be a managed server that refuses ACL
 * users. Every other Redis (the one global-setup started, the cluster it
 * started, each redis-server a test starts) is ours: Redis 7 we control.
 */
function userGiven(target: AclTarget): boolean {
  if (typeof target === 'string') return target === process.env.TEST_REDIS_URL && process.env.TEST_REDIS_OWNED !== '1';
  const given = process.env.TEST_REDIS_CLUSTER_GIVEN === '1' ? (process.env.TEST_REDIS_CLUSTER_NODES ?? '') : '';
  return target.clusterNodes.some(({ host, port }) => given.split(',').includes(`${host}:${port}`));
}

/**
 * Set when the ACL isolation proof must run on `target`: on a Redis that is
 * ours a refusal is a bug, and under `CI=true` the proof must run whatever
 * the Redis, so a refusal fails the run, naming why.
 */
const mustUseAcl = (target: AclTarget): boolean => process.env.CI === 'true' || !userGiven(target);

let warnedNoAcl = false;

/** Thrown by `GatewayAclUsers.provision` when the server refuses ACL SETUSER where the proof must run. */
export class AclRefusedError extends Error {}

/**
 * The gateways of this run have no ACL users here, and that is allowed: only
 * outside CI, on a REDIS_URL (or TEST_REDIS_CLUSTER_NODES) of the user's that
 * refuses ACL SETUSER, which global-setup found and warned about. Anything
 * else without users fails, with the reason.
 */
export function expectAclExcused(target: AclTarget): void {
  const flag = typeof target === 'string' ? process.env.TEST_REDIS_ACL : process.env.TEST_REDIS_CLUSTER_ACL;
  expect({ target: describeTarget(target), aclUsers: 'none', excused: flag === 'off' && process.env.CI !== 'true' }).toEqual({
    target: describeTarget(target),
    aclUsers: 'none',
    excused: true,
  });
}

/**
 * Restricted Redis users for one gateway, one per environment, created by
 * raw connections as the URL's own (admin) user — on a cluster, on every
 * node, with the cluster's extra commands (REDIS_CLUSTER_EXTRA_COMMANDS). The
 * users are created again each time a connection becomes ready — a restarted
 * redis-server has forgotten them — so a gateway heals after a restart as it
 * would in production with an ACL file.
 */
export class GatewayAclUsers {
  readonly users: Record<Environment, AclUser>;
  /** `addr`s of probe connections (`connectAs`): their refusals are expected. */
  private readonly probeAddrs = new Set<string>();
  private readonly probes: Redis[] = [];
  private closed = false;

  private constructor(
    private readonly admins: Redis[],
    private readonly target: AclTarget,
    private readonly prefix: string,
  ) {
    const tag = randomBytes(3).toString('hex');
    this.users = {
      live: { username: `${prefix}-live-${tag}`, password: randomBytes(24).toString('base64url') },
      sandbox: { username: `${prefix}-sandbox-${tag}`, password: randomBytes(24).toString('base64url') },
    };
  }

  /**
   * Creates the users on `target` (a URL, or every node of a cluster).
   * Resolves null (after one warning per process) when a server refuses ACL
   * SETUSER, unless this run must have users (its own Redis, or CI=true):
   * then that is an AclRefusedError naming the server and why. When nothing
   * answers yet (a test starting a gateway before its Redis), the users are
   * created once it does.
   */
  static async provision(target: AclTarget, prefix: string): Promise<GatewayAclUsers | null> {
    // global-setup found that REDIS_URL (TEST_REDIS_CLUSTER_NODES) refuses ACL SETUSER, and said so once.
    if (target === process.env.TEST_REDIS_URL && process.env.TEST_REDIS_ACL === 'off') return null;
    if (typeof target !== 'string' && process.env.TEST_REDIS_CLUSTER_ACL === 'off') return null;
    const admins = adminConnections(target);
    for (const admin of admins) admin.on('error', () => undefined);
    const acl = new GatewayAclUsers(admins, target, prefix);
    const reachable = await Promise.all(admins.map(whenReachable));
    try {
      await Promise.all(admins.filter((_, i) => reachable[i]).map((admin) => acl.apply(admin)));
    } catch (err) {
      if (!(err instanceof ReplyError) || /NOAUTH|LOADING/.test(String(err))) throw err;
      for (const admin of admins) admin.disconnect();
      const why = `${describeTarget(target)} refused ACL SETUSER (${String(err)})`;
      if (mustUseAcl(target)) {
        throw new AclRefusedError(
          `the ACL isolation proof cannot run: ${why}. ` +
            (process.env.CI === 'true'
              ? 'Under CI=true it must: unset REDIS_URL / TEST_REDIS_CLUSTER_NODES so the tests start their own Redis, or give them a user allowed ACL SETUSER.'
              : 'That Redis is one this run started itself, so this is a bug.'),
        );
      }
      if (!warnedNoAcl) {
        warnedNoAcl = true;
        process.emitWarning(`${why}; the gateways of these tests connect as its default user, without the ACL isolation proof`);
      }
      return null;
    }
    // From now on (and at once for a Redis that was not reachable), every (re)connection recreates the users.
    for (const admin of admins) {
      admin.on('ready', () => {
        acl.apply(admin).catch((err: unknown) => {
          // A connection error means Redis went away again: the next 'ready' retries.
          if (!acl.closed && err instanceof ReplyError) {
            process.emitWarning(`could not recreate the gateway's ACL users: ${String(err)}`);
          }
        });
      });
    }
    return acl;
  }

  private async apply(admin: Redis): Promise<void> {
    const extra = typeof this.target === 'string' ? [] : REDIS_CLUSTER_EXTRA_COMMANDS;
    for (const env of ENVIRONMENTS) {
      const { username, password } = this.users[env];
      await admin.call('ACL', 'SETUSER', username, 'reset', ...namespaceAclRules(`${this.prefix}:${env}:`, password, extra));
    }
  }

  private get url(): string {
    if (typeof this.target !== 'string') throw new TypeError('this gateway is on a cluster: use clusterTargetFor / clusterNodesFor');
    return this.target;
  }

  /** The test Redis URL as `env`'s user. */
  urlFor(env: Environment): string {
    return urlAs(this.url, this.users[env]);
  }

  /** The cluster's nodes with `env`'s user, as RedisStore / createRedisConnections take them. */
  clusterTargetFor(env: Environment): { clusterNodes: { host: string; port: number }[]; username: string; password: string } {
    if (typeof this.target === 'string') throw new TypeError('this gateway is on one Redis: use urlFor');
    const { username, password } = this.users[env];
    return { clusterNodes: this.target.clusterNodes.map(({ host, port }) => ({ host, port })), username, password };
  }

  /** `LIVE_REDIS_CLUSTER_NODES` / `SANDBOX_REDIS_CLUSTER_NODES` for `env`: every node as a `redis://user:password@` entry. */
  clusterNodesFor(env: Environment): string {
    const { clusterNodes } = this.clusterTargetFor(env);
    return clusterNodes.map(({ host, port }) => urlAs(`redis://${host}:${port}`, this.users[env])).join(',');
  }

  /**
   * A raw connection as `env`'s user (on a cluster: to its first node), for
   * probing what it may not do. Its refusals are left out of `denials()`.
   * Closed by `close()`.
   */
  async connectAs(env: Environment): Promise<Redis> {
    const url = typeof this.target === 'string' ? this.urlFor(env) : urlAs(`redis://${this.target.clusterNodes[0]!.host}:${this.target.clusterNodes[0]!.port}`, this.users[env]);
    const client = new Redis(url, {
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

  /** Every ACL LOG entry of this gateway's users, on every Redis of the target. */
  async log(): Promise<AclLogEntry[]> {
    const names = new Set(ENVIRONMENTS.map((env) => this.users[env].username));
    const logs = await Promise.all(this.admins.map((admin) => aclLogOf(admin)));
    return logs.flat().filter((e) => names.has(e.username));
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

  /** `user=` of every connection on every Redis of the target (CLIENT LIST). */
  async connectedUsers(): Promise<string[]> {
    const lists = await Promise.all(this.admins.map((admin) => admin.call('CLIENT', 'LIST') as Promise<string>));
    return lists.flatMap((list) => [...list.matchAll(/(?:^| )user=(\S+)/gm)].map((m) => m[1] as string));
  }

  /** Drops the users (which also drops their connections) and the admin connections. */
  async close(): Promise<void> {
    this.closed = true;
    for (const probe of this.probes) probe.disconnect();
    await Promise.all(
      this.admins.map(async (admin) => {
        if (admin.status === 'ready') {
          await admin.call('ACL', 'DELUSER', ...ENVIRONMENTS.map((env) => this.users[env].username)).catch(() => undefined);
        }
        admin.disconnect();
      }),
    );
  }
}
