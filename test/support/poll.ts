/**
 * Polls `probe` until `done(value)` holds, at most `timeoutMs`, pausing
 * `intervalMs` between attempts. Resolves with the value that satisfied it;
 * rejects with the last value (or error) once the time is up. For waiting
 * on an outcome nothing emits an event for (a background write, a server
 * coming back), never as a sleep.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (done(value)) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (value && typeof value === 'object' && 'status' in value) {
    const r = value as { status: unknown; body?: unknown };
    return `${String(r.status)} ${JSON.stringify(r.body)}`;
  }
  return JSON.stringify(value);
}
