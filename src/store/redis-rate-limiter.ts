import { RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { guardLimiter } from './guard-limiter';
import type { RateLimiterOptions } from './kv';
import type { RedisClient } from './redis-connections';

/**
 * A rate limiter counted in Redis (rate-limiter-flexible), under `namespace`.
 * Fails closed: no insurance limiter, no waiting for a connection, and
 * every store failure (or any call once `isClosed()`) rejects with
 * StoreUnavailableError; a limit hit rejects with RateLimiterRes.
 */
export function redisRateLimiter(
  client: RedisClient,
  namespace: string,
  options: RateLimiterOptions,
  isClosed: () => boolean,
): RateLimiterAbstract {
  const inner = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: namespace + options.keyPrefix,
    points: options.points,
    duration: options.durationSeconds,
    ...(options.blockInMemoryWhenExceeded && {
      inMemoryBlockOnConsumed: options.points + 1,
      inMemoryBlockDuration: options.durationSeconds,
    }),
    rejectIfRedisNotReady: true,
  });
  return guardLimiter(inner, isClosed);
}
