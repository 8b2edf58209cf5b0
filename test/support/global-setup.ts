import { startRedisServer, type RedisServerHandle } from './redis-server';

declare global {
  // Shared with global-teardown.ts (same process).
  var __verigateTestRedis: RedisServerHandle | undefined;
}

/**
 * Gives every test worker a Redis in TEST_REDIS_URL: REDIS_URL when set,
 * otherwise a throwaway redis-server started here (stopped by teardown).
 */
export default async function globalSetup(): Promise<void> {
  const given = process.env.REDIS_URL;
  if (given) {
    process.env.TEST_REDIS_URL = given;
    return;
  }
  const server = await startRedisServer();
  globalThis.__verigateTestRedis = server;
  process.env.TEST_REDIS_URL = server.url;
}
