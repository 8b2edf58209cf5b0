import { randomInt } from 'node:crypto';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../domain/errors';

/*
 * Connections to Redis and their health: every connection verigate opens is
 * made here, fail-fast (bounded command and connect timeouts, no offline
 * queue, no resend after a drop), and readiness is awaited here.
 * (shared/STYLE.md sketches a `redis-health.ts`; health is a property of the
 * connections, so both live in this one file, named for what it makes.)
 */

/** A single Redis or a Redis Cluster client. */
export type RedisClient = Redis | Cluster;

/** One Redis server (a Redis Cluster seed node). */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * How to authenticate to every node of a Redis Cluster: an ACL user (or only
 * a password, for `default`) and TLS. A URL target carries these in the URL.
 */
export interface RedisClusterCredentials {
  readonly username?: string;
  readonly password?: string;
  /** Connect to every node with TLS (`rediss://`). */
  readonly tls?: boolean;
}

/**
 * A Redis behind Sentinel: the sentinels, the master group, and the
 * sentinels' own credentials; `username`/`password`/`tls` are the data
 * nodes' (`tls` also to the sentinels).
 */
export interface RedisSentinelTarget extends RedisClusterCredentials {
  readonly sentinels: readonly RedisNodeAddress[];
  readonly name: string;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
}

/** Where a store keeps its data: one Redis (by URL), one Redis Cluster (by seed nodes), or one Redis behind Sentinel. */
export type RedisTarget =
  | { readonly url: string }
  | ({ readonly clusterNodes: readonly RedisNodeAddress[] } & RedisClusterCredentials)
  | RedisSentinelTarget;

/** The ioredis options of `credentials`, only those that are set. */
function credentialOptions(credentials: RedisClusterCredentials): RedisOptions {
  return {
    ...(credentials.username !== undefined && { username: credentials.username }),
    ...(credentials.password !== undefined && { password: credentials.password }),
    ...(credentials.tls === true && { tls: {} }),
  };
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

export interface RedisClientOptions {
  /** Bound on every command's reply; default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /** Bound on establishing the TCP connection; default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Extra ioredis options, applied last. On a cluster they apply to every
   * node connection (e.g. an ACL `username` and `password`).
   */
  readonly overrides?: RedisOptions;
  /** Extra ioredis Cluster options, applied last (cluster only). */
  readonly clusterOverrides?: ClusterOptions;
}

/**
 * An ioredis client tuned to fail fast and heal by itself: every command has
 * a timeout, nothing is queued while disconnected (a dead or frozen Redis is
 * a prompt error, never a pile of waiting requests), and reconnection is
 * retried forever with a small capped backoff.
 *
 * Auto-pipelining stays off: ioredis runs one auto-pipeline at a time per
 * connection and only starts a command's timeout when the command is sent,
 * so behind a stuck pipeline the wait would no longer be bounded by
 * `commandTimeoutMs`.
 */
export function createRedisClient(target: string | RedisNodeAddress, opts: RedisClientOptions = {}): Redis {
  const options = nodeOptions(opts);
  return typeof target === 'string'
    ? new Redis(target, options)
    : new Redis({ ...options, host: target.host, port: target.port });
}

/** The fail-fast options of one connection (see {@link createRedisClient}). */
function nodeOptions(opts: RedisClientOptions): RedisOptions {
  return {
    commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    // A command in flight when the connection drops is rejected at once and
    // never resent after a reconnect: its caller has already been told it
    // failed, so a late replay could only clobber newer data.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
    lazyConnect: false,
    // The ready check sends INFO and client info sends CLIENT SETINFO; a
    // restricted ACL user has neither.
    enableReadyCheck: false,
    disableClientInfo: true,
    enableAutoPipelining: false,
    // disconnect() (used only to abandon a connection) otherwise keeps a 2 s
    // timer alive when the socket is already dead, delaying process exit.
    disconnectTimeout: 500,
    ...opts.overrides,
  };
}

/**
 * An ioredis Cluster client with the same fail-fast behaviour as
 * {@link createRedisClient}: per-node command and connect timeouts, no
 * queue while the cluster is not ready, no resend after a drop, and reconnection to the
 * seed nodes forever with a small capped backoff. Node connections are made
 * by ioredis from `redisOptions` (the same options as a single connection).
 *
 * Redirections (MOVED/ASK during resharding, TRYAGAIN, CLUSTERDOWN during a
 * failover) are followed a few times, 100 ms apart, so a failover costs a
 * few hundred milliseconds of retries, then the caller gets an error (503).
 */
export function createRedisClusterClient(nodes: readonly RedisNodeAddress[], opts: RedisClientOptions = {}): Cluster {
  if (nodes.length === 0) throw new TypeError('a Redis Cluster needs at least one seed node');
  // Node connections never reconnect by themselves (ioredis refreshes the
  // slots instead) and queue until their lazy connect is done.
  const { retryStrategy: _retry, enableOfflineQueue: _queue, lazyConnect: _lazy, ...redisOptions } = nodeOptions(opts);
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    {
      redisOptions,
      enableOfflineQueue: false,
      // The ready check sends CLUSTER INFO; knowing the slots is enough.
      enableReadyCheck: false,
      enableAutoPipelining: false,
      clusterRetryStrategy: (times: number) => Math.min(50 * times, 1000),
      slotsRefreshTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      maxRedirections: 5,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      ...opts.clusterOverrides,
    },
  );
}

