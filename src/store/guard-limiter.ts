import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';

const LIMITER_METHODS = ['consume', 'penalty', 'reward', 'get', 'set', 'block', 'delete'] as const;

/**
 * A view of `inner` (same prototype chain, so `instanceof` and the
 * properties still hold) whose store failures, and every call once the store
 * is closed, reject with StoreUnavailableError; a limit hit still rejects
 * with RateLimiterRes. Shared by both store adapters.
 */
export function guardLimiter<T extends RateLimiterAbstract>(inner: T, isClosed: () => boolean): T {
  const outer = Object.create(inner) as T;
  for (const name of LIMITER_METHODS) {
    const fn = (inner as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!;
    Object.defineProperty(outer, name, {
      value: async (...args: unknown[]): Promise<unknown> => {
        if (isClosed()) throw new StoreUnavailableError(new Error('store is closed'));
        try {
          return await fn.apply(inner, args);
        } catch (err) {
          if (err instanceof RateLimiterRes || err instanceof StoreUnavailableError) throw err;
          throw new StoreUnavailableError(err);
        }
      },
    });
  }
  return outer;
}
