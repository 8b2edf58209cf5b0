/**
 * The part of `key` Redis Cluster hashes to pick a slot: what is inside the
 * first `{…}` when that is not empty, else the whole key.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * Multi-key calls promise one hash tag (KvStore). Checked on every Redis, not
 * only on a cluster, so a call that would fail with CROSSSLOT in production
 * fails in every test run too.
 */
export function checkOneSlot(method: string, keys: readonly string[]): void {
  if (keys.length < 2) return;
  const tag = hashTagOf(keys[0] as string);
  const stray = keys.find((key) => hashTagOf(key) !== tag);
  if (stray !== undefined) {
    throw new TypeError(`${method}: every key must share one hash tag (Redis Cluster slot); ${keys[0]} and ${stray} do not`);
  }
}
