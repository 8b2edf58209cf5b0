import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * One write in an atomic batch. Keys are relative to the store's namespace.
 * `ttlMs` on `set` makes the key expire; without it the key persists (and any
 * earlier expiry is cleared).
 */
export type WriteOp =
  | { readonly op: 'set'; readonly key: string; readonly value: string; readonly ttlMs?: number }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'sadd'; readonly key: string; readonly member: string }
  | { readonly op: 'srem'; readonly key: string; readonly member: string }
  /** Adds `member` to a lexicographically ordered set (a Redis sorted set, every score 0; see `rangeByLex`). */
  | { readonly op: 'zadd'; readonly key: string; readonly member: string }
  | { readonly op: 'zrem'; readonly key: string; readonly member: string }
  /** Adds `member` to a scored set (a Redis sorted set ordered by score; see `rangeByScore`), or moves it to `score`. */
  | { readonly op: 'zscore'; readonly key: string; readonly member: string; readonly score: number }
  /** Adds `by` to the integer counter `field` of a hash (created at 0). */
  | { readonly op: 'hincrby'; readonly key: string; readonly field: string; readonly by: number }
  /**
   * Makes an existing key (of any kind) expire `ttlMs` from now; nothing when it is absent.
   * With `extendOnly`, never sooner than it would already (a key without expiry gets this one):
   * an index that must outlive each of its members, whichever is written last.
   */
  | { readonly op: 'pexpire'; readonly key: string; readonly ttlMs: number; readonly extendOnly?: boolean }
  /**
   * Appends `value` to an append-only log (a Redis Stream, one field `e`)
   * under an id the store assigns (`<ms>-<seq>`, always above the log's last
   * id). With `minIdMs`, entries whose id's time is below it may be dropped
   * (approximate trimming: whole blocks, never an entry at or above it).
   */
  | { readonly op: 'xadd'; readonly key: string; readonly value: string; readonly minIdMs?: number };

/** One entry of an append-only log (`xadd`). */
export interface LogEntry {
  /** `<ms>-<seq>`: orders entries of one log. */
  readonly id: string;
  readonly value: string;
}

/** How a write is acknowledged. */
export interface WriteOptions {
  /**
   * A revocation (SPEC §13): resolve only once the number of replicas the
   * store was configured with (`REDIS_MIN_REPLICAS`) hold the write (Redis
   * `WAIT`, on the connection and node that wrote it, within the command
   * timeout); otherwise reject with `StoreUnavailableError`, the write
   * perhaps applied on the master only. With no replicas asked for (and on
   * the embedded store, which has none) a plain write. Use it through
   * src/store/records/revocations.ts.
   */
  readonly replicated?: boolean;
}

/** One condition of `writeIf`. */
export type WriteGuard =
  /** The string under `key` is `equals` (null: the key is absent). */
  | { readonly key: string; readonly equals: string | null }
  /**
   * The lexicographic set under `key` has fewer than `fewerThan` members
   * that start with `prefix` (an absent set has none): a bound on a count
   * the set itself keeps, such as a site's users in its index.
   */
  | { readonly key: string; readonly prefix: string; readonly fewerThan: number };

/** A page of a lexicographically ordered set: members that start with `prefix`, after `after`, at most `limit`. */
export interface LexRange {
  readonly prefix: string;
  /** Exclusive: the last member of the previous page. */
  readonly after?: string;
  readonly limit: number;
}

/** Told about pub/sub traffic on one channel. */
export interface ChannelListener {
  /** A message published on the channel (by any instance, this one included). */
  message(payload: string): void;
  /**
   * Messages may have been missed (the subscriber connection dropped, or it
   * has just (re)subscribed). Anything cached on the strength of this
   * channel must be dropped.
   */
  reset(): void;
}

export interface Subscription {
  /**
   * True while messages are guaranteed to arrive. A cache invalidated by this
   * channel may only serve entries while it is true.
   */
  readonly active: boolean;
  close(): Promise<void>;
}

export interface RateLimiterOptions {
  /** Relative to the namespace, e.g. `rl:signin-ip`. */
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  /**
   * Once a key is over the limit, refuse it from memory for the rest of the
   * window without asking the store (a flood costs no store traffic).
   */
  readonly blockInMemoryWhenExceeded?: boolean;
}

