import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createAdminApp, createEnvironmentApp } from './app';
import { ConfigError, loadConfig, redactedConfigSummary, type Config } from './config';
import { createDomain, type Domain } from './domain';
import { systemClock } from './domain/clock';
import { ENVIRONMENTS, type Environment } from './domain/environments';
import { createLogger } from './ops/logger';
import { createMetrics } from './ops/metrics';
import { openStores } from './store/open-stores';
import { createRateLimits } from './http/rate-limits';
import type { Store } from './store/store';

/**
 * The only file that reads process.env, connects and listens.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`verigate: invalid configuration\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const openapiYaml = readFileSync(resolve(__dirname, '..', 'openapi.yaml'), 'utf8');
  const sdkPath = resolve(__dirname, '..', 'dist', 'sdk', 'verigate.js');
  const sdkScript = existsSync(sdkPath) ? readFileSync(sdkPath, 'utf8') : null;

  let lastStoreError = 0;
  const stores = openStores(config, (err, env) => {
    metrics.storeErrors.inc({ environment: env });
    // One line a second at most: a dead Redis must not flood the log.
    if (Date.now() - lastStoreError > 1000) {
      lastStoreError = Date.now();
      log.warn({ environment: env, err: err.message }, 'store connection error');
    }
  });
  const served = ENVIRONMENTS.filter((env) => stores[env] !== undefined);
  const domains = Object.fromEntries(
    served.map((environment) => [
      environment,
      createDomain({
        environment,
        store: stores[environment] as Store,
        masterKey: config.masterKey,
        publicUrl: config.publicUrls[environment],
        clock: systemClock,
        onBackgroundError: (err, what) =>
          log.warn({ environment, what, err: err instanceof Error ? err.message : String(err) }, 'background write failed'),
      }),
    ]),
  ) as Partial<Record<Environment, Domain>>;
  await Promise.all(served.map((env) => domains[env]?.start()));

  let draining = false;
  const isDraining = (): boolean => draining;
  const servers: { name: string; server: Server }[] = [];
  const listen = async (name: string, app: Parameters<typeof createServer>[1], port: number, host?: string) => {
    const server = createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => ok());
    });
    servers.push({ name, server });
    const address = server.address() as AddressInfo;
    return `http://${host ?? 'localhost'}:${address.port}`;
  };

  const urls: string[] = [];
  for (const env of ENVIRONMENTS) {
    const port = config.listeners[env];
    const domain = domains[env];
    if (port === null || !domain) continue;
    const app = createEnvironmentApp({
      domain,
      rateLimits: createRateLimits(domain.store),
      log: log.child({ listener: env }),
      metrics,
      openapiYaml,
      sdkScript,
      draining: isDraining,
    });
    urls.push(`${env.padEnd(8)} ${await listen(env, app, port)}  (iss ${config.publicUrls[env]})`);
  }
  if (config.listeners.admin !== null) {
    const app = createAdminApp({
      domains,
      adminToken: config.adminToken,
      log: log.child({ listener: 'admin' }),
      metrics,
      openapiYaml,
      draining: isDraining,
    });
    urls.push(`admin    ${await listen('admin', app, config.listeners.admin, config.adminHost)}`);
  }

  log.info({ config: redactedConfigSummary(config) }, 'verigate started');
  const banner = ['', 'verigate is listening:', ...urls.map((u) => `  ${u}`)];
  if (config.store.kind === 'embedded') {
    banner.push(
      '',
      '  !!! EMBEDDED STORE: nothing persists. Sites, keys, users and sessions vanish when this process exits.',
      '  !!! Set REDIS_URL (with VERIGATE_MASTER_KEY and VERIGATE_ADMIN_TOKEN) for anything but a try-out.',
    );
  }
  if (config.adminTokenGenerated) {
    // Printed to the terminal once, never to the log stream.
    banner.push('', `  Admin token (generated for this run): ${config.adminToken}`);
  }
  process.stderr.write(`${banner.join('\n')}\n\n`);

  const shutdown = async (signal: string): Promise<void> => {
    if (draining) return;
    draining = true;
    log.info({ signal }, 'draining');
    const force = setTimeout(() => {
      log.error('grace period over; closing remaining connections');
      for (const { server } of servers) server.closeAllConnections();
    }, config.shutdownGraceMs);
    force.unref();
    await Promise.all(
      servers.map(
        ({ server }) =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      ),
    );
    clearTimeout(force);
    await Promise.allSettled(served.map((env) => domains[env]?.stop()));
    await Promise.allSettled(served.map((env) => stores[env]?.close()));
    log.info('stopped');
    log.flush?.();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`verigate failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
