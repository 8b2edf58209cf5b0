import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { RedisKvStore as RedisStore } from '../../src/store/redis-kv';
import { createRedisClient } from '../../src/store/redis-connections';
import { storeContract } from './store.contract';
import { TEST_COMMAND_TIMEOUT_MS, testRedisUrl, uniquePrefix } from '../support/redis';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { namespaceAclRules } from '../support/redis-acl';

storeContract('RedisStore', (namespace) => RedisStore.connect({ url: testRedisUrl(), namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS }));

/**
 * The same contract as a Redis ACL user allowed only its own namespace's
 * keys and channels and only REDIS_COMMANDS_USED: proves the list is
 * complete and that nothing reaches outside the namespace. Runs on its own
 * server, since REDIS_URL may not allow ACL SETUSER.
 */
describe('as a restricted ACL user', () => {
  let server: RedisServerHandle;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = createRedisClient(server.url);
    await new Promise<void>((resolve) => admin.once('ready', () => resolve()));
  });

  afterAll(async () => {
    await admin.quit();
    await server.stop();
  });

  const restrictedStore = async (namespace: string): Promise<RedisStore> => {
    const user = `u${createHash('sha256').update(namespace).digest('hex').slice(0, 16)}`;
    const password = `${user}-pw`;
    await admin.call('ACL', 'SETUSER', user, 'reset', ...namespaceAclRules(namespace, password));
    return RedisStore.connect({ url: `redis://${user}:${password}@127.0.0.1:${server.port}`, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS });
  };

  storeContract('RedisStore (ACL user)', restrictedStore);

  it('the ACL user cannot reach outside its namespace', async () => {
    const namespace = `${uniquePrefix()}:live:`;
    const store = await restrictedStore(namespace);
    const raw = store.client as Redis;
    await expect(raw.get(namespace.replace(':live:', ':sandbox:') + 'k')).rejects.toThrow(/NOPERM/);
    await expect(raw.publish(namespace.replace(':live:', ':sandbox:') + 'invalidate', 'x')).rejects.toThrow(/NOPERM/);
    await expect(raw.call('KEYS', '*')).rejects.toThrow(/NOPERM/);
    await store.close();
  });

  it('closing the last subscription of a channel unsubscribes the connection', async () => {
    const namespace = `${uniquePrefix()}:live:`;
    const store = await restrictedStore(namespace);
    const listener = { message: () => undefined, reset: () => undefined };
    const first = await store.subscribe('invalidate', listener);
    const second = await store.subscribe('invalidate', listener);
    const subscribers = async (): Promise<unknown> => (await admin.pubsub('NUMSUB', `${namespace}invalidate`))[1];
    await expect(subscribers()).resolves.toBe(1);
    await first.close();
    await expect(subscribers()).resolves.toBe(1);
    await second.close();
    await expect(subscribers()).resolves.toBe(0);
    await store.close();
  });
});

describe('RedisStore specifics', () => {
  it('stores keys under the namespace, as plain Redis keys', async () => {
    const namespace = `${uniquePrefix()}:live:`;
    const store = await RedisStore.connect({ url: testRedisUrl(), namespace });
    const raw = createRedisClient(testRedisUrl());
    try {
      await new Promise<void>((resolve) => raw.once('ready', () => resolve()));
      await store.write([
        { op: 'set', key: '{t}:k', value: 'v', ttlMs: 60_000 },
        { op: 'sadd', key: '{t}:s', member: 'm' },
      ]);
      await expect(raw.get(`${namespace}{t}:k`)).resolves.toBe('v');
      const ttl = await raw.pttl(`${namespace}{t}:k`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      await expect(raw.smembers(`${namespace}{t}:s`)).resolves.toEqual(['m']);
      await expect(raw.get('{t}:k')).resolves.toBeNull();
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('connect rejects with StoreUnavailableError when nothing listens', async () => {
    const server = await startRedisServer();
    const url = server.url;
    await server.stop();
    await expect(RedisStore.connect({ url, namespace: 'x:live:' })).rejects.toMatchObject({
      name: 'StoreUnavailableError',
      code: 'store_unavailable',
    });
  });
});
