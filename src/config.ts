import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { inspect } from 'node:util';
import ipaddr from 'ipaddr.js';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { DEFAULT_MAX_SESSIONS_PER_USER } from './domain/sessions';

/** Pino log levels accepted by `LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Listener ports used when `LIVE_PORT`, `SANDBOX_PORT`, `ADMIN_PORT` are not set. */
export const DEFAULT_PORTS = { live: 8080, sandbox: 8081, admin: 8090 } as const;

/** A Redis Cluster seed node from `REDIS_CLUSTER_NODES` (or `LIVE_`/`SANDBOX_REDIS_CLUSTER_NODES`). */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/**
 * One environment's Redis Cluster: its seed nodes, and the one set of
 * credentials (an ACL user, or only a password for `default`) and TLS that
 * every node connection uses; each set only when given.
 */
export interface ClusterTarget {
  readonly nodes: readonly ClusterNode[];
  readonly username?: string;
  readonly password?: string;
  readonly tls?: boolean;
}

/**
 * One environment's Redis behind Sentinel (SPEC §13): the sentinels to ask,
 * the master group's name, the sentinels' own credentials (from a
 * `redis://user:password@` entry) and the data nodes' credentials
 * (`REDIS_USERNAME` / `REDIS_PASSWORD`); each set only when given. `tls`
 * (a `rediss://` entry) is TLS to the sentinels and the data nodes alike.
 */
export interface SentinelTarget {
  readonly sentinels: readonly ClusterNode[];
  readonly name: string;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: boolean;
}

/**
 * Where the environments keep their data. `embedded` is in-process and
 * forgets everything on exit; `redis` may use one server per environment;
 * `cluster` one Redis Cluster per environment, or one shared (keys are
 * prefixed per environment), each environment with its own credentials when
 * `LIVE_`/`SANDBOX_REDIS_CLUSTER_NODES` give them.
 */
export type StoreConfig =
  | { readonly kind: 'embedded' }
  /**
   * `urls.<env>` is `''` when that environment has no Redis URL because its
   * listener is `off`: this process then has no store for it.
   */
  | { readonly kind: 'redis'; readonly urls: { readonly live: string; readonly sandbox: string } }
  /**
   * `clusters.<env>` is `null` when that environment has no cluster because
   * its listener and the admin listener are `off`: no store for it.
   */
  | { readonly kind: 'cluster'; readonly clusters: { readonly live: ClusterTarget | null; readonly sandbox: ClusterTarget | null } }
  /**
   * `sentinels.<env>` is `null` when that environment has no store because
   * its listener and the admin listener are `off`.
   */
  | { readonly kind: 'sentinel'; readonly sentinels: { readonly live: SentinelTarget | null; readonly sandbox: SentinelTarget | null } };

/** Rate limits, each a count per minute (SPEC §7), each overridable by its variable. */
export interface RateLimitConfig {
  /** Sign-in attempts per client address (`RATE_LIMIT_SIGN_IN_PER_ADDRESS`, default 60). */
  readonly signInPerAddress: number;
  /**
   * Refused sign-ins per site (`RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE`,
   * default 600): only refusals count, and a valid identity token is never
   * refused because of them.
   */
  readonly signInFailuresPerSite: number;
  /** Session reads, sign-outs and token mints per client address (`RATE_LIMIT_SESSION_PER_ADDRESS`, default 600). */
  readonly sessionPerAddress: number;
  /** Refused API keys per client address (`RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS`, default 100). */
  readonly failedApiKeysPerAddress: number;
  /** Exchanges per API key, counted per instance (`RATE_LIMIT_EXCHANGE_PER_API_KEY`, default 200000). */
  readonly exchangePerApiKey: number;
  /** Refused admin tokens per client address, on the admin listener (`RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS`, default 20). */
  readonly adminFailuresPerAddress: number;
}

/** Defaults of {@link RateLimitConfig} (SPEC §7's table). */
export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  signInPerAddress: 60,
  signInFailuresPerSite: 600,
  sessionPerAddress: 600,
  failedApiKeysPerAddress: 100,
  exchangePerApiKey: 200_000,
  adminFailuresPerAddress: 20,
};

/**
 * Which peers may name the client in `X-Forwarded-For` (`TRUST_PROXY`,
 * SPEC §7), with proxy-addr's semantics (as Express's `trust proxy`):
 * `none` (the TCP peer is the client), a hop count, or a list of
 * addresses, CIDR ranges and the words `loopback`, `linklocal`,
 * `uniquelocal`. Never "trust everyone".
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'list'; readonly entries: readonly string[] };

/**
 * The validated, deep-frozen process configuration. Built once by
 * {@link loadConfig} in `main.ts` (tests build one the same way, from a
 * plain object); everything else receives it as an argument.
 *
 * `JSON.stringify(config)` and `util.inspect(config)` print
 * {@link redactedConfigSummary} instead of the secrets.
 */
