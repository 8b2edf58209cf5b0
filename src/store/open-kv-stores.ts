import type { ClusterTarget, Config, SentinelTarget } from '../config';
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
      minReplicas: config.redisMinReplicas,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      onError: (err) => options.onError(err, env),
    });
  if (store.kind === 'cluster') {
    // Each environment on its cluster (one shared, or one each), with its own
    // connections (a store closes its own), its own `<prefix>:<environment>:`
    // keys and its cluster's one set of credentials (and TLS) on every node
    // connection, the subscriber's included: two ACL users on one cluster
    // keep the environments apart as on one Redis.
    const target = (cluster: ClusterTarget): RedisTarget => ({
      clusterNodes: cluster.nodes,
      ...(cluster.username !== undefined && { username: cluster.username }),
      ...(cluster.password !== undefined && { password: cluster.password }),
      ...(cluster.tls === true && { tls: true }),
    });
    const { live, sandbox } = store.clusters;
    return {
      ...(live !== null && { live: open('live', target(live)) }),
      ...(sandbox !== null && { sandbox: open('sandbox', target(sandbox)) }),
    };
  }
  if (store.kind === 'sentinel') {
    const target = (t: SentinelTarget): RedisTarget => ({
      sentinels: t.sentinels,
      name: t.name,
      ...(t.sentinelUsername !== undefined && { sentinelUsername: t.sentinelUsername }),
      ...(t.sentinelPassword !== undefined && { sentinelPassword: t.sentinelPassword }),
      ...(t.username !== undefined && { username: t.username }),
      ...(t.password !== undefined && { password: t.password }),
      ...(t.tls === true && { tls: true }),
    });
    const { live, sandbox } = store.sentinels;
    return {
      ...(live !== null && { live: open('live', target(live)) }),
      ...(sandbox !== null && { sandbox: open('sandbox', target(sandbox)) }),
    };
  }
  // An environment with neither listener nor admin has no URL (config allows that only then): no store.
  return {
    ...(store.urls.live !== '' && { live: open('live', { url: store.urls.live }) }),
    ...(store.urls.sandbox !== '' && { sandbox: open('sandbox', { url: store.urls.sandbox }) }),
  };
}
