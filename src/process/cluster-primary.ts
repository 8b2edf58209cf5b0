import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { redactedConfigSummary, type Config } from '../config';

/** Restart backoff for a worker that died: 100 ms, doubling, at most 10 s. */
const RESTART_BACKOFF_MS = { first: 100, max: 10_000 } as const;
/** A worker that lived this long resets the backoff. */
const HEALTHY_UPTIME_MS = 30_000;

/**
 * The cluster primary: serves nothing itself. Workers inherit the
 * environment (so the same configuration) and listen on the configured
 * ports; Node's cluster module shares each port between them.
 */
export function runPrimary(config: Config, log: Logger): void {
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