export interface Config {
  /** Listener ports; `null` means `off`, `0` an ephemeral port. */
  readonly listeners: { readonly live: number | null; readonly sandbox: number | null; readonly admin: number | null };
  /** Interface the admin listener binds to (`ADMIN_HOST`, default `127.0.0.1`). */
  readonly adminHost: string;
  /** Each environment's public base URL, without trailing slash; the verification-token `iss`. */
  readonly publicUrls: { readonly live: string; readonly sandbox: string };
  readonly store: StoreConfig;
  /** First segment of every store key and channel (`<prefix>:<environment>:`). */
  readonly keyPrefix: string;
  /** 32 bytes; root of the API-key/session-token hashing keys and of at-rest encryption. */
  readonly masterKey: Buffer;
  /** `true` when the embedded store runs without `VERIGATE_MASTER_KEY` and one was made up. */
  readonly masterKeyGenerated: boolean;
  /** Bearer token of the admin API. */
  readonly adminToken: string;
  /** `true` when the embedded store runs without `VERIGATE_ADMIN_TOKEN` and one was made up. */
  readonly adminTokenGenerated: boolean;
  readonly logLevel: LogLevel;
  /** Upper bound on every Redis command, after which the request fails with 503. */
  readonly redisCommandTimeoutMs: number;
  /**
   * Replicas that must hold a revocation before it is answered as done
   * (`REDIS_MIN_REPLICAS`, default 0: the master's word is enough). SPEC §13.
   */
  readonly redisMinReplicas: number;
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  readonly shutdownGraceMs: number;
  /**
   * Number of worker processes (1 = no cluster module). `WORKERS`, else one
   * per core when `NODE_ENV=production` on Redis, else 1.
   */
  readonly workers: number;
  readonly rateLimits: RateLimitConfig;
  /** How long events are kept and their ids accepted as cursors (`EVENT_RETENTION_HOURS`, default 72). */
  readonly eventRetentionHours: number;
  /** Seconds after each failed webhook attempt (`WEBHOOK_RETRY_SCHEDULE`); null: the built-in schedule (up to 24 h). */
  readonly webhookRetrySchedule: readonly number[] | null;
  /** `WEBHOOK_ALLOW_PRIVATE_TARGETS`: webhooks may go to loopback/private addresses, and over http on live. */
  readonly webhookAllowPrivateTargets: boolean;
  /** Active sessions per user of a site (`MAX_SESSIONS_PER_USER`, default 50); a sign-in past it ends the oldest. */
  readonly maxSessionsPerUser: number;
  /** Who may name the client in `X-Forwarded-For` (`TRUST_PROXY`, default none). */
  readonly trustProxy: TrustProxy;
}

/**
 * Thrown by {@link loadConfig} with every problem found, each naming its
 * environment variable. Values of secrets and URLs are never quoted.
 */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------
// One zod schema per variable. Each reads `string | undefined` (blank counts as
// unset, so `FOO=` in a compose file means "default") and reports problems with
// a full sentence naming the variable.

/** Trimmed value, or `undefined` when unset or blank. */
const raw = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Quote a non-secret value for a problem message. */
const shown = (value: string): string => JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

function portVariable(name: string, fallback: number) {
  return raw.transform((v, ctx): number | null => {
    if (v === undefined) return fallback;
    if (v.toLowerCase() === 'off') return null;
    if (/^\d{1,5}$/.test(v) && Number(v) <= 65535) return Number(v);
    ctx.addIssue(`${name} must be a port number (1-65535) or "off" (0 picks a free port), got ${shown(v)}`);
    return z.NEVER;
  });
}

function integerVariable(name: string, fallback: number, min: number, max: number, unit = '') {
  return raw.transform((v, ctx): number => {
    if (v === undefined) return fallback;
    if (/^\d{1,9}$/.test(v) && Number(v) >= min && Number(v) <= max) return Number(v);
    ctx.addIssue(`${name} must be an integer from ${min} to ${max}${unit}, got ${shown(v)}`);
    return z.NEVER;
  });
}

/** `true` or `false` (any case). */
function booleanVariable(name: string, fallback: boolean) {
  return raw.transform((v, ctx): boolean => {
    if (v === undefined) return fallback;
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
    ctx.addIssue(`${name} must be true or false, got ${shown(v)}`);
    return z.NEVER;
  });
}

/** Seconds to wait after each failed webhook attempt: positive integers, comma-separated. */
const retryScheduleVariable = raw.transform((v, ctx): number[] | undefined => {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((p) => p.trim());
  if (parts.length <= 50 && parts.every((p) => /^\d{1,6}$/.test(p) && Number(p) >= 1)) return parts.map(Number);
  ctx.addIssue(`WEBHOOK_RETRY_SCHEDULE must be up to 50 comma-separated whole seconds, each 1 to 999999, got ${shown(v)}`);
  return z.NEVER;
});

/** A count per minute. */
function rateLimitVariable(name: string, fallback: number) {
  return integerVariable(name, fallback, 1, 100_000_000, ' (a count per minute)');
}

