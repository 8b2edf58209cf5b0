import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { isLoopbackHost, redactedConfigSummary, type Config } from '../config';
import { ENVIRONMENTS } from '../domain/environments';
import { createGateway } from '../gateway';

/**
 * One whole gateway in this process (WORKERS=1, or one worker of the
 * cluster): build it, start its subscriptions, listen, print the banner to
 * stderr, and drain on SIGTERM/SIGINT.
 */
export async function serve(config: Config, log: Logger): Promise<void> {
  const gateway = createGateway(config, { log });
  await gateway.start();
  const urls = await gateway.listen();

  log.info({ config: redactedConfigSummary(config) }, 'verigate started');
  const lines = ENVIRONMENTS.flatMap((env) =>
    urls[env] ? [`${env.padEnd(8)} ${urls[env]}  (iss ${config.publicUrls[env]})`] : [],
  );
  if (urls.admin) lines.push(`admin    ${urls.admin}`, `console  ${urls.admin}/console/  (sign in with an admin token)`);
  const banner = ['', 'verigate is listening:', ...lines.map((u) => `  ${u}`)];
  if (config.store.kind === 'embedded') {
    banner.push(
      '',
      '  !!! EMBEDDED STORE: nothing persists. Sites, keys, users and sessions vanish when this process exits.',
      '  !!! Set REDIS_URL (with VERIGATE_MASTER_KEY and VERIGATE_ADMIN_TOKEN) for anything but a try-out.',
    );
  }
  if (urls.admin && !isLoopbackHost(config.adminHost)) {
    // The admin API (and its console) answer anyone who can reach this address: say so, on both streams.
    log.warn({ adminHost: config.adminHost }, 'ADMIN_HOST is not a loopback address: the admin listener is reachable from the network');
    banner.push(
      '',
      `  !!! ADMIN_HOST=${config.adminHost} is not a loopback address: the admin API and console are reachable from the network.`,
      '  !!! Keep it on 127.0.0.1 and reach it over SSH or a private network, or firewall it.',
    );
  }
  if (config.adminTokenGenerated) {
    // Printed to the terminal once, never to the log stream.
    banner.push('', `  Admin token (generated for this run): ${config.adminToken}`);
  }
  // Every worker logs its start; only the first prints the banner.
  if (!cluster.isWorker || cluster.worker?.id === 1) process.stderr.write(`${banner.join('\n')}\n\n`);

  const shutdown = async (signal: string): Promise<void> => {
    if (gateway.draining) return;
    log.info({ signal }, 'draining');
    await gateway.drain();
    log.info('stopped');
    log.flush?.();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
