/** Base of the exponential backoff between attempts. */
export const RETRY_BASE_DELAY_MS = 100;

/**
 * How long to wait before attempt `attempt + 1` (attempt counts from 0):
 * the server's `Retry-After` when it sent one, else exponential backoff with
 * jitter (half fixed, half random, so a fleet of clients does not retry in
 * lockstep); either way never more than `maxDelayMs`.
 */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | null, maxDelayMs: number, random = Math.random): number {
  if (retryAfterSeconds !== null) return Math.min(retryAfterSeconds * 1000, maxDelayMs);
  const exponential = Math.min(RETRY_BASE_DELAY_MS * 2 ** attempt, maxDelayMs);
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. `null`
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
