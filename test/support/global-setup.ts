import { parseClusterNodes, startRedisCluster, type RedisClusterHandle } from './redis-cluster';
import { aclAllowed } from './redis-acl';
import { startRedisServer, type RedisServerHandle } from './redis-server';

declare global {
  // Shared with global-teardown.ts (same process).
  var __verigateTestRedis: RedisServerHandle | undefined;
  var __verigateTestRedisCluster: RedisClusterHandle | undefined;
}

/**
 * A Redis the user gave (REDIS_URL, TEST_REDIS_CLUSTER_NODES) that refuses
 * ACL SETUSER: the gateways cannot run as restricted ACL users there, so the
 * ACL isolation proof (test/support/redis-acl.ts) cannot run. Under CI=true
 * that fails the whole run, loudly; elsewhere it is one warning, and
 * `flag` tells test/support/redis-acl.ts not to try again.
 */
function aclRefused(what: string, flag: 'TEST_REDIS_ACL' | 'TEST_REDIS_CLUSTER_ACL'): void {
  const why = `${what} refuses ACL SETUSER, so the gateways cannot run as restricted per-environment ACL users and the ACL isolation proof cannot run`;
  if (process.env.CI === 'true') {
    throw new Error(
      `\n\n${why}.\nUnder CI=true the proof must run: unset ${what} so the tests start their own Redis, or give it a user allowed ACL SETUSER.\n`,
    );
  }
  process.env[flag] = 'off';
  process.stderr.write(`\nwarning: ${why}; the test gateways connect as its own user (under CI=true this fails the run)\n`);
}

/**
 * Gives every test worker a Redis in TEST_REDIS_URL: REDIS_URL when set,
 * otherwise a throwaway redis-server started here (stopped by teardown).
 *
 * With TEST_STORE=cluster it also starts a throwaway 3-master Redis Cluster
 * and sets TEST_REDIS_CLUSTER_NODES (unless that is set already), and
 * test/support/gateway.ts runs every gateway on it, as restricted ACL users
 * created on every node.
 */
export default async function globalSetup(): Promise<void> {
  // The checks that can fail the run come first, before anything is started.
  const given = process.env.REDIS_URL;
  if (given && !(await aclAllowed(given))) aclRefused('REDIS_URL', 'TEST_REDIS_ACL');
  const givenNodes = process.env.TEST_STORE === 'cluster' ? process.env.TEST_REDIS_CLUSTER_NODES : undefined;
  if (givenNodes) {
    process.env.TEST_REDIS_CLUSTER_GIVEN = '1';
    if (!(await aclAllowed({ clusterNodes: parseClusterNodes(givenNodes) }))) aclRefused('TEST_REDIS_CLUSTER_NODES', 'TEST_REDIS_CLUSTER_ACL');
  }

  if (process.env.TEST_STORE === 'cluster' && !givenNodes) {
    const cluster = await startRedisCluster();
    globalThis.__verigateTestRedisCluster = cluster;
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesEnv;
  }
  if (given) {
    // Gateways run as restricted ACL users (test/support/redis-acl.ts) wherever the server allows creating them.
    process.env.TEST_REDIS_URL = given;
    return;
  }
  const server = await startRedisServer();
  globalThis.__verigateTestRedis = server;
  process.env.TEST_REDIS_URL = server.url;
  // Our own Redis 7: every gateway on it must run as restricted ACL users (test/support/redis-acl.ts).
  process.env.TEST_REDIS_OWNED = '1';
}