/**
 * Whether `host` (an `ADMIN_HOST`) binds loopback only: `localhost`,
 * `127.0.0.0/8`, `::1`. Anything else exposes the admin listener to a
 * network, which start-up warns about (SPEC §7).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 0) return false;
  const address = ipaddr.parse(bare);
  const v4 = address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
  return v4.range() === 'loopback';
}

/** RFC 1123 host name, loosely: labels of letters, digits and hyphens. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const isHost = (host: string): boolean => isIP(host) !== 0 || HOSTNAME.test(host);

function publicUrlVariable(name: string) {
  return raw.transform((v, ctx): string | undefined => {
    if (v === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      url = new URL('invalid:');
    }
    const problem =
      url.protocol !== 'http:' && url.protocol !== 'https:'
        ? 'an http:// or https:// URL'
        : url.username || url.password
          ? 'a URL without credentials'
          : url.search || url.hash || v.includes('?') || v.includes('#')
            ? 'a URL without query or fragment'
            : undefined;
    if (problem) {
      // A credential-bearing value is not echoed.
      ctx.addIssue(`${name} must be ${problem} (the base URL customers call, e.g. https://api.example.com)`);
      return z.NEVER;
    }
    // Normalised (lower-case scheme and host, default port dropped) and without
    // trailing slash: this string is the `iss` of every verification token.
    return url.href.replace(/\/+$/, '');
  });
}

function redisUrlVariable(name: string) {
  return raw.transform((v, ctx): string | undefined => {
    if (v === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
      // Never echo: the value may carry a password.
      ctx.addIssue(`${name} must be a redis:// or rediss:// URL, e.g. redis://user:password@host:6379`);
      return z.NEVER;
    }
    return v;
  });
}


const CLUSTER_NODES_FORM = 'a comma-separated list of host:port or redis://[user[:password]@]host:port (rediss:// for TLS)';

/** `host:port` (`[::1]:7000` for IPv6) as a node, or undefined. */
function plainClusterNode(entry: string): ClusterNode | undefined {
  const colon = entry.lastIndexOf(':');
  let host = colon > 0 ? entry.slice(0, colon) : '';
  const port = colon > 0 ? entry.slice(colon + 1) : '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1); // [::1]:7000
  if (!isHost(host) || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return undefined;
  return { host, port: Number(port) };
}

/** A `redis://` / `rediss://` entry as node, scheme and decoded credentials, or undefined. */
function urlClusterNode(entry: string): { node: ClusterNode; tls: boolean; username: string; password: string } | undefined {
  let url: URL;
  let username: string;
  let password: string;
  try {
    url = new URL(entry);
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    return undefined;
  }
  const host = url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
  // An explicit port, nothing after it: no database (a cluster has only 0) and no options.
  const explicitPort = /^rediss?:\/\/[^/?#]*:\d{1,5}\/?$/i.test(entry);
  if (!explicitPort || !isHost(host) || url.search || url.hash || (url.pathname !== '' && url.pathname !== '/')) return undefined;
  return { node: { host, port: Number(url.port) }, tls: url.protocol === 'rediss:', username, password };
}

/** `REDIS_CLUSTER_NODES` and its per-environment forms, each parsed with messages naming `name`. */
const clusterNodesVariable = (name: string) => raw.transform((v, ctx): ClusterTarget | undefined => {
  if (v === undefined) return undefined;
  const nodes: ClusterNode[] = [];
  const fromUrls: { tls: boolean; username: string; password: string }[] = [];
  let plainEntries = 0;
  for (const [index, entry] of v.split(',').map((s) => s.trim()).entries()) {
    if (/^rediss?:\/\//i.test(entry)) {
      const parsed = urlClusterNode(entry);
      if (!parsed) {
        // Never echo: a URL entry may carry a password.
        ctx.addIssue(`${name} must be ${CLUSTER_NODES_FORM}; entry ${index + 1} is not`);
        return z.NEVER;
      }
      nodes.push(parsed.node);
      fromUrls.push(parsed);
      continue;
    }
    const node = plainClusterNode(entry);
    if (!node) {
      // Echoed only when the value holds no URL or userinfo at all: a comma
      // in a password would otherwise make a piece of it an "entry".
      const what = entry === '' ? 'is empty' : /[@/]/.test(v) ? 'is not' : `is ${shown(entry)}`;
      ctx.addIssue(`${name} must be ${CLUSTER_NODES_FORM}; entry ${index + 1} ${what}`);
      return z.NEVER;
    }
    nodes.push(node);
    plainEntries++;
  }
  const first = fromUrls[0];
  if (!first) return { nodes };
  if (fromUrls.some((u) => u.tls !== first.tls || u.username !== first.username || u.password !== first.password)) {
    ctx.addIssue(`${name} URL entries must all have the same scheme, username and password (one set of credentials for the cluster)`);
    return z.NEVER;
  }
  if (plainEntries > 0 && first.username === '' && first.password === '') {
    ctx.addIssue(
      `${name} mixes host:port entries with URL entries that carry no username or password; write every entry as host:port, or put the credentials in the URL ones`,
    );
    return z.NEVER;
  }
  return {
    nodes,
    ...(first.username !== '' && { username: first.username }),
    ...(first.password !== '' && { password: first.password }),
    ...(first.tls && { tls: true }),
  };
});

/** Sentinel addresses: the form of REDIS_CLUSTER_NODES (one set of credentials, the sentinels' own). */
const sentinelsVariable = (name: string) =>
  clusterNodesVariable(name).transform((target): SentinelAddresses | undefined =>
    target === undefined
      ? undefined
      : {
          sentinels: target.nodes,
          ...(target.username !== undefined && { sentinelUsername: target.username }),
          ...(target.password !== undefined && { sentinelPassword: target.password }),
          ...(target.tls === true && { tls: true }),
        },
  );

type SentinelAddresses = Omit<SentinelTarget, 'name' | 'username' | 'password'>;

const sentinelNameVariable = (name: string) =>
  raw.transform((v, ctx): string | undefined => {
    if (v === undefined) return undefined;
    if (/^[A-Za-z0-9._-]{1,64}$/.test(v)) return v;
    ctx.addIssue(`${name} must be the Sentinel master group name (1-64 characters of A-Z a-z 0-9 . _ -), got ${shown(v)}`);
    return z.NEVER;
  });

/** A username or password: kept as given (untrimmed would be surprising, so trimmed like the rest), never echoed. */
const credentialVariable = (name: string) =>
  raw.transform((v, ctx): string | undefined => {
    if (v === undefined) return undefined;
    if (/^[\x21-\x7e]+$/.test(v)) return v;
    ctx.addIssue(`${name} must be printable ASCII without spaces`);
    return z.NEVER;
  });

const TRUST_PROXY_FORM =
  'false, a hop count (1, 2, ...), or a comma-separated list of IP addresses, CIDR ranges and the words loopback, linklocal, uniquelocal';

const trustProxyVariable = raw.transform((v, ctx): TrustProxy => {
  if (v === undefined || v.toLowerCase() === 'false') return { kind: 'none' };
  if (v.toLowerCase() === 'true') {
    ctx.addIssue(
      'TRUST_PROXY=true is refused: it would let any client choose its own address (and its rate-limit bucket). ' +
        'Name the proxies instead: a hop count (1 behind one load balancer) or their addresses/CIDR ranges',
    );
    return z.NEVER;
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops >= 1 && hops <= 32) return { kind: 'hops', hops };
    if (hops === 0) return { kind: 'none' };
    ctx.addIssue(`TRUST_PROXY must be ${TRUST_PROXY_FORM}; a hop count is at most 32, got ${shown(v)}`);
    return z.NEVER;
  }
  const entries = v.split(',').map((e) => e.trim());
  try {
    if (entries.some((e) => e === '')) throw new TypeError('empty entry');
    proxyAddr.compile(entries);
  } catch {
    ctx.addIssue(`TRUST_PROXY must be ${TRUST_PROXY_FORM}, got ${shown(v)}`);
    return z.NEVER;
  }
  return { kind: 'list', entries };
});

const masterKeyVariable = raw.transform((v, ctx): Buffer | undefined => {
  if (v === undefined) return undefined;
  // Node's base64 decoder skips characters it does not know, so check the
  // alphabet first; it reads base64url too.
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64') : undefined;
  if (bytes?.length !== 32) {
    ctx.addIssue('VERIGATE_MASTER_KEY must be exactly 32 bytes, base64 or base64url encoded (e.g. openssl rand -base64 32)');
    return z.NEVER;
  }
  return bytes;
});

const adminTokenVariable = raw.transform((v, ctx): string | undefined => {
  if (v === undefined) return undefined;
  // Printable ASCII without spaces: it travels in `Authorization: Bearer <token>`.
  if (v.length < 32 || !/^[\x21-\x7e]+$/.test(v)) {
    ctx.addIssue('VERIGATE_ADMIN_TOKEN must be at least 32 printable ASCII characters without spaces (e.g. openssl rand -base64 32)');
    return z.NEVER;
  }
  return v;
});

const variables = {
  LIVE_PORT: portVariable('LIVE_PORT', DEFAULT_PORTS.live),
  SANDBOX_PORT: portVariable('SANDBOX_PORT', DEFAULT_PORTS.sandbox),
  ADMIN_PORT: portVariable('ADMIN_PORT', DEFAULT_PORTS.admin),
  ADMIN_HOST: raw.transform((v, ctx): string => {
    if (v === undefined) return '127.0.0.1';
    if (isHost(v)) return v;
    ctx.addIssue(`ADMIN_HOST must be an IP address or host name, got ${shown(v)}`);
    return z.NEVER;
  }),
  LIVE_PUBLIC_URL: publicUrlVariable('LIVE_PUBLIC_URL'),
  SANDBOX_PUBLIC_URL: publicUrlVariable('SANDBOX_PUBLIC_URL'),
  REDIS_URL: redisUrlVariable('REDIS_URL'),
  LIVE_REDIS_URL: redisUrlVariable('LIVE_REDIS_URL'),
  SANDBOX_REDIS_URL: redisUrlVariable('SANDBOX_REDIS_URL'),
  REDIS_CLUSTER_NODES: clusterNodesVariable('REDIS_CLUSTER_NODES'),
  LIVE_REDIS_CLUSTER_NODES: clusterNodesVariable('LIVE_REDIS_CLUSTER_NODES'),
  SANDBOX_REDIS_CLUSTER_NODES: clusterNodesVariable('SANDBOX_REDIS_CLUSTER_NODES'),
  REDIS_SENTINELS: sentinelsVariable('REDIS_SENTINELS'),
  LIVE_REDIS_SENTINELS: sentinelsVariable('LIVE_REDIS_SENTINELS'),
  SANDBOX_REDIS_SENTINELS: sentinelsVariable('SANDBOX_REDIS_SENTINELS'),
  REDIS_SENTINEL_NAME: sentinelNameVariable('REDIS_SENTINEL_NAME'),
  LIVE_REDIS_SENTINEL_NAME: sentinelNameVariable('LIVE_REDIS_SENTINEL_NAME'),
  SANDBOX_REDIS_SENTINEL_NAME: sentinelNameVariable('SANDBOX_REDIS_SENTINEL_NAME'),
  REDIS_USERNAME: credentialVariable('REDIS_USERNAME'),
  LIVE_REDIS_USERNAME: credentialVariable('LIVE_REDIS_USERNAME'),
  SANDBOX_REDIS_USERNAME: credentialVariable('SANDBOX_REDIS_USERNAME'),
  REDIS_PASSWORD: credentialVariable('REDIS_PASSWORD'),
  LIVE_REDIS_PASSWORD: credentialVariable('LIVE_REDIS_PASSWORD'),
  SANDBOX_REDIS_PASSWORD: credentialVariable('SANDBOX_REDIS_PASSWORD'),
  REDIS_MIN_REPLICAS: integerVariable('REDIS_MIN_REPLICAS', 0, 0, 16, ' (replicas)'),
  REDIS_KEY_PREFIX: raw.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: (i) => `REDIS_KEY_PREFIX must be 1-32 characters of A-Z a-z 0-9 _ -, got ${shown(String(i.input))}` })
      .default('vg'),
  ),
  VERIGATE_MASTER_KEY: masterKeyVariable,
  VERIGATE_ADMIN_TOKEN: adminTokenVariable,
  LOG_LEVEL: raw.transform((v) => v?.toLowerCase()).pipe(
    z.enum(LOG_LEVELS, { error: (i) => `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${shown(String(i.input))}` }).default('info'),
  ),
  REDIS_COMMAND_TIMEOUT_MS: integerVariable('REDIS_COMMAND_TIMEOUT_MS', 1000, 1, 60_000, ' (milliseconds)'),
  SHUTDOWN_GRACE_MS: integerVariable('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000, ' (milliseconds)'),
  WORKERS: integerVariable('WORKERS', 1, 1, 1024),
  EVENT_RETENTION_HOURS: integerVariable('EVENT_RETENTION_HOURS', 72, 1, 24 * 90, ' (hours)'),
  WEBHOOK_RETRY_SCHEDULE: retryScheduleVariable,
  WEBHOOK_ALLOW_PRIVATE_TARGETS: booleanVariable('WEBHOOK_ALLOW_PRIVATE_TARGETS', false),
  RATE_LIMIT_SIGN_IN_PER_ADDRESS: rateLimitVariable('RATE_LIMIT_SIGN_IN_PER_ADDRESS', DEFAULT_RATE_LIMITS.signInPerAddress),
  RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE: rateLimitVariable(
    'RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE',
    DEFAULT_RATE_LIMITS.signInFailuresPerSite,
  ),
  RATE_LIMIT_SESSION_PER_ADDRESS: rateLimitVariable('RATE_LIMIT_SESSION_PER_ADDRESS', DEFAULT_RATE_LIMITS.sessionPerAddress),
  RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS: rateLimitVariable(
    'RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS',
    DEFAULT_RATE_LIMITS.failedApiKeysPerAddress,
  ),
  RATE_LIMIT_EXCHANGE_PER_API_KEY: rateLimitVariable('RATE_LIMIT_EXCHANGE_PER_API_KEY', DEFAULT_RATE_LIMITS.exchangePerApiKey),
  MAX_SESSIONS_PER_USER: integerVariable('MAX_SESSIONS_PER_USER', DEFAULT_MAX_SESSIONS_PER_USER, 1, 10_000, ' (active sessions per user of a site)'),
  RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS: rateLimitVariable(
    'RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS',
    DEFAULT_RATE_LIMITS.adminFailuresPerAddress,
  ),
  TRUST_PROXY: trustProxyVariable,
};