/**
 * The small key-value engine under every record store (src/store/records):
 * two implementations, the embedded `MemoryKvStore` (memory-kv.ts) and
 * `RedisKvStore` (redis-kv.ts, one server or a Cluster). The domain never sees it:
 * it talks to the ports of src/domain/ports.ts, which src/store/records
 * implements on top of this. One instance serves exactly one environment:
 * the store itself prefixes every key and channel with its `namespace`
 * (`<prefix>:<environment>:`), so no caller can reach the other
 * environment's data.
 *
 * Promises every implementation keeps (proved by test/contract/store.contract.ts):
 * - Every method either does what it says or rejects with
 *   `StoreUnavailableError`; a fault is never reported as "absent".
 * - `write` applies all of its ops or none, atomically for readers;
 *   `writeIf` does the same only while its guards hold, checked in the
 *   same atomic step (compare-and-set: no other write comes in between).
 * - Members of a lexicographic set are ordered by their UTF-8 bytes, as
 *   Redis orders them.
 * - Multi-key calls (`getMany`, `write`, `writeIf`) take keys that share one hash tag
 *   (`{...}`), so they stay single-slot on Redis Cluster.
 * - A key written with `ttlMs` reads as absent once that time has passed.
 */
export interface KvStore {
  /** e.g. `vg:live:` */
  readonly namespace: string;
  get(key: string): Promise<string | null>;
  /** All keys in one round trip; same hash tag. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** Sets `key` only when absent; true when this call wrote it. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** Atomic batch; same hash tag for every key. */
  write(ops: readonly WriteOp[], options?: WriteOptions): Promise<void>;
  /**
   * Applies `ops` atomically only when every guard holds at that moment;
   * true when it did. Same hash tag for every key, the guards' included.
   */
  writeIf(guard: WriteGuard | readonly WriteGuard[], ops: readonly WriteOp[], options?: WriteOptions): Promise<boolean>;
  /** A page of a lexicographic set (members written by `zadd`), in byte order. */
  rangeByLex(key: string, range: LexRange): Promise<string[]>;
  /** How many members of a lexicographic set start with `prefix` (every member for ''; 0 when absent). */
  countByLex(key: string, prefix: string): Promise<number>;
  /** Every field of a hash (written by `hincrby`); empty when absent. */
  hashGetAll(key: string): Promise<Record<string, string>>;
  /** Members of a set (empty when absent). */
  members(key: string): Promise<string[]>;
  /** Members of a scored set (`zscore`) whose score is at most `max`, lowest score first, at most `limit`. */
  rangeByScore(key: string, max: number, limit: number): Promise<string[]>;
  /** Entries of a log before `before` (exclusive; null: from the last), newest first, at most `limit`; `inclusive` takes `before` itself too. */
  logRangeBefore(key: string, before: string | null, limit: number, inclusive?: boolean): Promise<LogEntry[]>;
  /** Entries of a log (written by `xadd`) after `after` (exclusive; null: from the first), oldest first, at most `limit`. */
  logRange(key: string, after: string | null, limit: number): Promise<LogEntry[]>;
  /** The id of the log's last entry, or null when the log is empty or absent. */
  logLastId(key: string): Promise<string | null>;
  publish(channel: string, payload: string): Promise<void>;
  subscribe(channel: string, listener: ChannelListener): Promise<Subscription>;
  /** A rate limiter kept in this store, under this namespace. */
  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A TTL as both engines take it: a positive number of ms, fractions rounded up; anything else is refused as Redis would. */
export function normalizeTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** `writeIf`'s guards as a list. */
export function guardList(guard: WriteGuard | readonly WriteGuard[]): readonly WriteGuard[] {
  return Array.isArray(guard) ? guard : [guard as WriteGuard];
}

/** A `fewerThan` bound as both engines take it: a non-negative safe integer. */
export function checkGuard(guard: WriteGuard): void {
  if ('fewerThan' in guard && !(Number.isSafeInteger(guard.fewerThan) && guard.fewerThan >= 0)) {
    throw new RangeError(`fewerThan must be a non-negative integer, got ${guard.fewerThan}`);
  }
}
