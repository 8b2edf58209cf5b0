import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config';
import { createDomain, type Domain } from './domain';
import { AdminAccess } from './domain/admin-access';
import { loadConsoleAssets } from './http/console-assets';
import { systemClock, type Clock } from './domain/clock';
import { createWebhookTransport } from './http/webhook-transport';
import { ENVIRONMENTS, type Environment } from './domain/environments';
import { createAdminListener, createEnvironmentListener, type BuiltListener } from './http/listeners';
import { clientAddressResolver } from './http/client-address';
import { Pipeline } from './http/pipeline';
import { createAdminRateLimit, createRateLimits, type RateLimitName } from './http/rate-limits';
import { createLogger } from './ops/logger';
import { createMetrics, type Metrics } from './ops/metrics';
import type { KvStore } from './store/kv';
import type { MemoryBackend } from './store/memory-kv';
import { openKvStores } from './store/open-kv-stores';
import { createRecordStores, type RecordStores } from './store/records';
import type { RedisClientOptions } from './store/redis-connections';

/** The three listeners: one per environment, and the admin API. */
export type Listener = Environment | 'admin';
export const LISTENERS: readonly Listener[] = [...ENVIRONMENTS, 'admin'];

/**
 * Seams for tests and operations. Everything else comes from the Config.
 */
export interface GatewayOptions {
  /** Where log lines go (default: JSON lines on stdout at `config.logLevel`). */
  readonly log?: Logger;
  /** The domain's clock (default: the system clock). The embedded store measures its TTLs with it too. */
  readonly clock?: Clock;
  /** Embedded store only: the data, to share it between two gateways in one process. */
  readonly memoryBackend?: MemoryBackend;
  /** Redis only: extra client options (ioredis overrides, connect timeout) over the configured command timeout. */
  readonly redis?: RedisClientOptions;
  /** Where the built console is (scripts/build-console.js); default dist/console. */
  readonly consoleAssetsDir?: string;
  /** How often each environment's exchange counts go to the store (default 1000 ms). */
  readonly exchangeCountsFlushMs?: number;
  /**
   * How long a client has for its request headers, and for the whole
   * request with its body (SPEC §7: 10 s each, default). Tests shorten them
   * rather than wait.
   */
  readonly httpTimeouts?: { readonly headersMs: number; readonly requestMs: number };
}

/** A whole gateway, built but not yet listening (see {@link createGateway}). */
export interface Gateway {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The environments this process serves (those with a store). */
  readonly environments: readonly Environment[];
  readonly domains: Readonly<Partial<Record<Environment, Domain>>>;
  /** The key-value store of each environment (tests read it to see what is stored). */
  readonly stores: Readonly<Partial<Record<Environment, KvStore>>>;
  /** The ports of each environment, on its store. */
  readonly records: Readonly<Partial<Record<Environment, RecordStores>>>;
  /** One node:http server per enabled listener, created but not listening until {@link Gateway.listen}. */
  readonly servers: Readonly<Partial<Record<Listener, Server>>>;
  /** What each listener is made of: its pipeline, its Express app, its route table. */
  readonly listeners: Readonly<Partial<Record<Listener, BuiltListener>>>;
  /** True from the first call to drain() or close(): readiness answers 503. */
  readonly draining: boolean;
  /** Background work: the invalidation subscriptions (they retry by themselves while the store is down). */
  start(): Promise<void>;
  /** Listens on the configured ports (`0`: an ephemeral one); resolves with each listener's URL. */
  listen(): Promise<Readonly<Partial<Record<Listener, string>>>>;
  /**
   * SIGTERM: stop accepting, let in-flight requests finish (every response
   * from now on closes its connection), then close the stores. After
   * `config.shutdownGraceMs`, remaining connections are closed anyway.
   */
  drain(): Promise<void>;
  /** Stops at once: every connection closed, subscriptions and stores closed. */
  close(): Promise<void>;
}

const SLOT = Symbol('verigate.inFlightSlot');