type VariableName = keyof typeof variables;
type Values = { [K in VariableName]: z.output<(typeof variables)[K]> };

/**
 * Read and validate the configuration from environment variables. Nothing
 * else reads `process.env`; tests pass a plain object.
 *
 * Blank values count as unset. Every problem is collected first, then thrown
 * once as a {@link ConfigError}.
 *
 * @throws {ConfigError} when any variable is missing, malformed or in conflict.
 * @example
 * ```ts
 * const config = loadConfig(process.env);
 * config.listeners.live; // 8080, or null with LIVE_PORT=off
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const values: Partial<Values> = {};
  for (const name of Object.keys(variables) as VariableName[]) {
    const result = variables[name].safeParse(env[name]);
    if (result.success) (values as Record<string, unknown>)[name] = result.data;
    else problems.push(...result.error.issues.map((issue) => issue.message));
  }
  // Cross-variable rules look at what was *set*, so a malformed REDIS_URL still
  // counts as "Redis configured" and the secret rules still apply.
  const isSet = (name: VariableName): boolean => raw.parse(env[name]) !== undefined;

  const listeners = {
    live: values.LIVE_PORT === undefined ? DEFAULT_PORTS.live : values.LIVE_PORT,
    sandbox: values.SANDBOX_PORT === undefined ? DEFAULT_PORTS.sandbox : values.SANDBOX_PORT,
    admin: values.ADMIN_PORT === undefined ? DEFAULT_PORTS.admin : values.ADMIN_PORT,
  };
  problems.push(...listenerProblems(values));

  const publicUrls = {
    live: values.LIVE_PUBLIC_URL ?? defaultPublicUrl(listeners.live, DEFAULT_PORTS.live),
    sandbox: values.SANDBOX_PUBLIC_URL ?? defaultPublicUrl(listeners.sandbox, DEFAULT_PORTS.sandbox),
  };

  const { store, problems: storeProblems } = storeConfig(values, isSet);
  problems.push(...storeProblems);

  const persistent = store.kind !== 'embedded';
  if (!persistent && (values.REDIS_MIN_REPLICAS ?? 0) > 0) {
    problems.push('REDIS_MIN_REPLICAS needs Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): the embedded store has no replicas');
  }
  if (persistent && !isSet('VERIGATE_MASTER_KEY')) {
    problems.push(
      'VERIGATE_MASTER_KEY is required when REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is set (32 random bytes, base64: openssl rand -base64 32)',
    );
  }
  if (persistent && !isSet('VERIGATE_ADMIN_TOKEN')) {
    problems.push(
      'VERIGATE_ADMIN_TOKEN is required when REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is set (at least 32 characters: openssl rand -base64 32)',
    );
  }
  if (raw.parse(env.RATE_LIMIT_SIGN_IN_PER_SITE) !== undefined) {
    problems.push(
      'RATE_LIMIT_SIGN_IN_PER_SITE is gone: sign-ins per site now count only refusals; set RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE (default 600) instead',
    );
  }
  if (!persistent && values.WORKERS !== undefined && values.WORKERS > 1) {
    problems.push('WORKERS must be 1 on the embedded store (each worker would have its own data); set REDIS_URL to run more');
  }

  if (problems.length > 0) throw new ConfigError(problems);

  // Secrets are made up only for the embedded store, whose data dies with the
  // process anyway; and only when the variable is unset (a bad value is a problem above).
  const masterKeyGenerated = values.VERIGATE_MASTER_KEY === undefined;
  const adminTokenGenerated = values.VERIGATE_ADMIN_TOKEN === undefined;
  const config: Config = {
    listeners,
    adminHost: values.ADMIN_HOST as string,
    publicUrls,
    store,
    keyPrefix: values.REDIS_KEY_PREFIX as string,
    masterKey: values.VERIGATE_MASTER_KEY ?? randomBytes(32),
    masterKeyGenerated,
    adminToken: values.VERIGATE_ADMIN_TOKEN ?? randomBytes(32).toString('base64url'),
    adminTokenGenerated,
    logLevel: values.LOG_LEVEL as LogLevel,
    redisCommandTimeoutMs: values.REDIS_COMMAND_TIMEOUT_MS as number,
    redisMinReplicas: values.REDIS_MIN_REPLICAS as number,
    shutdownGraceMs: values.SHUTDOWN_GRACE_MS as number,
    workers: isSet('WORKERS')
      ? (values.WORKERS as number)
      : env.NODE_ENV === 'production' && persistent
        ? availableParallelism()
        : 1,
    rateLimits: {
      signInPerAddress: values.RATE_LIMIT_SIGN_IN_PER_ADDRESS as number,
      signInFailuresPerSite: values.RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE as number,
      sessionPerAddress: values.RATE_LIMIT_SESSION_PER_ADDRESS as number,
      failedApiKeysPerAddress: values.RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS as number,
      exchangePerApiKey: values.RATE_LIMIT_EXCHANGE_PER_API_KEY as number,
      adminFailuresPerAddress: values.RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS as number,
    },
    eventRetentionHours: values.EVENT_RETENTION_HOURS as number,
    webhookRetrySchedule: values.WEBHOOK_RETRY_SCHEDULE ?? null,
    webhookAllowPrivateTargets: values.WEBHOOK_ALLOW_PRIVATE_TARGETS as boolean,
    maxSessionsPerUser: values.MAX_SESSIONS_PER_USER as number,
    trustProxy: values.TRUST_PROXY as TrustProxy,
  };
  // Logging the config object by mistake must not print the secrets.
  Object.defineProperty(config, 'toJSON', { value: () => redactedConfigSummary(config), enumerable: false });
  Object.defineProperty(config, inspect.custom, { value: () => redactedConfigSummary(config), enumerable: false });
  return deepFreeze(config);
}

function listenerProblems(values: Partial<Values>): string[] {
  const problems: string[] = [];
  const ports = (['LIVE_PORT', 'SANDBOX_PORT', 'ADMIN_PORT'] as const).filter((name) => values[name] !== undefined);
  if (ports.length === 3 && ports.every((name) => values[name] === null)) {
    problems.push('LIVE_PORT, SANDBOX_PORT and ADMIN_PORT are all "off": there is nothing to serve');
  }
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const a = ports[i] as VariableName;
      const b = ports[j] as VariableName;
      const port = values[a];
      if (typeof port === 'number' && port !== 0 && port === values[b]) {
        problems.push(`${a} and ${b} must be different ports (both are ${port})`);
      }
    }
  }
  return problems;
}

/** `http://localhost:<port>`; the environment's default port when it is off or ephemeral. */
function defaultPublicUrl(port: number | null, fallback: number): string {
  return `http://localhost:${port === null || port === 0 ? fallback : port}`;
}

