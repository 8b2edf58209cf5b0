import { randomInt } from 'node:crypto';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RateLimiterAbstract, RateLimiterRedis } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';
import { guardLimiter } from './guard-limiter';
import type { ChannelListener, RateLimiterOptions, Store, Subscription, WriteOp } from './store';

/**
 * Every Redis command verigate sends, for the restricted ACL user (README;
 * test/contract/redis-store.test.ts runs the whole contract as such a user).
 * - store: GET MGET SET DEL SADD SREM SMEMBERS MULTI EXEC PUBLISH PING
 * - subscriber connection: SUBSCRIBE UNSUBSCRIBE
 * - rate-limiter-flexible (RateLimiterRedis): EVALSHA, falling back to EVAL,
 *   of a script calling SET, INCRBY, PTTL and EXPIRE (Redis 7 checks the
 *   commands a script calls against the user too); `get`/`block` use
 *   MULTI GET PTTL EXEC and MULTI SET PTTL EXEC; `delete` uses DEL.
 * - QUIT on close (Redis 7 does not ACL-check it; listed for completeness;
 *   falls back to dropping the connection).
 * Never sent: INFO (ready check off), CLIENT SETNAME/SETINFO (no connection
 * name, client info off), SELECT (use db 0), KEYS/SCAN, FLUSH*, CONFIG.
 * On Redis Cluster, add {@link REDIS_CLUSTER_EXTRA_COMMANDS}.
 */
export const REDIS_COMMANDS_USED = [
  'GET',
  'MGET',
  'SET',
  'DEL',
  'SADD',
  'SREM',
  'SMEMBERS',
  'MULTI',
  'EXEC',
  'PUBLISH',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PING',
  'EVAL',
  'EVALSHA',
  'INCRBY',
  'PTTL',
  'EXPIRE',
  'QUIT',
] as const;

/**
 * What the ioredis Cluster client sends on top of {@link REDIS_COMMANDS_USED}
 * (test/contract/redis-cluster-store.test.ts runs the contract as an ACL
 * user allowed only both lists, on every node):
 * - `CLUSTER SLOTS`, to learn which node serves which slot (at connect, and
 *   again after a MOVED or a lost node);
 * - `CLIENT SETNAME`, which ioredis always sends on the short-lived
 *   connection it opens for `CLUSTER SLOTS` (it ignores a refusal, but every
 *   refusal lands in the ACL log).
 * Not sent: `CLUSTER INFO` (the cluster ready check is off). Entries are ACL
 * subcommand names (`+cluster|slots`).
 */
export const REDIS_CLUSTER_EXTRA_COMMANDS = ['CLUSTER|SLOTS', 'CLIENT|SETNAME'] as const;

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

/** Where a store keeps its data: one Redis (by URL) or one Redis Cluster (by seed nodes). */
export type RedisTarget =
  | { readonly url: string }
  | ({ readonly clusterNodes: readonly RedisNodeAddress[] } & RedisClusterCredentials);

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

export interface RedisStoreOptions {
  /** e.g. `vg:live:` */
  readonly namespace: string;
  /** Commands connection (from `createRedisClient`). Closed by `close()`. */
  readonly client: RedisClient;
  /**
   * Makes the dedicated subscriber connection, lazily; called again only
   * when that connection has ended for good (gave up reconnecting). It
   * should be made with `autoResubscribe: false`: the store resubscribes
   * itself after a reconnect, so it knows when the subscription is back.
   */
  readonly subscriberFactory: () => RedisClient;
  /** Bound on waiting for a connection to become ready; default 2000 ms. */
  readonly readyTimeoutMs?: number;
  /** Told about connection errors (they are also surfaced as rejections). */
  readonly onError?: (err: Error, connection: 'commands' | 'subscriber') => void;
}

export type RedisStoreConnectOptions = RedisTarget & {
  readonly namespace: string;
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly onError?: RedisStoreOptions['onError'];
  /** Extra ioredis options for every connection (e.g. ACL credentials). */
  readonly overrides?: RedisOptions;
};

function normalizeTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/**
 * The part of `key` Redis Cluster hashes to pick a slot: what is inside the
 * first `{…}` when that is not empty, else the whole key.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * Multi-key calls promise one hash tag (Store). Checked on every Redis, not
 * only on a cluster, so a call that would fail with CROSSSLOT in production
 * fails in every test run too.
 */
function checkOneSlot(method: string, keys: readonly string[]): void {
  if (keys.length < 2) return;
  const tag = hashTagOf(keys[0] as string);
  const stray = keys.find((key) => hashTagOf(key) !== tag);
  if (stray !== undefined) {
    throw new TypeError(`${method}: every key must share one hash tag (Redis Cluster slot); ${keys[0]} and ${stray} do not`);
  }
}

const unavailable = (err: unknown): StoreUnavailableError =>
  err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);

/** Resolves once `client` is ready; rejects with StoreUnavailableError after `timeoutMs`. */
function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
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

async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}


