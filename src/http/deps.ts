import type { Logger } from 'pino';
import type { Domain } from '../domain';
import type { AdminAccess } from '../domain/admin-access';
import type { Environment } from '../domain/environments';
import type { StoreHealth } from '../domain/ports';
import type { Metrics } from '../ops/metrics';
import type { ClientAddressOf } from './client-address';
import type { ConsoleAssets } from './console-assets';
import type { Pipeline } from './pipeline';
import type { RateLimit, RateLimits } from './rate-limits';

/** What the handlers of one environment listener work with. */
export interface EnvironmentDeps {
  readonly domain: Domain;
  /** This environment's store, for readiness. */
  readonly health: StoreHealth;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The steps every request of this listener shares (handlers that answer on node's response send through it). */
  readonly pipeline: Pipeline;
  /** This environment's rate limits (createRateLimits over its store). */
  readonly rateLimits: RateLimits;
  /** The OpenAPI document, served as it is. */
  readonly openapiYaml: string;
  /** The browser SDK bundle, when built. */
  readonly sdkScript: string | null;
  /** True once SIGTERM has been received: readiness turns 503. */
  readonly draining: () => boolean;
}

/** What the admin listener works with: both environments. */
export interface AdminDeps {
  /** Both environments, unless this process serves only one (no store for the other). */
  readonly domains: Readonly<Partial<Record<Environment, Domain>>>;
  /** The stores of those environments, for readiness. */
  readonly health: readonly StoreHealth[];
  /** Who may call: the root token, scoped admin tokens, console sessions. */
  readonly access: AdminAccess;
  /** Each environment's public base URL (the `iss` of its tokens), for `GET /admin/v1/environments`. */
  readonly publicUrls: Readonly<Record<Environment, string>>;
  /** The console's built page and assets (null when not built). */
  readonly consoleAssets: ConsoleAssets | null;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly openapiYaml: string;
  readonly draining: () => boolean;
  /** Settles each request's client address (TRUST_PROXY), as on the environment listeners. */
  readonly clientAddressOf?: ClientAddressOf;
  /** Refused admin tokens per client address (RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS); none when this process has no store. */
  readonly adminFailures?: RateLimit;
}
