import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './ops/logger';
import { runPrimary } from './process/cluster-primary';
import { serve } from './process/serve';

/**
 * The only file that reads process.env. With `WORKERS` above 1 this process
 * is the primary of Node's cluster module (src/process/cluster-primary.ts:
 * it forks the workers, each one a whole gateway on the same ports);
 * otherwise, and in each worker, it is the gateway itself
 * (src/process/serve.ts, over createGateway).
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

main().catch((err: unknown) => {
  process.stderr.write(`verigate failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
