import './global-setup';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__verigateTestRedis;
  globalThis.__verigateTestRedis = undefined;
  if (server) await server.stop();
}
