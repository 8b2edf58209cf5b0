import cluster, { type Worker } from 'node:cluster';
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { createAdminApp, createEnvironmentApp } from './app';
import { ConfigError, loadConfig, redactedConfigSummary, type Config } from './config';
import { createDomain, type Domain } from './domain';
import { systemClock } from './domain/clock';
import { ENVIRONMENTS, type Environment } from './domain/environments';
import { createLogger } from './ops/logger';
import { createMetrics } from './ops/metrics';
import { openKvStores } from './store/open-kv-stores';
import { createRateLimits } from './http/rate-limits';
import type { KvStore as Store } from './store/kv';

/**
 * The only file that reads process.env, connects and listens.
 *
 * With `WORKERS` above 1 this process is the primary of Node's cluster
 * module: it forks the workers (each one a whole gateway on the same ports,
 * which the primary shares out), restarts one that dies, and drains them
 * all on SIGTERM. With `WORKERS=1` it is the gateway itself.
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
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, log);
    return;
  }
  await serve(config, cluster.isWorker ? log.child({ worker: cluster.worker?.id }) : log);
}

/** Restart backoff for a worker that died: 100 ms, doubling, at most 10 s. */
const RESTART_BACKOFF_MS = { first: 100, max: 10_000 } as const;
/** A worker that lived this long resets the backoff. */
const HEALTHY_UPTIME_MS = 30_000;

/**
 * The cluster primary: serves nothing itself. Workers inherit the
 * environment (so the same configuration) and listen on the configured
 * ports; Node's cluster module shares each port between them.
 */
function runPrimary(config: Config, log: Logger): void {
  let stopping = false;
  let failures = 0;
  const startedAt = new Map<number, number>();

  const fork = (): void => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.once('online', () => log.info({ workerId: worker.id, workerPid: worker.process.pid }, 'worker started'));
  };

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const uptime = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (stopping) {
      log.info({ workerId: worker.id, workerPid: worker.process.pid, code, signal }, 'worker stopped');
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log.info('stopped');
        log.flush?.();
        process.exit(0);
      }
      return;
    }
    failures = uptime >= HEALTHY_UPTIME_MS ? 1 : failures + 1;
    const delay = Math.min(RESTART_BACKOFF_MS.first * 2 ** (failures - 1), RESTART_BACKOFF_MS.max);
    log.error({ workerId: worker.id, workerPid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    log.info({ signal, workers: workers.length }, 'draining workers');
    if (workers.length === 0) {
      log.flush?.();
      process.exit(0);
    }
    // Each worker drains itself (SHUTDOWN_GRACE_MS) and exits; past that and a margin, stop waiting.
    for (const worker of workers) worker.process.kill('SIGTERM');
    setTimeout(() => {
      log.error('workers did not exit in time; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      log.flush?.();
      process.exit(1);
    }, config.shutdownGraceMs + 5000).unref();
  };
  // A terminal's Ctrl-C reaches the workers too; they drain once either way.
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  log.info({ config: redactedConfigSummary(config), workers: config.workers }, 'verigate primary started');
  for (let i = 0; i < config.workers; i++) fork();
}

/** One whole gateway: stores, domains, listeners; drains on SIGTERM. */
async function serve(config: Config, log: Logger): Promise<void> {
  const metrics = createMetrics();
  const openapiYaml = readFileSync(resolve(__dirname, '..', 'openapi.yaml'), 'utf8');
  const sdkPath = resolve(__dirname, '..', 'dist', 'sdk', 'verigate.js');
  const sdkScript = existsSync(sdkPath) ? readFileSync(sdkPath, 'utf8') : null;

  let lastStoreError = 0;
  const stores = openKvStores(config, { onError: (err, env) => {
    metrics.storeErrors.inc({ environment: env });
    // One line a second at most: a dead Redis must not flood the log.
    if (Date.now() - lastStoreError > 1000) {
      lastStoreError = Date.now();
      log.warn({ environment: env, err: err.message }, 'store connection error');
    }
  } });
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
  const servers: { name: string; server: Server; responses: Set<ServerResponse> }[] = [];
  const listen = async (name: string, app: Parameters<typeof createServer>[1], port: number, host?: string) => {
    const server = createServer(app);
    server.keepAliveTimeout = 65_000;
    // Draining, every response closes its connection: after server.close(),
    // Node keeps a keep-alive connection whose request was in flight open
    // until keepAliveTimeout, which would hold the drain for the whole grace
    // period. A response already under way at SIGTERM cannot say so any
    // more; its connection is closed once it has been sent.
    const responses = new Set<ServerResponse>();
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (draining) res.setHeader('Connection', 'close');
      responses.add(res);
      res.once('close', () => {
        responses.delete(res);
        if (draining) server.closeIdleConnections();
      });
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => ok());
    });
    servers.push({ name, server, responses });
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
  // Every worker logs its start; only the first prints the banner.
  if (!cluster.isWorker || cluster.worker?.id === 1) process.stderr.write(`${banner.join('\n')}\n\n`);

  const shutdown = async (signal: string): Promise<void> => {
    if (draining) return;
    draining = true;
    log.info({ signal }, 'draining');
    const force = setTimeout(() => {
      log.error('grace period over; closing remaining connections');
      for (const { server } of servers) server.closeAllConnections();
    }, config.shutdownGraceMs);
    force.unref();
    for (const { responses } of servers) {
      for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
    }
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