/**
 * The responses of one server still under way: an array with swap-remove,
 * the slot kept on the response. Not a Set: with one add and one delete per
 * request, a Set of responses made V8 promote every request's objects to
 * the old generation (about 5 KB a request; scavenges of 5-7 ms instead of
 * ~1 ms, a major GC every second or two under load; `npm run bench`).
 */
export class InFlightResponses {
  private readonly responses: (ServerResponse & { [SLOT]?: number })[] = [];

  add(res: ServerResponse & { [SLOT]?: number }): void {
    res[SLOT] = this.responses.length;
    this.responses.push(res);
  }

  delete(res: ServerResponse & { [SLOT]?: number }): void {
    const slot = res[SLOT];
    if (slot === undefined || this.responses[slot] !== res) return;
    const last = this.responses.pop() as ServerResponse & { [SLOT]?: number };
    if (last !== res) {
      this.responses[slot] = last;
      last[SLOT] = slot;
    }
    res[SLOT] = undefined;
  }

  all(): readonly ServerResponse[] {
    return [...this.responses];
  }
}

const OPENAPI_PATH = resolve(__dirname, '..', 'openapi.yaml');
// The browser SDK script, as @verigate/browser builds it (scripts/build-sdk.js).
const SDK_PATH = resolve(__dirname, '..', 'packages', 'browser', 'dist', 'verigate.js');
const CONSOLE_DIR = resolve(__dirname, '..', 'dist', 'console');
/** How often each instance adds the exchanges it counted to the store (the console's chart). */
const EXCHANGE_COUNTS_FLUSH_MS = 1000;
/** Longer than any load balancer's idle timeout (AWS ALB: 60 s), so the balancer closes first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** SPEC §7: headers within 10 s, and the body within 10 s (the whole request, as Node's requestTimeout counts it). */
const HTTP_TIMEOUTS = { headersMs: 10_000, requestMs: 10_000 } as const;

/**
 * Builds everything one gateway process runs, from `config`: the key-value
 * store of each environment, the record stores on it (the domain's ports),
 * the domains, rate limits, metrics, and the three HTTP listeners
 * (node:http servers, created but not listening). main.ts calls it, and so
 * does every test that starts a gateway in-process.
 *
 * @example
 * ```ts
 * const gateway = createGateway(loadConfig(process.env));
 * await gateway.start();
 * const urls = await gateway.listen();
 * process.once('SIGTERM', () => void gateway.drain().then(() => process.exit(0)));
 * ```
 */
