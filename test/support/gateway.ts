import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import request from 'supertest';
import pino from 'pino';
import { createAdminApp, createEnvironmentApp } from '../../src/app';
import { createDomain, type Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import { ENVIRONMENTS, type Environment } from '../../src/domain/environments';
import { createMetrics } from '../../src/ops/metrics';
import { MemoryBackend, MemoryKvStore as MemoryStore } from '../../src/store/memory-kv';
import { createRedisClient, createRedisConnections } from '../../src/store/redis-connections';
import { RedisKvStore as RedisStore } from '../../src/store/redis-kv';
import type { KvStore as Store } from '../../src/store/kv';
import { namespaceFor } from '../../src/store/open-kv-stores';
import { createRateLimits, DEFAULT_RATE_LIMITS, type RateLimitSettings } from '../../src/http/rate-limits';
import { testRedisUrl, uniquePrefix } from './redis';
import { GatewayAclUsers } from './redis-acl';
import { expectResponseToMatchSpec } from './openapi';
import { testRedisClusterNodes } from './redis-cluster';

/**
 * `redis`: the test Redis (TEST_REDIS_URL); `cluster`: the test Redis Cluster
 * (TEST_REDIS_CLUSTER_NODES, started by global-setup with TEST_STORE=cluster).
 * Default: `cluster` under TEST_STORE=cluster (unless `redisUrl` is given), else `redis`.
 */
export type StoreKind = 'redis' | 'memory' | 'cluster';

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
  /** Rate limits (default: generous, so tests from one address are not limited). */
  rateLimits?: Partial<RateLimitSettings>;
  /** Extra client options (timeouts, ioredis overrides). */
  redisOverrides?: Parameters<typeof createRedisClient>[1];
  /**
   * Connect each environment's store as its own restricted Redis ACL user,
   * created for this gateway (default true; see test/support/redis-acl.ts).
   * Falls back to the URL's user, with one warning, where the server
   * refuses ACL SETUSER — never on the Redis the test run started itself.
   */
  acl?: boolean;
}

export interface TestGateway {
  readonly clock: FrozenClock;
  readonly prefix: string;
  readonly masterKey: Buffer;
  readonly adminToken: string;
  readonly domains: Record<Environment, Domain>;
  readonly stores: Record<Environment, Store>;
  readonly urls: Record<Environment | 'admin', string>;
  /**
   * The Redis ACL users the stores connect as (null on the memory store, with
   * `acl: false`, or where the server refused ACL SETUSER). `close()` fails
   * when Redis refused either user a command, key or channel.
   */
  readonly acl: GatewayAclUsers | null;
  /** supertest against a listener; every response is checked against openapi.yaml by `checked`. */
  http(listener: Environment | 'admin'): ReturnType<typeof request>;
  close(): Promise<void>;
}

/** Tests come from one address: limits high enough never to trip unless a test sets its own. */
const GENEROUS_LIMITS: RateLimitSettings = {
  ...DEFAULT_RATE_LIMITS,
  signInPerIp: { points: 100_000, durationSeconds: 60 },
  failedApiKeyPerIp: { points: 100_000, durationSeconds: 60 },
};

const OPENAPI = readFileSync(resolve(__dirname, '../../openapi.yaml'), 'utf8');

async function listen(app: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * A whole gateway in-process: live, sandbox and admin listeners on
 * ephemeral ports, over real Redis (default) or the embedded store.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  const kind = options.store ?? (process.env.TEST_STORE === 'cluster' && !options.redisUrl ? 'cluster' : 'redis');
  const prefix = options.prefix ?? uniquePrefix();
  const masterKey = options.masterKey ?? randomBytes(32);
  const clock = options.clock ?? new FrozenClock(Date.now());
  const adminToken = randomBytes(24).toString('base64url');
  const backend = options.memoryBackend ?? new MemoryBackend();
  const redisUrl = kind === 'redis' ? (options.redisUrl ?? testRedisUrl()) : '';
  // One Redis: each environment as its own restricted ACL user. (On a cluster the contract test
  // test/contract/redis-cluster-store.test.ts carries the ACL proof; users would be needed on every node.)
  const acl = kind === 'redis' && options.acl !== false ? await GatewayAclUsers.provision(redisUrl, prefix) : null;
  const open = (env: Environment): Store => {
    const namespace = namespaceFor(prefix, env);
    if (kind === 'memory') return new MemoryStore({ namespace, shared: backend, now: () => clock.now() });
    const clusterNodes = kind === 'cluster' ? testRedisClusterNodes() : undefined;
    if (kind === 'cluster' && !clusterNodes) throw new Error('store: cluster needs TEST_REDIS_CLUSTER_NODES (run with TEST_STORE=cluster)');
    const target = clusterNodes ? { clusterNodes } : { url: acl ? acl.urlFor(env) : redisUrl };
    return new RedisStore({ namespace, ...createRedisConnections(target, options.redisOverrides) });
  };
  const stores = { live: open('live'), sandbox: open('sandbox') };
  const log = pino({ level: 'silent' });
  const metrics = createMetrics();
  const servers: Server[] = [];
  const urls = {} as Record<Environment | 'admin', string>;
  const domains = {} as Record<Environment, Domain>;
  for (const env of ENVIRONMENTS) {
    domains[env] = createDomain({
      environment: env,
      store: stores[env],
      masterKey,
      publicUrl: `https://api${env === 'sandbox' ? '-sandbox' : ''}.verigate.test`,
      clock,
    });
    await domains[env].start();
  }
  for (const env of ENVIRONMENTS) {
    const { server, url } = await listen(
      createEnvironmentApp({
        domain: domains[env],
        rateLimits: createRateLimits(stores[env], { ...GENEROUS_LIMITS, ...options.rateLimits }),
        log, metrics, openapiYaml: OPENAPI, sdkScript: null, draining: () => false }),
    );
    servers.push(server);
    urls[env] = url;
  }
  const admin = await listen(
    createAdminApp({ domains, adminToken, log, metrics, openapiYaml: OPENAPI, draining: () => false }),
  );
  servers.push(admin.server);
  urls.admin = admin.url;
  return {
    clock,
    prefix,
    masterKey,
    adminToken,
    domains,
    stores,
    urls,
    acl,
    http: (listener) => request(urls[listener]),
    async close() {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
      await Promise.all(ENVIRONMENTS.map((env) => domains[env].stop()));
      await Promise.all(ENVIRONMENTS.map((env) => stores[env].close()));
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
    async provisionSite(input: { name?: string; allowedOrigins?: string[] } = {}): Promise<Provisioned> {
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
