import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import type { Domain } from '../../src/domain';
import type { FrozenClock } from '../../src/domain/clock';
import type { Environment } from '../../src/domain/environments';
import { createGateway, type Gateway } from '../../src/gateway';
import type { MemoryBackend } from '../../src/store/memory-kv';

export interface EmbeddedGatewayOptions {
  readonly clock: FrozenClock;
  /** Share the data with another gateway (two instances over one embedded store). */
  readonly memoryBackend?: MemoryBackend;
  readonly masterKey?: Buffer;
}

/**
 * A gateway on the embedded store, built by createGateway from a Config and
 * never listening: for tests of the domain that need no HTTP. Keys are
 * under `vg:<environment>:`; the issuers are those of test/support/gateway.ts.
 */
export function embeddedGateway(options: EmbeddedGatewayOptions): Gateway & { readonly domains: Record<Environment, Domain> } {
  const config = loadConfig({
    LIVE_PORT: '0',
    SANDBOX_PORT: '0',
    ADMIN_PORT: '0',
    LIVE_PUBLIC_URL: 'https://api.verigate.test',
    SANDBOX_PUBLIC_URL: 'https://api-sandbox.verigate.test',
    VERIGATE_MASTER_KEY: (options.masterKey ?? randomBytes(32)).toString('base64'),
  });
  const gateway = createGateway(config, {
    log: pino({ level: 'silent' }),
    clock: options.clock,
    ...(options.memoryBackend && { memoryBackend: options.memoryBackend }),
  });
  return gateway as Gateway & { readonly domains: Record<Environment, Domain> };
}