function storeConfig(
  values: Partial<Values>,
  isSet: (name: VariableName) => boolean,
): { store: StoreConfig; problems: string[] } {
  const urlVariables = (['REDIS_URL', 'LIVE_REDIS_URL', 'SANDBOX_REDIS_URL'] as const).filter(isSet);
  const clusterVariables = (['REDIS_CLUSTER_NODES', 'LIVE_REDIS_CLUSTER_NODES', 'SANDBOX_REDIS_CLUSTER_NODES'] as const).filter(isSet);
  const sentinelVariables = (['REDIS_SENTINELS', 'LIVE_REDIS_SENTINELS', 'SANDBOX_REDIS_SENTINELS'] as const).filter(isSet);
  const sentinelOnly = (
    [
      'REDIS_SENTINEL_NAME',
      'LIVE_REDIS_SENTINEL_NAME',
      'SANDBOX_REDIS_SENTINEL_NAME',
      'REDIS_USERNAME',
      'LIVE_REDIS_USERNAME',
      'SANDBOX_REDIS_USERNAME',
      'REDIS_PASSWORD',
      'LIVE_REDIS_PASSWORD',
      'SANDBOX_REDIS_PASSWORD',
    ] as const
  ).filter(isSet);
  if (sentinelVariables.length > 0) return sentinelStoreConfig(values, isSet, [...urlVariables, ...clusterVariables]);
  if (sentinelOnly.length > 0) {
    // Credentials of a URL or a cluster go in the URL or node entries: two places for one secret would disagree.
    return {
      store: { kind: 'embedded' },
      problems: [
        `${sentinelOnly.join(', ')} ${sentinelOnly.length === 1 ? 'is' : 'are'} only used with REDIS_SENTINELS ` +
          '(REDIS_URL and REDIS_CLUSTER_NODES carry their credentials in the URL)',
      ],
    };
  }
  if (clusterVariables.length > 0) {
    const problems =
      urlVariables.length > 0
        ? [`${clusterVariables.join(', ')} cannot be combined with ${urlVariables.join(', ')}: set one or the other`]
        : [];
    const clusters: { live: ClusterTarget | null; sandbox: ClusterTarget | null } = { live: null, sandbox: null };
    for (const [environment, name, other, portName] of [
      ['live', 'LIVE_REDIS_CLUSTER_NODES', 'SANDBOX_REDIS_CLUSTER_NODES', 'LIVE_PORT'],
      ['sandbox', 'SANDBOX_REDIS_CLUSTER_NODES', 'LIVE_REDIS_CLUSTER_NODES', 'SANDBOX_PORT'],
    ] as const) {
      if (isSet(name) || isSet('REDIS_CLUSTER_NODES')) {
        // A malformed value is a problem above; `nodes: []` only stands in for it.
        clusters[environment] = (isSet(name) ? values[name] : values.REDIS_CLUSTER_NODES) ?? { nodes: [] };
      } else if (values[portName] !== null || values.ADMIN_PORT !== null) {
        problems.push(
          `${name} (or REDIS_CLUSTER_NODES) is required when ${other} is set and ${portName} or ADMIN_PORT is not "off": ` +
            `${environment} must not fall back to the embedded store`,
        );
      }
    }
    return { store: { kind: 'cluster', clusters }, problems };
  }
  if (urlVariables.length === 0) return { store: { kind: 'embedded' }, problems: [] };

  const problems: string[] = [];
  const urls = { live: '', sandbox: '' };
  for (const [environment, name, other, portName] of [
    ['live', 'LIVE_REDIS_URL', 'SANDBOX_REDIS_URL', 'LIVE_PORT'],
    ['sandbox', 'SANDBOX_REDIS_URL', 'LIVE_REDIS_URL', 'SANDBOX_PORT'],
  ] as const) {
    if (isSet(name) || isSet('REDIS_URL')) {
      urls[environment] = values[name] ?? values.REDIS_URL ?? '';
    } else if (values[portName] !== null || values.ADMIN_PORT !== null) {
      // A malformed port counts as enabled: the operator meant to serve it.
      // The admin listener manages both environments, so it needs both stores.
      problems.push(
        `${name} (or REDIS_URL) is required when ${other} is set and ${portName} or ADMIN_PORT is not "off": ` +
          `${environment} must not fall back to the embedded store`,
      );
    }
  }
  return { store: { kind: 'redis', urls }, problems };
}