export function createGateway(config: Config, options: GatewayOptions = {}): Gateway {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const openapiYaml = readFileSync(OPENAPI_PATH, 'utf8');
  const sdkScript = existsSync(SDK_PATH) ? readFileSync(SDK_PATH, 'utf8') : null;

  let lastStoreError = 0;
  const stores = openKvStores(config, {
    onError: (err, env) => {
      metrics.storeErrors.inc({ environment: env });
      // One line a second at most: a dead Redis must not flood the log.
      if (Date.now() - lastStoreError > 1000) {
        lastStoreError = Date.now();
        log.warn({ environment: env, err: err.message }, 'store connection error');
      }
    },
    ...(options.memoryBackend && { memoryBackend: options.memoryBackend }),
    ...(options.clock && { now: () => clock.now() }),
    ...(options.redis && { redis: options.redis }),
  });
  const environments = ENVIRONMENTS.filter((env) => stores[env] !== undefined);
  const webhookTransport = createWebhookTransport({ allowPrivateTargets: config.webhookAllowPrivateTargets });
  const records: Partial<Record<Environment, RecordStores>> = {};
  const domains: Partial<Record<Environment, Domain>> = {};
  for (const environment of environments) {
    const kv = stores[environment] as KvStore;
    const onBackgroundError = (err: unknown, what: string): void =>
      log.warn({ environment, what, err: err instanceof Error ? err.message : String(err) }, 'background write failed');
    const eventRetentionMs = config.eventRetentionHours * 3600 * 1000;
    const ports = createRecordStores(kv, { clock, onBackgroundError, eventRetentionMs });
    records[environment] = ports;
    domains[environment] = createDomain({
      environment,
      stores: ports,
      masterKey: config.masterKey,
      publicUrl: config.publicUrls[environment],
      clock,
      maxSessionsPerUser: config.maxSessionsPerUser,
      onBackgroundError,
      eventRetentionMs,
      webhooks: {
        transport: webhookTransport,
        allowPrivateTargets: config.webhookAllowPrivateTargets,
        ...(config.webhookRetrySchedule && { retrySchedule: config.webhookRetrySchedule }),
      },
    });
  }

  const access = new AdminAccess({
    rootToken: config.adminToken,
    masterKey: config.masterKey,
    clock,
    stores: Object.fromEntries(environments.map((env) => [env, records[env] as RecordStores])),
    siteExists: async (env, siteId) => (await domains[env]?.sites.findSite(siteId)) != null,
  });
  const consoleAssets = loadConsoleAssets(options.consoleAssetsDir ?? CONSOLE_DIR);
  let flushTimer: NodeJS.Timeout | null = null;
  const flushExchangeCounts = (): Promise<unknown> =>
    Promise.all(
      environments.map((env) =>
        domains[env]?.exchangeStats
          .flush()
          .catch((err: unknown) => log.warn({ environment: env, err: err instanceof Error ? err.message : String(err) }, 'exchange counts not written')),
      ),
    );

  let draining = false;
  const isDraining = (): boolean => draining;
  const servers: Partial<Record<Listener, Server>> = {};
  const listeners: Partial<Record<Listener, BuiltListener>> = {};
  /** Responses not yet finished, per server: draining must tell them to close their connection. */
  const inFlight = new Map<Server, InFlightResponses>();
  const timeouts = options.httpTimeouts ?? HTTP_TIMEOUTS;
  const clientAddressOf = clientAddressResolver(config.trustProxy);
  const rateLimitedLabels = new Map<string, { environment: string; limit: RateLimitName }>();
  const countRateLimited = (listener: Listener) => (limit: RateLimitName): void => {
    const key = `${listener}:${limit}`;
    let labels = rateLimitedLabels.get(key);
    if (!labels) rateLimitedLabels.set(key, (labels = { environment: listener, limit }));
    metrics.rateLimited.inc(labels);
  };
  const serve = (listener: Listener, built: BuiltListener): void => {
    const server = createServer({
      headersTimeout: timeouts.headersMs,
      requestTimeout: Math.max(timeouts.requestMs, timeouts.headersMs),
      // How often Node looks for requests past those timeouts (default 30 s: far too coarse for 10 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
    }, built.requestListener);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Node's own refusals (malformed, headers too large, too slow) as problem+json.
    server.on('clientError', built.pipeline.onClientError);
    // Draining, every response closes its connection: after server.close(),
    // Node keeps a keep-alive connection whose request was in flight open
    // until keepAliveTimeout, which would hold the drain for the whole grace
    // period. A response already under way at SIGTERM cannot say so any
    // more; its connection is closed once it has been sent.
    const responses = new InFlightResponses();
    function settled(this: ServerResponse): void {
      responses.delete(this);
      if (draining) server.closeIdleConnections();
    }
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (draining) res.setHeader('Connection', 'close');
      responses.add(res);
      // 'close' comes once per response: `on` spares the wrapper `once` makes.
      res.on('close', settled);
    });
    inFlight.set(server, responses);
    servers[listener] = server;
  };

  for (const env of environments) {
    if (config.listeners[env] === null) continue;
    const kv = stores[env] as KvStore;
    const listenerLog = log.child({ listener: env });
    const built = createEnvironmentListener({
      domain: domains[env] as Domain,
      health: (records[env] as RecordStores).health,
      pipeline: new Pipeline(env, listenerLog, metrics, { clientAddressOf }),
      rateLimits: createRateLimits((o) => kv.rateLimiter(o), config.rateLimits, countRateLimited(env)),
      log: listenerLog,
      metrics,
      openapiYaml,
      sdkScript,
      draining: isDraining,
    });
    listeners[env] = built;
    serve(env, built);
  }
  if (config.listeners.admin !== null) {
    const adminStore = environments.length > 0 ? stores[environments[0] as Environment] : undefined;
    const built = createAdminListener({
      clientAddressOf,
      ...(adminStore && {
        adminFailures: createAdminRateLimit((o) => adminStore.rateLimiter(o), config.rateLimits, countRateLimited('admin')),
      }),
      domains,
      health: environments.map((env) => (records[env] as RecordStores).health),
      access,
      publicUrls: config.publicUrls,
      consoleAssets,
      log: log.child({ listener: 'admin' }),
      metrics,
      openapiYaml,
      draining: isDraining,
    });
    listeners.admin = built;
    serve('admin', built);
  }

  const closeServers = (): Promise<void[]> =>
    Promise.all(
      Object.values(servers).map(
        (server) =>
          new Promise<void>((done) => {
            // A server that never listened answers ERR_SERVER_NOT_RUNNING: closed all the same.
            server.close(() => done());
            server.closeIdleConnections();
          }),
      ),
    );
  let stopped: Promise<void> | null = null;
  /** Open event streams never end by themselves: they are closed before the servers, or the servers never close. */
  const closeEventStreams = (): Promise<unknown> =>
    Promise.allSettled(environments.flatMap((env) => [domains[env]?.events.stop(), domains[env]?.webhookWorker.stop()]));
  const stopStores = async (): Promise<void> => {
    if (flushTimer) clearInterval(flushTimer);
    flushTimer = null;
    await flushExchangeCounts();
    await Promise.allSettled(environments.map((env) => records[env]?.stop()));
    await Promise.allSettled(environments.map((env) => stores[env]?.close()));
  };

  return {
    config,
    log,
    metrics,
    environments,
    domains,
    stores,
    records,
    servers,
    listeners,
    get draining() {
      return draining;
    },
    async start() {
      await Promise.all(environments.map((env) => records[env]?.start()));
      // Webhook deliveries run in the background of every instance, never inside a request.
      await Promise.all(environments.map((env) => domains[env]?.webhookWorker.start()));
      if (!flushTimer) {
        flushTimer = setInterval(() => void flushExchangeCounts(), options.exchangeCountsFlushMs ?? EXCHANGE_COUNTS_FLUSH_MS);
        flushTimer.unref();
      }
    },
    async listen() {
      const urls: Partial<Record<Listener, string>> = {};
      for (const listener of LISTENERS) {
        const server = servers[listener];
        if (!server) continue;
        const port = config.listeners[listener] as number;
        const host = listener === 'admin' ? config.adminHost : undefined;
        await new Promise<void>((ok, fail) => {
          server.once('error', fail);
          server.listen(port, host, () => {
            server.off('error', fail);
            ok();
          });
        });
        // Environment listeners bind every interface; their URL names the loopback one.
        urls[listener] = `http://${host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
      }
      return urls;
    },
    drain() {
      if (stopped) return stopped;
      draining = true;
      stopped = (async () => {
        const force = setTimeout(() => {
          log.error('grace period over; closing remaining connections');
          for (const server of Object.values(servers)) server.closeAllConnections();
        }, config.shutdownGraceMs);
        force.unref();
        for (const responses of inFlight.values()) {
          for (const res of responses.all()) if (!res.headersSent) res.setHeader('Connection', 'close');
        }
        await closeEventStreams();
        await closeServers();
        clearTimeout(force);
        await stopStores();
      })();
      return stopped;
    },
    close() {
      if (stopped) return stopped;
      draining = true;
      stopped = (async () => {
        await closeEventStreams();
        for (const server of Object.values(servers)) server.closeAllConnections();
        await closeServers();
        await stopStores();
      })();
      return stopped;
    },
  };
}
