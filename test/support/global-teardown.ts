import './global-setup';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__verigateTestRedis;
  globalThis.__verigateTestRedis = undefined;
  if (server) await server.stop();
}
const t0 = Date.now();
const iv = setInterval(() => {
  console.error('RESOURCES', Date.now() - t0, process.getActiveResourcesInfo().join(','));
}, 300);
iv.unref();
