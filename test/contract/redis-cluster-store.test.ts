import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { StoreUnavailableError } from '../../src/domain/errors';
import { keys } from '../../src/store/records/keys';
import { REDIS_CLUSTER_EXTRA_COMMANDS } from '../../src/store/redis-commands';
import { createRedisClient } from '../../src/store/redis-connections';
import { hashTagOf } from '../../src/store/redis-cluster-guard';
import { RedisKvStore as RedisStore } from '../../src/store/redis-kv';
import { startRedisCluster, testRedisClusterNodes, type RedisClusterHandle } from '../support/redis-cluster';
import { pollUntil } from '../support/poll';
import { RecordingListener } from '../support/recording-listener';
import { storeContract } from './store.contract';
import { aclLogOf, namespaceAclRules } from '../support/redis-acl';
import { TEST_COMMAND_TIMEOUT_MS, uniquePrefix } from '../support/redis';

/**
 * The store contract on a real 3-master Redis Cluster: the one global-setup
 * started (TEST_STORE=cluster), or one started here, so the default
 * `npm test` proves the cluster path too.
 */
let own: RedisClusterHandle | undefined;
let nodes: { host: string; port: number }[];

beforeAll(async () => {
  const shared = testRedisClusterNodes();
  if (shared) {
    nodes = shared;
  } else {
    own = await startRedisCluster();
    nodes = own.nodes.map(({ host, port }) => ({ host, port }));
  }
}, 60_000);

afterAll(async () => {
  await own?.stop();
});

/** `slot -> port of the master serving it`, from CLUSTER SLOTS as `admin`'s node sees it. */
async function slotOwners(admin: Redis): Promise<(slot: number) => number | undefined> {
  const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  return (slot) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
}

/** A plain connection to one node (admin: the default user). */
async function nodeClient(node: { host: string; port: number }): Promise<Redis> {
  const client = createRedisClient(node);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error(`node ${node.port} unreachable`)));
  });
  return client;
}


storeContract('RedisStore on Redis Cluster', (namespace) => RedisStore.connect({ clusterNodes: nodes, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS }));

/**
 * As a restricted ACL user, created on every node (ACL users are per node,
 * not shared by the cluster): proves REDIS_COMMANDS_USED plus
 * REDIS_CLUSTER_EXTRA_COMMANDS is all a cluster deployment needs.
 */
describe('on Redis Cluster, as a restricted ACL user on every node', () => {
  let admins: Redis[] = [];

  beforeAll(async () => {
    admins = await Promise.all(nodes.map(nodeClient));
  });
  afterAll(() => {
    for (const admin of admins) admin.disconnect();
  });

  const userFor = (namespace: string): string => `c${createHash('sha256').update(namespace).digest('hex').slice(0, 16)}`;
  const restrictedStore = async (namespace: string): Promise<RedisStore> => {
    const user = userFor(namespace);
    const password = `${user}-pw`;
    const rules = ['reset', ...namespaceAclRules(namespace, password, REDIS_CLUSTER_EXTRA_COMMANDS)];
    await Promise.all(admins.map((admin) => admin.call('ACL', 'SETUSER', user, ...rules)));
    return RedisStore.connect({ clusterNodes: nodes, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS, overrides: { username: user, password } });
  };

  storeContract('RedisStore on Redis Cluster (ACL user)', restrictedStore);

  it('leaves nothing in the ACL log of any node', async () => {
    // ioredis ignores some refusals (CLIENT SETNAME); the log shows them all.
    const namespace = `${uniquePrefix()}:live:`;
    const user = userFor(namespace);
    const store = await restrictedStore(namespace);
    await store.write([{ op: 'set', key: '{x}:k', value: 'v' }]);
    await store.subscribe('invalidate', new RecordingListener());
    await store.rateLimiter({ keyPrefix: 'rl:acl', points: 5, durationSeconds: 60 }).consume('k');
    await store.close();
    // Every entry each node kept (ACL LOG without a count shows only the last 10).
    const logs = await Promise.all(admins.map((admin) => aclLogOf(admin)));
    expect(logs.flat().filter((entry) => entry.username === user)).toEqual([]);
  });
});

