import type { Config } from '../config';
import type { Environment } from '../domain/environments';
import { MemoryBackend, MemoryStore } from './memory-store';
import { createRedisClient, RedisStore } from './redis-store';
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
  if (store.kind === 'cluster') {
    // TODO(issue 7): Redis Cluster client; config already validates REDIS_CLUSTER_NODES.
    throw new Error('REDIS_CLUSTER_NODES is not supported yet: use REDIS_URL');
  }
  const open = (env: Environment): Store => {
    const url = store.urls[env];
    const clientOptions = { commandTimeoutMs: config.redisCommandTimeoutMs };
    return new RedisStore({
      namespace: namespaceFor(keyPrefix, env),
      client: createRedisClient(url, clientOptions),
      subscriberFactory: () => createRedisClient(url, { ...clientOptions, overrides: { autoResubscribe: false } }),
      onError: (err) => onError(err, env),
    });
  };
  // An environment with neither listener nor admin has no URL (config allows that only then): no store.
  return {
    ...(store.urls.live !== '' && { live: open('live') }),
    ...(store.urls.sandbox !== '' && { sandbox: open('sandbox') }),
  };
}
