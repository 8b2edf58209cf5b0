import { startRedisCluster, type RedisClusterHandle } from './redis-cluster';
import { aclAllowed } from './redis-acl';
import { startRedisServer, type RedisServerHandle } from './redis-server';

declare global {
  // Shared with global-teardown.ts (same process).
  var __verigateTestRedis: RedisServerHandle | undefined;
  var __verigateTestRedisCluster: RedisClusterHandle | undefined;
}

/**
 * Gives every test worker a Redis in TEST_REDIS_URL: REDIS_URL when set,
 * otherwise a throwaway redis-server started here (stopped by teardown).
 *
 * With TEST_STORE=cluster it also starts a throwaway 3-master Redis Cluster
 * and sets TEST_REDIS_CLUSTER_NODES (unless that is set already), and
 * test/support/gateway.ts runs every gateway on it.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_STORE === 'cluster' && !process.env.TEST_REDIS_CLUSTER_NODES) {
    const cluster = await startRedisCluster();
    globalThis.__verigateTestRedisCluster = cluster;
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesEnv;
  }
  const given = process.env.REDIS_URL;
  if (given) {
    process.env.TEST_REDIS_URL = given;
    // Gateways run as restricted ACL users (test/support/redis-acl.ts), where the server allows creating them.
    if (!(await aclAllowed(given))) {
      process.env.TEST_REDIS_ACL = 'off';
      process.stderr.write(
        '\nwarning: REDIS_URL refuses ACL SETUSER: the test gateways connect as its own user, without the ACL isolation proof\n',
      );
    }
    return;
  }
  const server = await startRedisServer();
  globalThis.__verigateTestRedis = server;
  process.env.TEST_REDIS_URL = server.url;
  // Our own Redis 7: every gateway on it must run as restricted ACL users (test/support/redis-acl.ts).
  process.env.TEST_REDIS_OWNED = '1';
}
