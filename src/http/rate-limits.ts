import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailableError, VerigateError } from '../domain/errors';
import type { KvStore as Store } from '../store/kv';

export interface RateLimitPolicy {
  readonly points: number;
  readonly durationSeconds: number;
}

/** Every rate limit of an environment listener. */
export interface RateLimitSettings {
  /** Sign-in attempts per client address (store-wide). */
  readonly signInPerIp: RateLimitPolicy;
  /** Sign-in attempts per site (store-wide). */
  readonly signInPerSite: RateLimitPolicy;
  /**
   * Exchanges per API key, counted in this instance's memory: no store round
   * trip on the hot path. With N instances the effective limit is N times this.
   */
  readonly exchangePerApiKey: RateLimitPolicy;
  /** Refused API keys per client address (store-wide; only failures are counted). */
  readonly failedApiKeyPerIp: RateLimitPolicy;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  signInPerIp: { points: 60, durationSeconds: 60 },
  signInPerSite: { points: 6000, durationSeconds: 60 },
  exchangePerApiKey: { points: 200_000, durationSeconds: 60 },
  failedApiKeyPerIp: { points: 100, durationSeconds: 60 },
};

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

export interface RateLimits {
  readonly signInPerIp: RateLimit;
  readonly signInPerSite: RateLimit;
  readonly exchangePerApiKey: RateLimit;
  readonly failedApiKeyPerIp: RateLimit;
}

export function createRateLimits(store: Store, settings: RateLimitSettings = DEFAULT_RATE_LIMITS): RateLimits {
  const shared = (name: string, policy: RateLimitPolicy, blockInMemoryWhenExceeded = false) =>
    new RateLimit(
      store.rateLimiter({
        keyPrefix: `rl:${name}`,
        points: policy.points,
        durationSeconds: policy.durationSeconds,
        blockInMemoryWhenExceeded,
      }),
      policy,
    );
  return {
    signInPerIp: shared('signin-ip', settings.signInPerIp),
    signInPerSite: shared('signin-site', settings.signInPerSite),
    failedApiKeyPerIp: shared('failed-key-ip', settings.failedApiKeyPerIp, true),
    exchangePerApiKey: new RateLimit(
      new RateLimiterMemory({
        points: settings.exchangePerApiKey.points,
        duration: settings.exchangePerApiKey.durationSeconds,
      }),
      settings.exchangePerApiKey,
    ),
  };
}