/** SPEC §13: each environment's sentinels, master group and data-node credentials, with their `LIVE_`/`SANDBOX_` forms. */
function sentinelStoreConfig(
  values: Partial<Values>,
  isSet: (name: VariableName) => boolean,
  others: readonly VariableName[],
): { store: StoreConfig; problems: string[] } {
  const problems =
    others.length > 0
      ? [`REDIS_SENTINELS (and its LIVE_/SANDBOX_ forms) cannot be combined with ${others.join(', ')}: set one or the other`]
      : [];
  const sentinels: { live: SentinelTarget | null; sandbox: SentinelTarget | null } = { live: null, sandbox: null };
  for (const [environment, prefix, otherPrefix, portName] of [
    ['live', 'LIVE_', 'SANDBOX_', 'LIVE_PORT'],
    ['sandbox', 'SANDBOX_', 'LIVE_', 'SANDBOX_PORT'],
  ] as const) {
    const own = `${prefix}REDIS_SENTINELS` as const;
    if (!isSet(own) && !isSet('REDIS_SENTINELS')) {
      if (values[portName] !== null || values.ADMIN_PORT !== null) {
        problems.push(
          `${own} (or REDIS_SENTINELS) is required when ${otherPrefix}REDIS_SENTINELS is set and ${portName} or ADMIN_PORT is not "off": ` +
            `${environment} must not fall back to the embedded store`,
        );
      }
      continue;
    }
    const pick = <K extends 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_USERNAME' | 'REDIS_PASSWORD'>(name: K) =>
      isSet(`${prefix}${name}`) ? values[`${prefix}${name}`] : values[name];
    const name = pick('REDIS_SENTINEL_NAME');
    if (!isSet(`${prefix}REDIS_SENTINEL_NAME`) && !isSet('REDIS_SENTINEL_NAME')) {
      problems.push(`${prefix}REDIS_SENTINEL_NAME (or REDIS_SENTINEL_NAME) is required with ${isSet(own) ? own : 'REDIS_SENTINELS'}: the master group the sentinels watch`);
    }
    const addresses = pick('REDIS_SENTINELS') ?? { sentinels: [] };
    const username = pick('REDIS_USERNAME');
    const password = pick('REDIS_PASSWORD');
    sentinels[environment] = {
      ...addresses,
      name: name ?? '',
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
    };
  }
  return { store: { kind: 'sentinel', sentinels }, problems };
}