/**
 * An ioredis client of the master of a Sentinel group, with the fail-fast
 * options of {@link createRedisClient}. ioredis asks the sentinels for the
 * master on every (re)connect, so a promotion is followed without a
 * restart; on top of that:
 * - `failoverDetector`: ioredis subscribes to `+switch-master` on the
 *   sentinels and drops the connection the moment a failover is announced,
 *   instead of writing to a demoted master until it notices;
 * - the ready check (INFO) is on, so a node that a sentinel still names
 *   but that is no longer a master (a stale answer during a failover) is
 *   refused before any command reaches it: nothing is read from a replica;
 * - a `READONLY` reply (a master demoted under an open connection) drops
 *   the connection and asks the sentinels again; the command itself fails
 *   (503), it is never resent.
 */
export function createRedisSentinelClient(target: RedisSentinelTarget, opts: RedisClientOptions = {}): Redis {
  const commandTimeout = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Redis({
    ...nodeOptions({ ...opts, overrides: {} }),
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.name,
    role: 'master',
    ...(target.sentinelUsername !== undefined && { sentinelUsername: target.sentinelUsername }),
    ...(target.sentinelPassword !== undefined && { sentinelPassword: target.sentinelPassword }),
    ...credentialOptions(target),
    ...(target.tls === true && { enableTLSForSentinelMode: true, sentinelTLS: {} }),
    sentinelCommandTimeout: commandTimeout,
    // All sentinels unreachable: keep asking, with the same capped backoff as the data connection.
    sentinelRetryStrategy: (times: number) => Math.min(50 * times, 1000),
    failoverDetector: true,
    enableReadyCheck: true,
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    ...opts.overrides,
  });
}

/** How many times a cluster subscriber retries its node before moving to another. */
const CLUSTER_SUBSCRIBER_RETRIES = 3;

/**
 * Commands connection and subscriber factory for `target`.
 *
 * On a cluster, PUBLISH reaches every node, so the subscriber is a plain
 * connection to one node (not ioredis' own cluster subscriber, which moves
 * between nodes silently: the store must see every drop to keep its caches
 * honest). It retries its node a few times, then ends; the store then asks
 * the factory again, which picks the next known node.
 */
export function createRedisConnections(
  target: RedisTarget,
  opts: RedisClientOptions = {},
): { client: RedisClient; subscriberFactory: () => RedisClient } {
  if ('url' in target) {
    const subscriberOptions: RedisClientOptions = { ...opts, overrides: { ...opts.overrides, autoResubscribe: false } };
    return {
      client: createRedisClient(target.url, opts),
      subscriberFactory: () => createRedisClient(target.url, subscriberOptions),
    };
  }
  if ('sentinels' in target) {
    // The subscriber follows the master like the commands connection: PUBLISH
    // goes to the master, and a failover drops (and so resets) the subscription.
    const subscriberOptions: RedisClientOptions = { ...opts, overrides: { ...opts.overrides, autoResubscribe: false } };
    return {
      client: createRedisSentinelClient(target, opts),
      subscriberFactory: () => createRedisSentinelClient(target, subscriberOptions),
    };
  }
  // The cluster's credentials go to every node connection ioredis makes
  // (`redisOptions`) and to the subscriber's plain connection alike.
  const nodeOpts: RedisClientOptions = { ...opts, overrides: { ...credentialOptions(target), ...opts.overrides } };
  const subscriberOptions = (extra: RedisOptions): RedisClientOptions => ({
    ...nodeOpts,
    overrides: { ...nodeOpts.overrides, autoResubscribe: false, ...extra },
  });
  const seeds = target.clusterNodes;
  const cluster = createRedisClusterClient(seeds, nodeOpts);
  let next = randomInt(1024);
  return {
    client: cluster,
    subscriberFactory: () => {
      const known = cluster.nodes('all').map((node) => ({ host: node.options.host, port: node.options.port }));
      const candidates = known.length > 0 ? known : seeds;
      const node = candidates[next++ % candidates.length] as RedisNodeAddress;
      return createRedisClient(
        node,
        subscriberOptions({
          retryStrategy: (times: number) => (times > CLUSTER_SUBSCRIBER_RETRIES ? null : Math.min(100 * times, 1000)),
        }),
      );
    },
  };
}

/** Every failure of a Redis call, as the KvStore contract says it: StoreUnavailableError. */
export const unavailable = (err: unknown): StoreUnavailableError =>
  err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);

/** Resolves once `client` is ready; rejects with StoreUnavailableError after `timeoutMs`. */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new StoreUnavailableError(new Error('Connection is closed.')));
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err) reject(new StoreUnavailableError(err));
      else resolve();
    };
    const onReady = (): void => done();
    const onEnd = (): void => done(new Error('Connection is closed.'));
    const timer = setTimeout(() => done(new Error(`Redis not ready within ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** Closes `client` politely (QUIT), or drops the connection when it cannot. */
export async function quit(client: RedisClient): Promise<void> {
  if (client.status !== 'end') {
    try {
      await client.quit();
    } catch {
      client.disconnect();
    }
  }
  // Behind Sentinel, QUIT leaves the failover detector's connections to the
  // sentinels open (and reconnecting); disconnect() is what closes them.
  if (!(client instanceof Cluster) && client.options.sentinels) client.disconnect();
}
