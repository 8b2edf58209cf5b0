import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config';
import { StoreUnavailableError, VerigateError } from '../domain/errors';

export interface RateLimitPolicy {
  readonly points: number;
  readonly durationSeconds: number;
}

/**
 * Makes a limiter counted in the environment's store, shared by every
 * instance (the key-value store's `rateLimiter`).
 */
export type SharedLimiterFactory = (options: {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly blockInMemoryWhenExceeded?: boolean;
}) => RateLimiterAbstract;

/** The names of SPEC §7's limits: the `limit` label of `verigate_rate_limited_total`. */
export type RateLimitName =
  | 'sign_in_per_address'
  | 'sign_in_failures_per_site'
  | 'session_per_address'
  | 'failed_api_keys_per_address'
  | 'exchange_per_api_key'
  | 'admin_failures_per_address';

/** Told of every refusal (metrics). */
export type OnRateLimited = (limit: RateLimitName) => void;

/** Every limit of SPEC §7 is a count per minute. */
const WINDOW_SECONDS = 60;

/**
 * One named limit. `consume` resolves when allowed; otherwise throws
 * `rate_limited` with `Retry-After` and `RateLimit` headers, or
 * `store_unavailable` when the store cannot count (fail closed).
 */
export class RateLimit {
  private readonly policyHeader: string;

  constructor(
    readonly name: RateLimitName,
    private readonly limiter: RateLimiterAbstract,
    private readonly policy: RateLimitPolicy,
    private readonly onRateLimited: OnRateLimited = () => undefined,
  ) {
    this.policyHeader = `${policy.points};w=${policy.durationSeconds}`;
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        this.onRateLimited(this.name);
        const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new VerigateError('rate_limited', `Too many requests; retry in ${retryAfter} s`, undefined, {
          'Retry-After': String(retryAfter),
          RateLimit: `limit=${this.policy.points}, remaining=0, reset=${retryAfter}`,
          'RateLimit-Policy': this.policyHeader,
        });
      }
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
    }
  }
}

/** Every rate limit of an environment listener. */
export interface RateLimits {
  /** Sign-in attempts per client address (store-wide). */
  readonly signInPerIp: RateLimit;
  /**
   * Refused sign-ins per site (store-wide): consumed only by a refusal,
   * after the identity token was checked, so a valid token never meets it.
   */
  readonly signInFailuresPerSite: RateLimit;
  /** Session reads, sign-outs and token mints per client address (store-wide). */
  readonly sessionPerIp: RateLimit;
  /**
   * Exchanges per API key, counted in this instance's memory: no store round
   * trip on the hot path. With N instances the effective limit is N times this.
   */
  readonly exchangePerApiKey: RateLimit;
  /** Refused API keys per client address (store-wide; only failures are counted). */
  readonly failedApiKeyPerIp: RateLimit;
}

const inStore = (shared: SharedLimiterFactory, onRateLimited: OnRateLimited) =>
  (name: RateLimitName, keyPrefix: string, points: number, blockInMemoryWhenExceeded = false): RateLimit => {
    const policy = { points, durationSeconds: WINDOW_SECONDS };
    return new RateLimit(name, shared({ keyPrefix: `rl:${keyPrefix}`, ...policy, blockInMemoryWhenExceeded }), policy, onRateLimited);
  };

/** The limits of one environment listener, as configured, the shared ones counted by `shared`. */
export function createRateLimits(shared: SharedLimiterFactory, limits: RateLimitConfig, onRateLimited?: OnRateLimited): RateLimits {
  const counted = onRateLimited ?? (() => undefined);
  const limit = inStore(shared, counted);
  const exchange = { points: limits.exchangePerApiKey, durationSeconds: WINDOW_SECONDS };
  return {
    signInPerIp: limit('sign_in_per_address', 'signin-ip', limits.signInPerAddress),
    signInFailuresPerSite: limit('sign_in_failures_per_site', 'signin-failures-site', limits.signInFailuresPerSite, true),
    sessionPerIp: limit('session_per_address', 'session-ip', limits.sessionPerAddress),
    failedApiKeyPerIp: limit('failed_api_keys_per_address', 'failed-key-ip', limits.failedApiKeysPerAddress, true),
    exchangePerApiKey: new RateLimit(
      'exchange_per_api_key',
      new RateLimiterMemory({ points: exchange.points, duration: exchange.durationSeconds }),
      exchange,
      counted,
    ),
  };
}

/**
 * The admin listener's limit: refused admin tokens per client address,
 * counted in the store of the first environment this process serves (the
 * admin listener spans both), so every instance shares the count.
 */
export function createAdminRateLimit(shared: SharedLimiterFactory, limits: RateLimitConfig, onRateLimited?: OnRateLimited): RateLimit {
  return inStore(shared, onRateLimited ?? (() => undefined))('admin_failures_per_address', 'admin-failures-ip', limits.adminFailuresPerAddress, true);
}