/**
 * Replace the password in a URL (userinfo or `?password=`) with `***`.
 * Unparseable input is returned as `'[unparseable URL]'`, never echoed.
 *
 * @example
 * ```ts
 * redactUrl('redis://verigate-live:s3cret@redis:6379'); // 'redis://verigate-live:***@redis:6379'
 * ```
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '[unparseable URL]';
  }
  const secretParams = ['password', 'pass'].filter((key) => url.searchParams.has(key));
  if (!url.password && secretParams.length === 0) return value;
  if (url.password) url.password = '***';
  for (const key of secretParams) url.searchParams.set(key, '***');
  return url.href;
}

/** One environment's cluster in {@link ConfigSummary}: nodes as `host:port`, never the password. */
export interface ClusterSummary {
  nodes: string[];
  username?: string;
  password?: '***';
  tls?: true;
}

/** The shape returned by {@link redactedConfigSummary}. */
export interface ConfigSummary {
  listeners: { live: number | 'off'; sandbox: number | 'off'; admin: number | 'off' };
  adminHost: string;
  publicUrls: { live: string; sandbox: string };
  store:
    | { kind: 'embedded' }
    | { kind: 'redis'; urls: { live: string; sandbox: string } }
    | { kind: 'cluster'; clusters: { live: ClusterSummary | null; sandbox: ClusterSummary | null } }
    | { kind: 'sentinel'; sentinels: { live: SentinelSummary | null; sandbox: SentinelSummary | null } };
  keyPrefix: string;
  masterKey: 'generated' | 'set';
  adminToken: 'generated' | 'set';
  logLevel: LogLevel;
  redisCommandTimeoutMs: number;
  redisMinReplicas: number;
  shutdownGraceMs: number;
  workers: number;
  rateLimits: RateLimitConfig;
  eventRetentionHours: number;
  webhookRetrySchedule: number[] | null;
  webhookAllowPrivateTargets: boolean;
  maxSessionsPerUser: number;
  trustProxy: TrustProxy;
}

