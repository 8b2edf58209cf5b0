import { randomBytes } from 'node:crypto';
import request from 'supertest';
import pino, { type Logger } from 'pino';
import { loadConfig, type RateLimitConfig } from '../../src/config';
import type { Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import { ENVIRONMENTS, type Environment } from '../../src/domain/environments';
import { createGateway, type Gateway } from '../../src/gateway';
import type { KvStore as Store } from '../../src/store/kv';
import { MemoryBackend } from '../../src/store/memory-kv';
import type { RecordStores } from '../../src/store/records';
import type { RedisClientOptions } from '../../src/store/redis-connections';
import { testRedisUrl, uniquePrefix } from './redis';
import { GatewayAclUsers } from './redis-acl';
import { expectResponseToMatchSpec } from './openapi';
import { testRedisClusterNodes } from './redis-cluster';
import { pollUntil } from './poll';

/**
 * `redis`: the test Redis (TEST_REDIS_URL); `cluster`: the test Redis Cluster
 * (TEST_REDIS_CLUSTER_NODES, started by global-setup with TEST_STORE=cluster).
 * Default: `cluster` under TEST_STORE=cluster (unless `redisUrl` is given), else `redis`.
 */
export type StoreKind = 'redis' | 'memory' | 'cluster';

/** A rate limit a test sets: every limit is a count per minute, so `durationSeconds` can only be 60. */
export interface TestRateLimit {
  points: number;
  durationSeconds: number;
}

export interface GatewayOptions {
  store?: StoreKind;
  /** Redis URL (default: the test Redis). */
  redisUrl?: string;
  /** Key prefix (default: unique per gateway). Two gateways with one prefix share data, like two instances. */
  prefix?: string;
  /** Share an embedded backend between gateways (memory store). */
  memoryBackend?: MemoryBackend;
  masterKey?: Buffer;
  clock?: FrozenClock;
  /** Rate limits, through the config (default: generous, so tests from one address are not limited). */
  rateLimits?: Partial<Record<keyof typeof RATE_LIMIT_VARIABLES, TestRateLimit>>;
  /** `TRUST_PROXY`, as an operator writes it (default unset). */
  trustProxy?: string;
  /** Header and whole-request timeouts of the listeners (default SPEC §7's 10 s each); tests shorten them rather than wait. */
  httpTimeouts?: { headersMs: number; requestMs: number };
  /** Where the gateway logs (default: nowhere). */
  log?: Logger;
  /** Redis client options: `commandTimeoutMs` goes to the config (REDIS_COMMAND_TIMEOUT_MS), the rest to createGateway. */
  redisOverrides?: RedisClientOptions;
  /**
   * Connect each environment's store as its own restricted Redis ACL user,
   * created for this gateway on the Redis or on every cluster node (default
   * true; see test/support/redis-acl.ts). Falls back to the URL's user, with
   * one warning, only where a Redis the user gave refuses ACL SETUSER, and
   * never under CI=true.
   */
  acl?: boolean;
  /** Wait until both stores answer before returning (default true; false for a gateway started with its Redis down). */
  awaitStores?: boolean;
  /** The built console to serve (test/support/console-assets.ts buildConsoleAssets); default dist/console. */
  consoleAssetsDir?: string;
  /** How often exchange counts go to the store (default 1000 ms); a test that flushes by hand sets it long. */
  exchangeCountsFlushMs?: number;
  /** More configuration variables (e.g. WEBHOOK_RETRY_SCHEDULE), as main.ts would read them. */
  env?: Record<string, string>;
  /**
   * The store variables themselves (e.g. `REDIS_SENTINELS`, `REDIS_SENTINEL_NAME`,
   * or `REDIS_CLUSTER_NODES` of a cluster the test started), instead of the
   * test Redis; no ACL users are made (`acl` is ignored).
   */
  storeEnv?: Record<string, string>;
  /** `REDIS_MIN_REPLICAS` (default unset: 0). */
  minReplicas?: number;
  /** MAX_SESSIONS_PER_USER (default: the config's, 50). */
  maxSessionsPerUser?: number;
}

export interface TestGateway {
  readonly clock: FrozenClock;
  readonly prefix: string;
  readonly masterKey: Buffer;
  readonly adminToken: string;
  readonly domains: Record<Environment, Domain>;
  readonly stores: Record<Environment, Store>;
  /** The record stores (the domain's ports) of each environment. */
  readonly records: Record<Environment, RecordStores>;
  readonly urls: Record<Environment | 'admin', string>;
  /** The gateway itself, as createGateway built it. */
  readonly gateway: Gateway;
  /**
   * The Redis ACL users the stores connect as (null on the memory store, with
   * `acl: false`, or where a Redis the user gave refused ACL SETUSER). `close()` fails
   * when Redis refused either user a command, key or channel.
   */
  readonly acl: GatewayAclUsers | null;
  /** supertest against a listener; every response is checked against openapi.yaml by `checked`. */
  http(listener: Environment | 'admin'): ReturnType<typeof request>;
  close(): Promise<void>;
}

/** Tests come from one address: limits high enough never to trip unless a test sets its own. */
const GENEROUS_LIMITS: Partial<Record<keyof RateLimitConfig, number>> = {
  signInPerAddress: 100_000,
  failedApiKeysPerAddress: 100_000,
  signInFailuresPerSite: 100_000,
  sessionPerAddress: 100_000,
  adminFailuresPerAddress: 100_000,
};

/** The config variable of each limit a test may set. */
const RATE_LIMIT_VARIABLES = {
  signInPerIp: 'RATE_LIMIT_SIGN_IN_PER_ADDRESS',
  signInFailuresPerSite: 'RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE',
  sessionPerIp: 'RATE_LIMIT_SESSION_PER_ADDRESS',
  exchangePerApiKey: 'RATE_LIMIT_EXCHANGE_PER_API_KEY',
  failedApiKeyPerIp: 'RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS',
  adminFailuresPerIp: 'RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS',
} as const;

/** The environment a config is loaded from, for the gateway this test wants. */
function configEnv(options: GatewayOptions, parts: { prefix: string; masterKey: Buffer; adminToken: string; redis: Record<string, string> }) {
  const env: Record<string, string> = {
    LIVE_PORT: '0',
    SANDBOX_PORT: '0',
    ADMIN_PORT: '0',
    LIVE_PUBLIC_URL: 'https://api.verigate.test',
    SANDBOX_PUBLIC_URL: 'https://api-sandbox.verigate.test',
    REDIS_KEY_PREFIX: parts.prefix,
    VERIGATE_MASTER_KEY: parts.masterKey.toString('base64'),
    VERIGATE_ADMIN_TOKEN: parts.adminToken,
    RATE_LIMIT_SIGN_IN_PER_ADDRESS: String(GENEROUS_LIMITS.signInPerAddress),
    RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS: String(GENEROUS_LIMITS.failedApiKeysPerAddress),
    RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE: String(GENEROUS_LIMITS.signInFailuresPerSite),
    RATE_LIMIT_SESSION_PER_ADDRESS: String(GENEROUS_LIMITS.sessionPerAddress),
    RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS: String(GENEROUS_LIMITS.adminFailuresPerAddress),
    ...(options.trustProxy !== undefined && { TRUST_PROXY: options.trustProxy }),
    ...parts.redis,
    ...options.env,
  };
  for (const [name, limit] of Object.entries(options.rateLimits ?? {})) {
    if (limit.durationSeconds !== 60) throw new TypeError(`rateLimits.${name}: every limit is per minute (durationSeconds 60)`);
    env[RATE_LIMIT_VARIABLES[name as keyof typeof RATE_LIMIT_VARIABLES]] = String(limit.points);
  }
  if (options.maxSessionsPerUser !== undefined) env.MAX_SESSIONS_PER_USER = String(options.maxSessionsPerUser);
  if (options.redisOverrides?.commandTimeoutMs !== undefined) {
    env.REDIS_COMMAND_TIMEOUT_MS = String(options.redisOverrides.commandTimeoutMs);
  }
  return env;
}

/**
 * A whole gateway in-process, built by createGateway from a Config (as
 * main.ts builds it): live, sandbox and admin listeners on ephemeral
 * ports, over real Redis (default) or the embedded store.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  const kind = options.storeEnv
    ? 'given'
    : (options.store ?? (process.env.TEST_STORE === 'cluster' && !options.redisUrl ? 'cluster' : 'redis'));
  const prefix = options.prefix ?? uniquePrefix();
  const masterKey = options.masterKey ?? randomBytes(32);
  const clock = options.clock ?? new FrozenClock(Date.now());
  const adminToken = randomBytes(24).toString('base64url');
  const redisUrl = kind === 'redis' ? (options.redisUrl ?? testRedisUrl()) : '';
  const clusterNodes = kind === 'cluster' ? testRedisClusterNodes() : undefined;
  if (kind === 'cluster' && !clusterNodes) throw new Error('store: cluster needs TEST_REDIS_CLUSTER_NODES (run with TEST_STORE=cluster)');
  // Each environment as its own restricted ACL user: on the Redis, or on every node of the cluster.
  const aclTarget = clusterNodes ? { clusterNodes } : redisUrl;
  const acl =
    kind !== 'memory' && kind !== 'given' && options.acl !== false ? await GatewayAclUsers.provision(aclTarget, prefix) : null;
  let redis: Record<string, string> = { ...options.storeEnv };
  if (clusterNodes) {
    redis = acl
      ? { LIVE_REDIS_CLUSTER_NODES: acl.clusterNodesFor('live'), SANDBOX_REDIS_CLUSTER_NODES: acl.clusterNodesFor('sandbox') }
      : { REDIS_CLUSTER_NODES: clusterNodes.map((n) => `${n.host}:${n.port}`).join(',') };
  } else if (kind === 'redis') {
    redis = acl
      ? { LIVE_REDIS_URL: acl.urlFor('live'), SANDBOX_REDIS_URL: acl.urlFor('sandbox') }
      : { REDIS_URL: redisUrl };
  }
  if (options.minReplicas !== undefined) redis = { ...redis, REDIS_MIN_REPLICAS: String(options.minReplicas) };
  const config = loadConfig(configEnv(options, { prefix, masterKey, adminToken, redis }));
  const { commandTimeoutMs: _inConfig, ...redisOptions } = options.redisOverrides ?? {};
  const gateway = createGateway(config, {
    log: options.log ?? pino({ level: 'silent' }),
    clock,
    ...(kind === 'memory' && { memoryBackend: options.memoryBackend ?? new MemoryBackend() }),
    ...(Object.keys(redisOptions).length > 0 && { redis: redisOptions }),
    ...(options.consoleAssetsDir !== undefined && { consoleAssetsDir: options.consoleAssetsDir }),
    ...(options.exchangeCountsFlushMs !== undefined && { exchangeCountsFlushMs: options.exchangeCountsFlushMs }),
    ...(options.httpTimeouts && { httpTimeouts: options.httpTimeouts }),
  });
  await gateway.start();
  const urls = (await gateway.listen()) as Record<Environment | 'admin', string>;
  const domains = gateway.domains as Record<Environment, Domain>;
  const stores = gateway.stores as Record<Environment, Store>;
  if (kind !== 'memory' && options.awaitStores !== false) {
    // A cluster client learns its slots after start: wait until both stores answer, as a
    // load balancer waits for /readyz, so a test's first request does not meet a 503.
    for (const env of ENVIRONMENTS) {
      await pollUntil(() => stores[env].ping().then(() => true), (ok) => ok, { timeoutMs: 10_000, what: `the ${env} store to answer` });
    }
  }
  return {
    clock,
    prefix,
    masterKey,
    adminToken,
    domains,
    stores,
    records: gateway.records as Record<Environment, RecordStores>,
    urls,
    gateway,
    acl,
    http: (listener) => request(urls[listener]),
    async close() {
      await gateway.close();
      if (acl) {
        // The ACL LOG is gone with a restarted Redis, and unreadable with a dead one: check what is there.
        const denials = await acl.denials().catch(() => []);
        await acl.close();
        if (denials.length > 0) {
          throw new Error(
            `Redis refused the gateway's ACL users (REDIS_COMMANDS_USED incomplete, or a key outside the namespace): ` +
              denials.map((d) => `${d.username}: ${d.reason} ${d.object} (${d.context})`).join('; '),
          );
        }
      }
    },
  };
}

/** Asserts the response matches openapi.yaml and returns it, for chaining. */
export function checked<T extends request.Response>(res: T): T {
  expectResponseToMatchSpec(res);
  return res;
}

export interface Provisioned {
  siteId: string;
  publishableKey: string;
  identitySecret: string;
  apiKey: string;
  keyId: string;
}

/** Admin calls most tests need, each checked against openapi.yaml. */
export function adminClient(gw: TestGateway, env: Environment = 'live') {
  const auth = { Authorization: `Bearer ${gw.adminToken}` };
  const base = `/admin/v1/${env}`;
  const call = async (method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string, body?: unknown) => {
    let req = gw.http('admin')[method](`${base}${path}`).set(auth);
    if (body !== undefined) req = req.send(body as object);
    return checked(await req);
  };
  return {
    call,
    async provisionSite(input: { name?: string; allowedOrigins?: string[]; maxUsers?: number | null } = {}): Promise<Provisioned> {
      const site = await call('post', '/sites', { name: input.name ?? 'Shop', ...input });
      if (site.status !== 201) throw new Error(`createSite: ${site.status} ${JSON.stringify(site.body)}`);
      const key = await call('post', `/sites/${site.body.siteId}/api-keys`, { name: 'backend' });
      if (key.status !== 201) throw new Error(`createApiKey: ${key.status} ${JSON.stringify(key.body)}`);
      return {
        siteId: site.body.siteId,
        publishableKey: site.body.publishableKey,
        identitySecret: site.body.identitySecret,
        apiKey: key.body.apiKey,
        keyId: key.body.keyId,
      };
    },
    async putUser(siteId: string, userId: string, body: Record<string, unknown> = {}) {
      const res = await call('put', `/sites/${siteId}/users/${encodeURIComponent(userId)}`, body);
      if (res.status !== 200 && res.status !== 201) throw new Error(`putUser: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async createSession(siteId: string, userId: string, body?: Record<string, unknown>): Promise<string> {
      const res = await call('post', `/sites/${siteId}/users/${encodeURIComponent(userId)}/sessions`, body);
      if (res.status !== 201) throw new Error(`createSession: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.sessionToken as string;
    },
  };
}

/** The browser step: a session token becomes a verification token. */
export async function verificationTokenFor(gw: TestGateway, env: Environment, sessionToken: string): Promise<string> {
  const res = checked(
    await gw.http(env).post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${sessionToken}`),
  );
  if (res.status !== 200) throw new Error(`verification-token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.userVerificationToken as string;
}

/** The customer backend's step: the exchange. */
export async function exchange(
  gw: TestGateway,
  env: Environment,
  apiKey: string | undefined,
  body: unknown,
): Promise<request.Response> {
  let req = gw.http(env).post('/live_api/s2s/v1/users/verification');
  if (apiKey !== undefined) req = req.set('X-API-KEY', apiKey);
  return checked(await req.send(body as object));
}
