import type { Config } from '../config';
import type { Environment } from '../domain/environments';
import type { KvStore } from './kv';
import { MemoryBackend, MemoryKvStore } from './memory-kv';
import { createRedisConnections, type RedisClientOptions, type RedisTarget } from './redis-connections';
import { RedisKvStore } from './redis-kv';

export const namespaceFor = (prefix: string, env: Environment): string => `${prefix}:${env}:`;

export interface OpenKvStoresOptions {
  /** Told about every connection error, with the environment whose store had it. */
  readonly onError: (err: Error, env: Environment) => void;
  /** Embedded store only: the data, shared between gateways in one process (default: a new one). */
  readonly memoryBackend?: MemoryBackend;
  /** Embedded store only: the clock its TTLs are measured against (default `Date.now`). */
  readonly now?: () => number;
  /** Redis only: extra client options (ioredis overrides, connect timeout), over the configured command timeout. */
  readonly redis?: RedisClientOptions;
}

/**
 * One key-value store per environment, as configured. Redis stores are
 * created without waiting for Redis: a gateway started while Redis is down
 * is alive (healthz) but not ready, answers 503, and heals when Redis comes.
 */
export function openKvStores(config: Config, options: OpenKvStoresOptions): Partial<Record<Environment, KvStore>> {
  const { store, keyPrefix } = config;
  if (store.kind === 'embedded') {
    const backend = options.memoryBackend ?? new MemoryBackend();
    const open = (env: Environment): KvStore =>
      new MemoryKvStore({ namespace: namespaceFor(keyPrefix, env), shared: backend, ...(options.now && { now: options.now }) });
    return { live: open('live'), sandbox: open('sandbox') };
  }
  const clientOptions: RedisClientOptions = { commandTimeoutMs: config.redisCommandTimeoutMs, ...options.redis };
  const open = (env: Environment, target: RedisTarget): KvStore =>
    new RedisKvStore({
      namespace: namespaceFor(keyPrefix, env),
      ...createRedisConnections(target, clientOptions),
      onError: (err) => options.onError(err, env),
    });
  if (store.kind === 'cluster') {
    // Both environments on one cluster, each with its own connections (a
    // store closes its own) and its own `<prefix>:<environment>:` keys.
    // The cluster's one set of credentials (and TLS) reaches every node
    // connection, the subscriber's included.
    const target: RedisTarget = {
      clusterNodes: store.nodes,
      ...(store.username !== undefined && { username: store.username }),
      ...(store.password !== undefined && { password: store.password }),
      ...(store.tls === true && { tls: true }),
    };
    return { live: open('live', target), sandbox: open('sandbox', target) };
  }
  // An environment with neither listener nor admin has no URL (config allows that only then): no store.
  return {
    ...(store.urls.live !== '' && { live: open('live', { url: store.urls.live }) }),
    ...(store.urls.sandbox !== '' && { sandbox: open('sandbox', { url: store.urls.sandbox }) }),
  };
}
