import type { RedisOptions } from 'ioredis';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';
import { normalizeTtl, type ChannelListener, type KvStore, type RateLimiterOptions, type Subscription, type WriteOp } from './kv';
import { checkOneSlot } from './redis-cluster-guard';
import {
  createRedisConnections,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  quit,
  unavailable,
  waitReady,
  type RedisClient,
  type RedisClientOptions,
  type RedisTarget,
} from './redis-connections';
import { RedisSubscriptions } from './redis-pubsub';
import { redisRateLimiter } from './redis-rate-limiter';

export interface RedisKvStoreOptions {
  /** e.g. `vg:live:` */
  readonly namespace: string;
  /** Commands connection (from `createRedisClient`). Closed by `close()`. */
  readonly client: RedisClient;
  /** Makes the dedicated subscriber connection (see RedisSubscriptions). */
  readonly subscriberFactory: () => RedisClient;
  /** Bound on waiting for a connection to become ready; default 2000 ms. */
  readonly readyTimeoutMs?: number;
  /** Told about connection errors (they are also surfaced as rejections). */
  readonly onError?: (err: Error, connection: 'commands' | 'subscriber') => void;
}

export type RedisKvStoreConnectOptions = RedisTarget & {
  readonly namespace: string;
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly onError?: RedisKvStoreOptions['onError'];
  /** Extra ioredis options for every connection (e.g. ACL credentials). */
  readonly overrides?: RedisOptions;
};

/**
 * The Redis store (one server or a Cluster): the KV core. Keys and channels
 * are prefixed by the store itself (not ioredis' `keyPrefix`, which does not
 * cover pub/sub). Every failure, a timeout included, rejects with
 * StoreUnavailableError. Connections come from redis-connections.ts, the
 * one-slot rule from redis-cluster-guard.ts, pub/sub from redis-pubsub.ts,
 * rate limiters from redis-rate-limiter.ts.
 */
export class RedisKvStore implements KvStore {
  readonly namespace: string;
  readonly client: RedisClient;
  private readonly subscriptions: RedisSubscriptions;
  private closed = false;

  constructor(options: RedisKvStoreOptions) {
    if (!options.namespace) throw new TypeError('namespace is required');
    this.namespace = options.namespace;
    this.client = options.client;
    const onError = options.onError;
    this.subscriptions = new RedisSubscriptions({
      subscriberFactory: options.subscriberFactory,
      readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS + DEFAULT_CONNECT_TIMEOUT_MS,
      ...(onError && { onError: (err: Error) => onError(err, 'subscriber') }),
    });
    this.client.on('error', (err: Error) => onError?.(err, 'commands'));
  }

  /**
   * Connects to `url` (or the cluster's seed nodes) and waits until Redis answers; rejects with
   * StoreUnavailableError (and leaves nothing open) when it does not.
   */
  static async connect(options: RedisKvStoreConnectOptions): Promise<RedisKvStore> {
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
    const readyTimeoutMs =
      (options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const store = new RedisKvStore({
      namespace: options.namespace,
      client,
      subscriberFactory,
      readyTimeoutMs,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    try {
      await waitReady(client, readyTimeoutMs);
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

  subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(new Error('store is closed')));
    return this.subscriptions.subscribe(this.namespace + channel, listener);
  }

  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract {
    return redisRateLimiter(this.client, this.namespace, options, () => this.closed);
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([quit(this.client), this.subscriptions.close()]);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err);
    }
  }
}
