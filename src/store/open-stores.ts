import type { ClusterTarget, Config } from '../config';
import type { Environment } from '../domain/environments';
import { MemoryBackend, MemoryStore } from './memory-store';
import { createRedisConnections, RedisStore, type RedisTarget } from './redis-store';
import type { Store } from './store';

export const namespaceFor = (prefix: string, env: Environment): string => `${prefix}:${env}:`;

/**
 * One store per environment, as configured. Redis stores are created without
 * waiting for Redis: a gateway started while Redis is down is alive (healthz)
 * but not ready, answers 503, and heals when Redis comes.
 */
export function openStores(
  config: Config,
  onError: (err: Error, env: Environment) => void,
): Partial<Record<Environment, Store>> {
  const { store, keyPrefix } = config;
  if (store.kind === 'embedded') {
    const backend = new MemoryBackend();
    return {
      live: new MemoryStore({ namespace: namespaceFor(keyPrefix, 'live'), shared: backend }),
      sandbox: new MemoryStore({ namespace: namespaceFor(keyPrefix, 'sandbox'), shared: backend }),
    };
  }
  const clientOptions = { commandTimeoutMs: config.redisCommandTimeoutMs };
  const open = (env: Environment, target: RedisTarget): Store =>
    new RedisStore({
      namespace: namespaceFor(keyPrefix, env),
      ...createRedisConnections(target, clientOptions),
      onError: (err) => onError(err, env),
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
  // An environment with neither listener nor admin has no URL (config allows that only then): no store.
  return {
    ...(store.urls.live !== '' && { live: open('live', { url: store.urls.live }) }),
    ...(store.urls.sandbox !== '' && { sandbox: open('sandbox', { url: store.urls.sandbox }) }),
  };
}
