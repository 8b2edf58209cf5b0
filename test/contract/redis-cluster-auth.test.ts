import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { loadConfig } from '../../src/config';
import type { Environment } from '../../src/domain/environments';
import { StoreUnavailableError } from '../../src/domain/errors';
import { openKvStores } from '../../src/store/open-kv-stores';
import { REDIS_CLUSTER_EXTRA_COMMANDS } from '../../src/store/redis-commands';
import { createRedisClient } from '../../src/store/redis-connections';
import type { KvStore as Store } from '../../src/store/kv';
import { aclLogOf, namespaceAclRules } from '../support/redis-acl';
import { pollUntil } from '../support/poll';
import { RecordingListener } from '../support/recording-listener';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';

/**
 * REDIS_CLUSTER_NODES with credentials, end to end: config → openKvStores →
 * every node connection (the subscriber's too) authenticates as an ACL user
 * that has exactly README's live rules plus REDIS_CLUSTER_EXTRA_COMMANDS, on
 * every node. The `default` user stays open, so the test also checks that
 * the connections really are that user.
 */
const USER = 'verigate-live';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const SANDBOX_USER = 'verigate-sandbox';
const SANDBOX_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

let cluster: RedisClusterHandle;
let admins: Redis[] = [];
const opened: Partial<Record<Environment, Store>>[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  admins = cluster.nodes.map(({ host, port }) => createRedisClient({ host, port }));
  await Promise.all(
    admins.map((admin) =>
      pollUntil(async () => admin.status, (status) => status === 'ready', { what: 'admin connection' }),
    ),
  );
  const rules = namespaceAclRules('vg:live:', PASSWORD, REDIS_CLUSTER_EXTRA_COMMANDS);
  await Promise.all(admins.map((admin) => admin.call('ACL', 'SETUSER', USER, ...rules)));
  const sandboxRules = namespaceAclRules('vg:sandbox:', SANDBOX_PASSWORD, REDIS_CLUSTER_EXTRA_COMMANDS);
  await Promise.all(admins.map((admin) => admin.call('ACL', 'SETUSER', SANDBOX_USER, ...sandboxRules)));
}, 60_000);

afterAll(async () => {
  for (const stores of opened) await Promise.all(Object.values(stores).map((store) => store.close()));
  for (const admin of admins) admin.disconnect();
  await cluster?.stop();
});

/** The stores `openKvStores` builds for REDIS_CLUSTER_NODES = `nodes` (or, given an object, for those variables). */
function storesFor(nodes: string | Record<string, string>): Partial<Record<Environment, Store>> {
  const config = loadConfig({
    ...(typeof nodes === 'string' ? { REDIS_CLUSTER_NODES: nodes } : nodes),
    VERIGATE_MASTER_KEY: randomBytes(32).toString('base64'),
    VERIGATE_ADMIN_TOKEN: 'a'.repeat(40),
    SANDBOX_PORT: 'off',
    ADMIN_PORT: 'off',
  });
  const stores = openKvStores(config, { onError: () => {} });
  opened.push(stores);
  return stores;
}

/** `user=` of every client connected to any node, as named by CLIENT LIST. */
async function connectedUsers(): Promise<string[]> {
  const lists = await Promise.all(admins.map((admin) => admin.call('CLIENT', 'LIST') as Promise<string>));
  return lists.flatMap((list) => [...list.matchAll(/ user=(\S+)/g)].map((m) => m[1] as string));
}

/** A subscriber connection: CLIENT LIST's `sub=` count is non-zero. */
async function subscribedUsers(): Promise<string[]> {
  const lists = await Promise.all(admins.map((admin) => admin.call('CLIENT', 'LIST') as Promise<string>));
  return lists
    .flatMap((list) => list.split('\n'))
    .filter((line) => / sub=[1-9]/.test(line))
    .map((line) => / user=(\S+)/.exec(line)?.[1] ?? '');
}


