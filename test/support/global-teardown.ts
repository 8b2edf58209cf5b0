import './global-setup';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__verigateTestRedis;
  const cluster = globalThis.__verigateTestRedisCluster;
  globalThis.__verigateTestRedis = undefined;
  globalThis.__verigateTestRedisCluster = undefined;
  await Promise.all([server?.stop(), cluster?.stop()]);
}