/** One environment's Sentinel setup in {@link ConfigSummary}: addresses and names, never a password. */
export interface SentinelSummary {
  sentinels: string[];
  name: string;
  sentinelUsername?: string;
  sentinelPassword?: '***';
  username?: string;
  password?: '***';
  tls?: true;
}

/**
 * A plain object describing `config` that is safe to log: no master key, no
 * admin token (only whether they were generated), URL passwords as `***`.
 *
 * @example
 * ```ts
 * log.info({ config: redactedConfigSummary(config) }, 'starting');
 * ```
 */
export function redactedConfigSummary(config: Config): ConfigSummary {
  const port = (p: number | null): number | 'off' => (p === null ? 'off' : p);
  const store: ConfigSummary['store'] =
    config.store.kind === 'redis'
      ? {
          kind: 'redis',
          urls: {
            live: config.store.urls.live && redactUrl(config.store.urls.live),
            sandbox: config.store.urls.sandbox && redactUrl(config.store.urls.sandbox),
          },
        }
      : config.store.kind === 'cluster'
        ? {
            kind: 'cluster',
            clusters: {
              live: config.store.clusters.live && clusterSummary(config.store.clusters.live),
              sandbox: config.store.clusters.sandbox && clusterSummary(config.store.clusters.sandbox),
            },
          }
        : config.store.kind === 'sentinel'
          ? {
              kind: 'sentinel',
              sentinels: {
                live: config.store.sentinels.live && sentinelSummary(config.store.sentinels.live),
                sandbox: config.store.sentinels.sandbox && sentinelSummary(config.store.sentinels.sandbox),
              },
            }
          : { kind: 'embedded' };
  return {
    listeners: { live: port(config.listeners.live), sandbox: port(config.listeners.sandbox), admin: port(config.listeners.admin) },
    adminHost: config.adminHost,
    publicUrls: { live: redactUrl(config.publicUrls.live), sandbox: redactUrl(config.publicUrls.sandbox) },
    store,
    keyPrefix: config.keyPrefix,
    masterKey: config.masterKeyGenerated ? 'generated' : 'set',
    adminToken: config.adminTokenGenerated ? 'generated' : 'set',
    logLevel: config.logLevel,
    redisCommandTimeoutMs: config.redisCommandTimeoutMs,
    redisMinReplicas: config.redisMinReplicas,
    shutdownGraceMs: config.shutdownGraceMs,
    workers: config.workers,
    rateLimits: { ...config.rateLimits },
    eventRetentionHours: config.eventRetentionHours,
    webhookRetrySchedule: config.webhookRetrySchedule === null ? null : [...config.webhookRetrySchedule],
    webhookAllowPrivateTargets: config.webhookAllowPrivateTargets,
    maxSessionsPerUser: config.maxSessionsPerUser,
    trustProxy: config.trustProxy,
  };
}

const hostPort = (n: ClusterNode): string => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`;

function sentinelSummary(target: SentinelTarget): SentinelSummary {
  return {
    sentinels: target.sentinels.map(hostPort),
    name: target.name,
    ...(target.sentinelUsername !== undefined && { sentinelUsername: target.sentinelUsername }),
    ...(target.sentinelPassword !== undefined && { sentinelPassword: '***' as const }),
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: '***' as const }),
    ...(target.tls === true && { tls: true as const }),
  };
}

function clusterSummary(cluster: ClusterTarget): ClusterSummary {
  return {
    nodes: cluster.nodes.map(hostPort),
    ...(cluster.username !== undefined && { username: cluster.username }),
    ...(cluster.password !== undefined && { password: '***' as const }),
    ...(cluster.tls === true && { tls: true as const }),
  };
}

/** Freeze objects and arrays recursively. Buffers cannot be frozen and are left as they are. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  return Object.freeze(value);
}
