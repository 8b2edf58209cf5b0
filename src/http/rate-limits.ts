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
    private readonly limiter: RateLimiterAbstract,
    private readonly policy: RateLimitPolicy,
  ) {
    this.policyHeader = `${policy.points};w=${policy.durationSeconds}`;
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
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
  /** Sign-in attempts per site (store-wide). */
  readonly signInPerSite: RateLimit;
  /**
   * Exchanges per API key, counted in this instance's memory: no store round
   * trip on the hot path. With N instances the effective limit is N times this.
   */
  readonly exchangePerApiKey: RateLimit;
  /** Refused API keys per client address (store-wide; only failures are counted). */
  readonly failedApiKeyPerIp: RateLimit;
}

/** The limits of one environment listener, as configured, the shared ones counted by `shared`. */
export function createRateLimits(shared: SharedLimiterFactory, limits: RateLimitConfig): RateLimits {
  const inStore = (name: string, points: number, blockInMemoryWhenExceeded = false) => {
    const policy = { points, durationSeconds: WINDOW_SECONDS };
    return new RateLimit(shared({ keyPrefix: `rl:${name}`, ...policy, blockInMemoryWhenExceeded }), policy);
  };
  const exchange = { points: limits.exchangePerApiKey, durationSeconds: WINDOW_SECONDS };
  return {
    signInPerIp: inStore('signin-ip', limits.signInPerAddress),
    signInPerSite: inStore('signin-site', limits.signInPerSite),
    failedApiKeyPerIp: inStore('failed-key-ip', limits.failedApiKeysPerAddress, true),
    exchangePerApiKey: new RateLimit(new RateLimiterMemory({ points: exchange.points, duration: exchange.durationSeconds }), exchange),
  };
}
