import type { KvStore } from '../../src/store/kv';

/** A pause armed by {@link gatedKv}'s `holdAfterRead`. */
export interface Hold {
  /** Resolves once the held read has read its value (and is waiting). */
  readonly reached: Promise<void>;
  /** Lets the held read return its (by then stale) value. */
  release(): void;
}

/**
 * A key-value store that can hold one read: `holdAfterRead(key, skip)` makes
 * the `skip`+1-th `get` of `key` from then on read its value and then wait
 * until released, so whatever its caller computes from that value meets
 * every write made meanwhile: a race's window, widened on purpose and with
 * no timer. `reads(key)` counts the gets of a key (what a cache saves).
 */
export function gatedKv(kv: KvStore): { kv: KvStore; holdAfterRead(key: string, skip?: number): Hold; reads(key: string): number } {
  const counts = new Map<string, number>();
  let armed: { key: string; skip: number; reached: () => void; released: Promise<void> } | null = null;
  const get = async (key: string): Promise<string | null> => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const value = await kv.get(key);
    const hold = armed;
    if (hold && hold.key === key) {
      if (hold.skip > 0) hold.skip--;
      else {
        armed = null;
        hold.reached();
        await hold.released;
      }
    }
    return value;
  };
  const wrapped = new Proxy(kv, {
    get(target, prop, receiver) {
      if (prop === 'get') return get;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    kv: wrapped,
    holdAfterRead(key, skip = 0) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((ok) => (reached = ok));
      const released = new Promise<void>((ok) => (release = ok));
      armed = { key, skip, reached, released };
      return { reached: reachedP, release };
    },
    reads: (key) => counts.get(key) ?? 0,
  };
}