describe('REDIS_CLUSTER_NODES with an ACL user in a redis:// entry', () => {
  it('reads, writes, publishes and subscribes on every node as that user', async () => {
    const [first, second] = cluster.nodes;
    const store = storesFor(`redis://${USER}:${PASSWORD}@127.0.0.1:${first!.port},127.0.0.1:${second!.port}`).live!;
    await pollUntil(() => store.ping().then(() => true), (ok) => ok, { what: 'store ready' });

    // Keys on many sites land on every node (one hash tag per site).
    const sites = Array.from({ length: 24 }, (_, i) => `site_${i}`);
    for (const site of sites) {
      expect(await store.setIfAbsent(`{${site}}:a`, `a-${site}`, 60_000)).toBe(true);
      await store.write([
        { op: 'set', key: `{${site}}:b`, value: `b-${site}`, ttlMs: 60_000 },
        { op: 'sadd', key: `{${site}}:s`, member: 'm' },
      ]);
    }
    for (const site of sites) {
      expect(await store.get(`{${site}}:a`)).toBe(`a-${site}`);
      expect(await store.getMany([`{${site}}:a`, `{${site}}:b`, `{${site}}:none`])).toEqual([`a-${site}`, `b-${site}`, null]);
      expect(await store.members(`{${site}}:s`)).toEqual(['m']);
    }
    const owners = await Promise.all(admins.map(async (admin) => (await admin.dbsize()) > 0));
    expect(owners).toEqual([true, true, true]);

    const recorder = new RecordingListener();
    const subscription = await store.subscribe('invalidate', recorder);
    expect(subscription.active).toBe(true);
    await store.publish('invalidate', 'hello');
    await pollUntil(async () => recorder.messages, (m) => m.includes('hello'), { what: 'published message' });

    // Every connection the store made is the ACL user, the subscriber's included;
    // nothing of it runs as `default`.
    expect(await subscribedUsers()).toEqual([USER]);
    const users = await connectedUsers();
    expect(users.filter((u) => u === USER).length).toBeGreaterThanOrEqual(cluster.nodes.length + 1);
    expect(users.filter((u) => u !== USER)).toEqual(admins.map(() => 'default'));

    // The sandbox store shares the credentials: the live-only user is refused its keys.
    const sandbox = opened.at(-1)!.sandbox!;
    await expect(sandbox.setIfAbsent('{x}:k', 'v')).rejects.toThrow(StoreUnavailableError);
    const refused = (await Promise.all(admins.map((admin) => admin.call('ACL', 'LOG') as Promise<unknown[]>))).flat();
    expect(refused.map((entry) => JSON.stringify(entry)).some((e) => e.includes('vg:sandbox:{x}:k') && e.includes(USER))).toBe(true);
    await Promise.all(admins.map((admin) => admin.call('ACL', 'LOG', 'RESET')));

    await subscription.close();
  }, 30_000);

  it('fails with StoreUnavailableError on a wrong password', async () => {
    const [first] = cluster.nodes;
    const store = storesFor(`redis://${USER}:wrong-${PASSWORD}@127.0.0.1:${first!.port}`).live!;
    // The node refused the AUTH (not merely "not connected yet")...
    const authFailures = async (): Promise<number> => {
      const log = (await admins[0]!.call('ACL', 'LOG')) as unknown[];
      return log.map((entry) => JSON.stringify(entry)).filter((e) => e.includes('"auth"') && e.includes(USER)).length;
    };
    await pollUntil(authFailures, (n) => n > 0, { what: 'AUTH refused in ACL LOG' });
    // ...so the store is unavailable, and says so without the password.
    const err = await store.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(String((err as Error).message)).not.toContain(PASSWORD);
    // Closed here, so it stops retrying its AUTH (and filling the ACL LOG) for the tests after it.
    await Promise.all(Object.values(opened.pop() ?? {}).map((s) => s.close()));
  }, 20_000);
});

describe('LIVE_REDIS_CLUSTER_NODES and SANDBOX_REDIS_CLUSTER_NODES: each environment its own ACL user on one cluster', () => {
  it('opens each environment’s store as its own user, on every node', async () => {
    // This file's own cluster: forget the refusals earlier tests provoked.
    await Promise.all(admins.map((admin) => admin.call('ACL', 'LOG', 'RESET')));
    const [first, second] = cluster.nodes;
    const entries = (user: string, password: string) =>
      `redis://${user}:${password}@127.0.0.1:${first!.port},redis://${user}:${password}@127.0.0.1:${second!.port}`;
    const stores = storesFor({
      LIVE_REDIS_CLUSTER_NODES: entries(USER, PASSWORD),
      SANDBOX_REDIS_CLUSTER_NODES: entries(SANDBOX_USER, SANDBOX_PASSWORD),
      // Both listeners on (their stores are what is checked), admin off.
      SANDBOX_PORT: '0',
      LIVE_PORT: '0',
    });
    const live = stores.live!;
    const sandbox = stores.sandbox!;
    await pollUntil(() => Promise.all([live.ping(), sandbox.ping()]).then(() => true), (ok) => ok, { what: 'both stores ready' });

    // Each writes and reads its own keys on every node: its user allows exactly its namespace.
    const sites = Array.from({ length: 24 }, (_, i) => `site_${i}`);
    for (const site of sites) {
      await live.write([{ op: 'set', key: `{${site}}:k`, value: `live-${site}`, ttlMs: 60_000 }]);
      await sandbox.write([{ op: 'set', key: `{${site}}:k`, value: `sandbox-${site}`, ttlMs: 60_000 }]);
    }
    for (const site of sites) {
      expect(await live.get(`{${site}}:k`)).toBe(`live-${site}`);
      expect(await sandbox.get(`{${site}}:k`)).toBe(`sandbox-${site}`);
    }
    const subscriptions = await Promise.all([live.subscribe('invalidate', new RecordingListener()), sandbox.subscribe('invalidate', new RecordingListener())]);
    expect(subscriptions.map((sub) => sub.active)).toEqual([true, true]);
    expect((await subscribedUsers()).sort()).toEqual([SANDBOX_USER, USER].sort());
    const users = await connectedUsers();
    expect(users.filter((u) => u === SANDBOX_USER).length).toBeGreaterThanOrEqual(cluster.nodes.length + 1);
    // And nothing either user was refused.
    const log = (await Promise.all(admins.map((admin) => aclLogOf(admin)))).flat();
    expect(log.filter((entry) => entry.username === USER || entry.username === SANDBOX_USER)).toEqual([]);
    await Promise.all(subscriptions.map((sub) => sub.close()));
  }, 30_000);
});