describe('RedisStore on Redis Cluster specifics', () => {
  let admins: Redis[] = [];

  beforeAll(async () => {
    admins = await Promise.all(nodes.map(nodeClient));
  });
  afterAll(() => {
    for (const admin of admins) admin.disconnect();
  });

  it('spreads sites over the nodes, and keeps one site’s keys in one slot', async () => {
    const store = await RedisStore.connect({ clusterNodes: nodes, namespace: 'spread:live:' });
    try {
      const sites = Array.from({ length: 30 }, (_, i) => `site_${i}`);
      for (const site of sites) {
        await store.write([
          { op: 'set', key: keys.site(site), value: 's', ttlMs: 60_000 },
          { op: 'set', key: keys.user(site, 'u'), value: 'u', ttlMs: 60_000 },
          { op: 'sadd', key: keys.userSessions(site, 'u'), member: 'sess' },
          { op: 'del', key: keys.userSessions(site, 'u') },
        ]);
      }
      const slots = await Promise.all(
        sites.map((site) => admins[0]!.call('CLUSTER', 'KEYSLOT', `spread:live:${keys.site(site)}`) as Promise<number>),
      );
      const owners = await Promise.all(
        admins.map(async (admin) => (await admin.dbsize()) > 0),
      );
      expect(new Set(slots).size).toBeGreaterThan(1);
      expect(owners.filter(Boolean).length).toBeGreaterThan(1);
      for (const site of sites) {
        expect(hashTagOf(`spread:live:${keys.user(site, 'u')}`)).toBe(site);
      }
    } finally {
      await store.close();
    }
  });

  it('refuses a multi-key call across hash tags before sending it (it would be CROSSSLOT)', async () => {
    const store = await RedisStore.connect({ clusterNodes: nodes, namespace: 'cross:live:' });
    try {
      await expect(store.getMany(['{a}:k', '{b}:k'])).rejects.toThrow(TypeError);
      await expect(
        store.write([
          { op: 'set', key: '{a}:k', value: 'v' },
          { op: 'set', key: 'untagged', value: 'v' },
        ]),
      ).rejects.toThrow(/share one hash tag/);
      await expect(store.getMany(['{a}:k'])).resolves.toEqual([null]);
    } finally {
      await store.close();
    }
  });

  it('delivers a message published on any node to a subscriber on any other', async () => {
    const store = await RedisStore.connect({ clusterNodes: nodes, namespace: 'bcast:live:' });
    const recorder = new RecordingListener();
    try {
      const subscription = await store.subscribe('invalidate', recorder);
      expect(subscription.active).toBe(true);
      for (const [i, admin] of admins.entries()) {
        await admin.publish('bcast:live:invalidate', `via-${i}`);
      }
      await pollUntil(async () => recorder.messages.length, (n) => n === admins.length, { what: 'messages from every node' });
      expect(recorder.messages.sort()).toEqual(admins.map((_, i) => `via-${i}`).sort());
    } finally {
      await store.close();
    }
  });
});

/**
 * Kills the node the subscriber is on: on its own cluster, since the cluster
 * is down for the others meanwhile. Its nodes serve the slots they still
 * have (`cluster-require-full-coverage no`), as the README's "the rest keep
 * working" assumes; with full coverage required, every node would refuse
 * every key once the dead one is marked failed.
 */
describe('RedisStore on Redis Cluster when the subscriber’s node dies', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startRedisCluster({ args: ['--cluster-require-full-coverage', 'no'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('goes inactive and resets, moves to another node, resubscribes and delivers again', async () => {
    const seeds = cluster.nodes.map(({ host, port }) => ({ host, port }));
    const store = await RedisStore.connect({ clusterNodes: seeds, namespace: 'move:live:', commandTimeoutMs: 500 });
    const admins = await Promise.all(seeds.map(nodeClient));
    try {
      const recorder = new RecordingListener();
      const subscription = await store.subscribe('invalidate', recorder);
      expect(subscription.active).toBe(true);
      expect(recorder.resets).toBe(1);

      const numsub = async (admin: Redis): Promise<number> => {
        const reply = (await admin.call('PUBSUB', 'NUMSUB', 'move:live:invalidate')) as [string, number];
        return Number(reply[1]);
      };
      const counts = await Promise.all(admins.map(numsub));
      const victim = counts.findIndex((n) => n === 1);
      expect(counts.filter((n) => n === 1)).toHaveLength(1);

      admins[victim]!.disconnect();
      await cluster.nodes[victim]!.kill();
      await pollUntil(async () => subscription.active, (active) => !active, { what: 'inactive subscription' });
      expect(recorder.resets).toBeGreaterThanOrEqual(2);

      const survivors = admins.filter((_, i) => i !== victim);
      const resetsWhileDown = recorder.resets;
      await pollUntil(async () => subscription.active, (active) => active, {
        timeoutMs: 15_000,
        what: 'subscription active again on another node',
      });
      expect(recorder.resets).toBeGreaterThan(resetsWhileDown);
      const moved = await Promise.all(survivors.map(numsub));
      expect(moved.reduce((a, b) => a + b, 0)).toBe(1);

      await survivors[0]!.publish('move:live:invalidate', 'after-move');
      await pollUntil(async () => recorder.messages, (m) => m.includes('after-move'), { what: 'message after move' });

      // Keys served by the dead node fail closed; the store stays usable for the rest —
      // also once the survivors have marked the dead node failed (cluster-node-timeout).
      const victimPort = seeds[victim]!.port;
      await pollUntil(
        async () => (await survivors[0]!.call('CLUSTER', 'NODES')) as string,
        // `<id> <ip:port@bus> <flags> …`: the flag `fail` (not `fail?`, a suspicion of one node).
        (text) => text.split('\n').some((line) => line.includes(`:${victimPort}@`) && (line.split(' ')[2] ?? '').split(',').includes('fail')),
        { timeoutMs: 15_000, what: 'the survivors to mark the dead node failed' },
      );
      const owners = await slotOwners(survivors[0]!);
      const keyOn = async (port: number): Promise<string> => {
        for (let i = 0; ; i++) {
          const slot = (await survivors[0]!.call('CLUSTER', 'KEYSLOT', `move:live:{n${i}}:k`)) as number;
          if (owners(slot) === port) return `{n${i}}:k`;
        }
      };
      const deadKey = await keyOn(victimPort);
      const liveKeys = await Promise.all(seeds.filter((_, i) => i !== victim).map((node) => keyOn(node.port)));
      await expect(store.get(deadKey)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.write([{ op: 'set', key: deadKey, value: 'v' }])).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      for (const key of liveKeys) {
        await store.write([{ op: 'set', key, value: `on ${key}` }]);
        await expect(store.get(key)).resolves.toBe(`on ${key}`);
      }
      // …and the dead node's keys still fail after the live ones were served: no stale answer from anywhere.
      await expect(store.getMany([deadKey])).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      for (const admin of admins) admin.disconnect();
      await store.close();
    }
  }, 60_000);
});