interface Entry {
  readonly listener: ChannelListener;
  active: boolean;
}

/**
 * The Redis store. Keys and channels are prefixed by the store itself (not
 * ioredis' `keyPrefix`, which does not cover pub/sub). Every failure, a
 * timeout included, rejects with StoreUnavailableError.
 *
 * Pub/sub runs on one dedicated subscriber connection shared by every
 * subscription. A subscription is `active` only once its SUBSCRIBE is
 * confirmed on the current connection; when that connection closes, every
 * listener is reset and marked inactive, and once it is back and
 * resubscribed, reset again and marked active.
 */
export class RedisStore implements Store {
  readonly namespace: string;
  readonly client: RedisClient;
  private readonly subscriberFactory: () => RedisClient;
  private readonly readyTimeoutMs: number;
  private readonly onError: RedisStoreOptions['onError'];
  private subscriber: RedisClient | undefined;
  /** Full channel -> its listeners. */
  private readonly channels = new Map<string, Set<Entry>>();
  /** Bumped each time the subscriber connection closes. */
  private subscriberGeneration = 0;
  /** Replacing a subscriber connection that ended for good. */
  private replaceTimer: NodeJS.Timeout | undefined;
  /** Subscriber connections that ended in a row without becoming ready. */
  private subscriberFailures = 0;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    if (!options.namespace) throw new TypeError('namespace is required');
    this.namespace = options.namespace;
    this.client = options.client;
    this.subscriberFactory = options.subscriberFactory;
    this.readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS + DEFAULT_CONNECT_TIMEOUT_MS;
    this.onError = options.onError;
    this.client.on('error', (err: Error) => this.onError?.(err, 'commands'));
  }

  /**
   * Connects to `url` (or the cluster's seed nodes) and waits until Redis answers; rejects with
   * StoreUnavailableError (and leaves nothing open) when it does not.
   */
  static async connect(options: RedisStoreConnectOptions): Promise<RedisStore> {
    const clientOptions: RedisClientOptions = {
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    };
    const target: RedisTarget =
      'url' in options
        ? { url: options.url }
        : {
            clusterNodes: options.clusterNodes,
            ...(options.username !== undefined && { username: options.username }),
            ...(options.password !== undefined && { password: options.password }),
            ...(options.tls !== undefined && { tls: options.tls }),
          };
    const { client, subscriberFactory } = createRedisConnections(target, clientOptions);
    const store = new RedisStore({
      namespace: options.namespace,
      client,
      subscriberFactory,
      readyTimeoutMs:
        (options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) +
        (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    try {
      await waitReady(client, store.readyTimeoutMs);
      await store.ping();
    } catch (err) {
      client.disconnect();
      throw unavailable(err);
    }
    return store;
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.namespace + key));
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return this.run(async () => []);
    try {
      checkOneSlot('getMany', keys);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.run(() => this.client.mget(keys.map((key) => this.namespace + key)));
  }

  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    let ttl: number | undefined;
    try {
      ttl = normalizeTtl(ttlMs);
    } catch (err) {
      return Promise.reject(err);
    }
    const full = this.namespace + key;
    return this.run(async () => {
      const reply =
        ttl === undefined ? await this.client.set(full, value, 'NX') : await this.client.set(full, value, 'PX', ttl, 'NX');
      return reply === 'OK';
    });
  }

  write(ops: readonly WriteOp[]): Promise<void> {
    let ttls: (number | undefined)[];
    try {
      ttls = ops.map((op) => (op.op === 'set' ? normalizeTtl(op.ttlMs) : undefined));
      checkOneSlot(
        'write',
        ops.map((op) => op.key),
      );
    } catch (err) {
      return Promise.reject(err);
    }
    if (ops.length === 0) return this.run(async () => undefined);
    return this.run(async () => {
      const multi = this.client.multi();
      ops.forEach((op, i) => {
        const full = this.namespace + op.key;
        switch (op.op) {
          case 'set': {
            const ttl = ttls[i];
            if (ttl === undefined) multi.set(full, op.value);
            else multi.set(full, op.value, 'PX', ttl);
            break;
          }
          case 'del':
            multi.del(full);
            break;
          case 'sadd':
            multi.sadd(full, op.member);
            break;
          case 'srem':
            multi.srem(full, op.member);
            break;
        }
      });
      const results = await multi.exec();
      if (results === null) throw new Error('MULTI/EXEC aborted');
      for (const [err] of results) if (err) throw err;
    });
  }

  members(key: string): Promise<string[]> {
    return this.run(() => this.client.smembers(this.namespace + key));
  }

  publish(channel: string, payload: string): Promise<void> {
    return this.run(async () => {
      await this.client.publish(this.namespace + channel, payload);
    });
  }

  async subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
    const full = this.namespace + channel;
    const subscriber = this.ensureSubscriber();
    await waitReady(subscriber, this.readyTimeoutMs);
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));

    const entry: Entry = { listener, active: false };
    let entries = this.channels.get(full);
    if (entries === undefined) {
      entries = new Set();
      this.channels.set(full, entries);
    }
    entries.add(entry);
    const generation = this.subscriberGeneration;
    try {
      await subscriber.subscribe(full);
    } catch (err) {
      void this.removeEntry(full, entry);
      throw unavailable(err);
    }
    // If the connection dropped meanwhile, the entry stays inactive until
    // the store has resubscribed on the new connection.
    if (generation === this.subscriberGeneration && !this.closed) {
      entry.active = true;
      listener.reset();
    }

    const store = this;
    return {
      get active() {
        return entry.active && !store.closed;
      },
      async close() {
        entry.active = false;
        await store.removeEntry(full, entry);
      },
    };
  }

  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract {
    const inner = new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: this.namespace + options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      ...(options.blockInMemoryWhenExceeded && {
        inMemoryBlockOnConsumed: options.points + 1,
        inMemoryBlockDuration: options.durationSeconds,
      }),
      // Fail closed: no insurance limiter, and no waiting for a connection.
      rejectIfRedisNotReady: true,
    });
    return guardLimiter(inner, () => this.closed);
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.replaceTimer);
    for (const entries of this.channels.values()) for (const entry of entries) entry.active = false;
    this.channels.clear();
    const subscriber = this.subscriber;
    await Promise.all([quit(this.client), subscriber === undefined ? undefined : quit(subscriber)]);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Forgets `entry`; unsubscribes when it was the channel's last listener. */
  private async removeEntry(full: string, entry: Entry): Promise<void> {
    const entries = this.channels.get(full);
    if (entries === undefined || !entries.delete(entry) || entries.size > 0) return;
    this.channels.delete(full);
    const subscriber = this.subscriber;
    if (subscriber === undefined || subscriber.status !== 'ready') return;
    try {
      await subscriber.unsubscribe(full);
    } catch {
      // Messages for a channel nobody listens to are dropped anyway, and a
      // reconnect resubscribes only the channels still listened to.
    }
  }

  private ensureSubscriber(): RedisClient {
    if (this.subscriber !== undefined) return this.subscriber;
    const subscriber = this.subscriberFactory();
    this.subscriber = subscriber;
    subscriber.on('error', (err: Error) => this.onError?.(err, 'subscriber'));
    subscriber.on('message', (channel: string, payload: string) => {
      const entries = this.channels.get(channel);
      if (entries === undefined) return;
      for (const entry of [...entries]) {
        try {
          entry.listener.message(payload);
        } catch (err) {
          process.emitWarning(`store subscriber for ${channel} threw: ${String(err)}`);
        }
      }
    });
    subscriber.on('close', () => this.subscriberDown());
    subscriber.on('end', () => {
      this.subscriberDown();
      this.replaceSubscriber(subscriber);
    });
    subscriber.on('ready', () => {
      this.subscriberFailures = 0;
      void this.resubscribe(subscriber);
    });
    return subscriber;
  }

  /**
   * The subscriber connection gave up reconnecting (on a cluster, its node
   * stayed away): make a new one from the factory (on a cluster, to another
   * node), after a short capped backoff.
   */
  private replaceSubscriber(ended: RedisClient): void {
    if (this.closed || this.subscriber !== ended) return;
    ended.removeAllListeners('message');
    this.subscriber = undefined;
    const delay = Math.min(100 * 2 ** this.subscriberFailures++, 2000);
    this.replaceTimer = setTimeout(() => {
      this.replaceTimer = undefined;
      if (!this.closed && this.subscriber === undefined && this.channels.size > 0) this.ensureSubscriber();
    }, delay);
    this.replaceTimer.unref();
  }

  /** The subscriber connection is gone: messages may be missed from now on. */
  private subscriberDown(): void {
    this.subscriberGeneration++;
    if (this.closed) return;
    for (const entries of this.channels.values()) {
      for (const entry of entries) {
        entry.active = false;
        this.safeReset(entry);
      }
    }
  }

  /** The subscriber connection is (back) up: subscribe to every channel again. */
  private async resubscribe(subscriber: RedisClient): Promise<void> {
    const generation = this.subscriberGeneration;
    const channels = [...this.channels.keys()];
    if (channels.length === 0 || this.closed) return;
    try {
      await subscriber.subscribe(...channels);
    } catch (err) {
      // Still on the same connection but not subscribed: start over on a
      // fresh connection rather than stay inactive for good.
      if (generation === this.subscriberGeneration && !this.closed) {
        this.onError?.(err as Error, 'subscriber');
        subscriber.disconnect(true);
      }
      return;
    }
    if (generation !== this.subscriberGeneration || this.closed) return;
    for (const channel of channels) {
      for (const entry of this.channels.get(channel) ?? []) {
        entry.active = true;
        this.safeReset(entry);
      }
    }
  }

  private safeReset(entry: Entry): void {
    try {
      entry.listener.reset();
    } catch (err) {
      process.emitWarning(`store subscriber reset threw: ${String(err)}`);
    }
  }
}
