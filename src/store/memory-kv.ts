import { EventEmitter } from 'node:events';
import { RateLimiterAbstract, RateLimiterMemory } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';
import { guardLimiter } from './guard-limiter';
import {
  checkGuard,
  guardList,
  normalizeTtl,
  type ChannelListener,
  type KvStore,
  type LexRange,
  type LogEntry,
  type RateLimiterOptions,
  type Subscription,
  type WriteGuard,
  type WriteOp,
} from './kv';

type Entry =
  | { readonly kind: 'string'; readonly value: string; readonly expiresAt: number | null }
  | { readonly kind: 'set'; readonly members: Set<string>; readonly expiresAt: number | null }
  /** A Redis sorted set whose scores are all 0: ordered by member bytes. */
  | { readonly kind: 'zset'; readonly members: Set<string>; readonly expiresAt: number | null }
  /** A Redis sorted set ordered by score (then member bytes). */
  | { readonly kind: 'scored'; readonly scores: Map<string, number>; readonly expiresAt: number | null }
  | { readonly kind: 'hash'; readonly fields: Map<string, string>; readonly expiresAt: number | null }
  /**
   * An append-only log (a Redis Stream). `entries` is shared between the
   * committed entry and a staged one; what a batch appends waits in
   * `pending` (and trimming in `minIdMs`) until the batch commits.
   */
  | {
      readonly kind: 'stream';
      readonly entries: StreamItem[];
      readonly lastMs: number;
      readonly lastSeq: number;
      readonly pending: readonly StreamItem[];
      readonly minIdMs: number | null;
      readonly expiresAt: number | null;
    };

interface StreamItem {
  readonly id: string;
  readonly ms: number;
  readonly seq: number;
  readonly value: string;
}

/** `<ms>-<seq>` as numbers; null when malformed. */
export function parseLogId(id: string): { ms: number; seq: number } | null {
  const m = /^(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!m) return null;
  return { ms: Number(m[1]), seq: Number(m[2]) };
}

/** Redis orders equal-score sorted-set members by their bytes (memcmp), not by UTF-16 code units. */
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Opportunistic sweep of expired keys, so keys nobody reads again do not pile up. */
const SWEEP_EVERY_WRITES = 1000;

/**
 * The data behind one or more `MemoryKvStore`s: what a Redis server is to
 * several gateway instances. Keys and channels are held with their full
 * namespace, so stores over one backend are isolated by namespace only.
 */
export class MemoryBackend {
  /** Full key (namespace included) -> value. */
  readonly data = new Map<string, Entry>();
  /** Pub/sub: one event per full channel name (prefixed with `msg:`). */
  readonly emitter = new EventEmitter();
  /** Rate limiters by full key prefix, points and duration, so stores over one backend share counts. */
  readonly limiters = new Map<string, RateLimiterMemory>();
  private writesSinceSweep = 0;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Called after every write; now and then drops every expired key. */
  noteWrite(now: number): void {
    if (++this.writesSinceSweep < SWEEP_EVERY_WRITES) return;
    this.writesSinceSweep = 0;
    for (const [key, entry] of this.data) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) this.data.delete(key);
    }
  }
}

export interface MemoryKvStoreOptions {
  /** e.g. `vg:live:` */
  readonly namespace: string;
  /** Epoch ms; TTLs are measured against it. Default `Date.now`. */
  readonly now?: () => number;
  /** Share one backend between stores (two app instances in one process). */
  readonly shared?: MemoryBackend;
}

/** The TTL an op sets (`set` with `ttlMs`, `pexpire`), checked before anything is applied. */
function ttlOf(op: WriteOp): number | undefined {
  if (op.op === 'set') return normalizeTtl(op.ttlMs);
  if (op.op === 'pexpire') return normalizeTtl(op.ttlMs);
  return undefined;
}

const channelEvent = (fullChannel: string): string => `msg:${fullChannel}`;

function wrongType(key: string): Error {
  return new Error(`WRONGTYPE Operation against a key holding the wrong kind of value (${key})`);
}

interface MemorySubscription extends Subscription {
  closeNow(): void;
}

/**
 * The embedded in-process store. Keeps the `KvStore` contract exactly like
 * `RedisKvStore` does (TTLs, atomic batches, async pub/sub delivery), so the
 * app cannot tell them apart; nothing persists across restarts.
 */
export class MemoryKvStore implements KvStore {
  readonly namespace: string;
  readonly backend: MemoryBackend;
  private readonly now: () => number;
  private closed = false;
  private readonly subscriptions = new Set<MemorySubscription>();

  constructor(options: MemoryKvStoreOptions) {
    if (!options.namespace) throw new TypeError('namespace is required');
    this.namespace = options.namespace;
    this.now = options.now ?? Date.now;
    this.backend = options.shared ?? new MemoryBackend();
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    return this.readString(this.namespace + key);
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    this.assertOpen();
    return keys.map((key) => this.readString(this.namespace + key));
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs);
    this.assertOpen();
    const full = this.namespace + key;
    if (this.live(full) !== undefined) return false;
    const now = this.now();
    this.backend.data.set(full, { kind: 'string', value, expiresAt: ttl === undefined ? null : now + ttl });
    this.backend.noteWrite(now);
    return true;
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    const ttls = ops.map(ttlOf);
    this.assertOpen();
    this.commit(this.stage(ops, ttls));
  }

  async writeIf(guard: WriteGuard | readonly WriteGuard[], ops: readonly WriteOp[]): Promise<boolean> {
    const guards = guardList(guard);
    guards.forEach(checkGuard);
    const ttls = ops.map(ttlOf);
    this.assertOpen();
    // One synchronous turn: nothing can write between the checks and the commit.
    for (const g of guards) {
      const holds =
        'equals' in g ? this.readString(this.namespace + g.key) === g.equals : this.lexMembers(g.key, g.prefix).length < g.fewerThan;
      if (!holds) return false;
    }
    this.commit(this.stage(ops, ttls));
    return true;
  }

  async rangeByLex(key: string, range: LexRange): Promise<string[]> {
    this.assertOpen();
    const after = range.after;
    return this.lexMembers(key, range.prefix)
      .filter((m) => after === undefined || byteOrder(m, after) > 0)
      .sort(byteOrder)
      .slice(0, range.limit);
  }

  async countByLex(key: string, prefix: string): Promise<number> {
    this.assertOpen();
    return this.lexMembers(key, prefix).length;
  }

  /** The members of the lexicographic set under `key` that start with `prefix`, unordered. */
  private lexMembers(key: string, prefix: string): string[] {
    const full = this.namespace + key;
    const entry = this.live(full);
    if (entry === undefined) return [];
    if (entry.kind !== 'zset') throw new StoreUnavailableError(wrongType(full));
    return [...entry.members].filter((m) => m.startsWith(prefix));
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    this.assertOpen();
    const full = this.namespace + key;
    const entry = this.live(full);
    if (entry === undefined) return {};
    if (entry.kind !== 'hash') throw new StoreUnavailableError(wrongType(full));
    return Object.fromEntries(entry.fields);
  }

  /** Every change of `ops`, worked out against the data without touching it, so a failing op leaves nothing half-applied. */
  private stage(ops: readonly WriteOp[], ttls: readonly (number | undefined)[]): Map<string, Entry | undefined> {
    const now = this.now();
    const staged = new Map<string, Entry | undefined>();
    const current = (full: string): Entry | undefined => (staged.has(full) ? staged.get(full) : this.live(full));
    const members = (full: string, kind: 'set' | 'zset'): { members: Set<string>; expiresAt: number | null } | undefined => {
      const entry = current(full);
      if (entry === undefined) return undefined;
      if (entry.kind !== kind) throw new StoreUnavailableError(wrongType(full));
      return { members: new Set(entry.members), expiresAt: entry.expiresAt };
    };
    ops.forEach((op, i) => {
      const full = this.namespace + op.key;
      switch (op.op) {
        case 'set': {
          const ttl = ttls[i];
          staged.set(full, { kind: 'string', value: op.value, expiresAt: ttl === undefined ? null : now + ttl });
          break;
        }
        case 'del':
          staged.set(full, undefined);
          break;
        case 'sadd':
        case 'zadd': {
          const kind = op.op === 'sadd' ? 'set' : 'zset';
          const set = members(full, kind) ?? { members: new Set<string>(), expiresAt: null };
          set.members.add(op.member);
          staged.set(full, { kind, ...set });
          break;
        }
        case 'zscore': {
          const entry = current(full);
          if (entry !== undefined && entry.kind !== 'scored') throw new StoreUnavailableError(wrongType(full));
          const scores = new Map(entry?.scores ?? []);
          scores.set(op.member, op.score);
          staged.set(full, { kind: 'scored', scores, expiresAt: entry?.expiresAt ?? null });
          break;
        }
        case 'srem':
        case 'zrem': {
          const scoredEntry = current(full);
          if (op.op === 'zrem' && scoredEntry?.kind === 'scored') {
            const scores = new Map(scoredEntry.scores);
            scores.delete(op.member);
            staged.set(full, scores.size === 0 ? undefined : { kind: 'scored', scores, expiresAt: scoredEntry.expiresAt });
            break;
          }
          const kind = op.op === 'srem' ? 'set' : 'zset';
          const set = members(full, kind);
          if (set === undefined) break;
          set.members.delete(op.member);
          staged.set(full, set.members.size === 0 ? undefined : { kind, ...set });
          break;
        }
        case 'hincrby': {
          const entry = current(full);
          if (entry !== undefined && entry.kind !== 'hash') throw new StoreUnavailableError(wrongType(full));
          const fields = new Map(entry?.fields ?? []);
          const value = Number(fields.get(op.field) ?? '0') + op.by;
          fields.set(op.field, String(value));
          staged.set(full, { kind: 'hash', fields, expiresAt: entry?.expiresAt ?? null });
          break;
        }
        case 'pexpire': {
          const entry = current(full);
          if (entry === undefined) break;
          const at = now + (ttls[i] as number);
          if (op.extendOnly && entry.expiresAt !== null && entry.expiresAt >= at) break;
          staged.set(full, { ...entry, expiresAt: at });
          break;
        }
        case 'xadd': {
          const entry = current(full);
          if (entry !== undefined && entry.kind !== 'stream') throw new StoreUnavailableError(wrongType(full));
          const lastMs = entry?.lastMs ?? 0;
          const lastSeq = entry?.lastSeq ?? -1;
          // Like Redis: the clock's ms, or the last id's ms with the next sequence when the clock has not moved on.
          const ms = now > lastMs ? now : lastMs;
          const seq = ms === lastMs ? lastSeq + 1 : 0;
          const item: StreamItem = { id: `${ms}-${seq}`, ms, seq, value: op.value };
          staged.set(full, {
            kind: 'stream',
            entries: entry?.entries ?? [],
            lastMs: ms,
            lastSeq: seq,
            pending: [...(entry?.pending ?? []), item],
            minIdMs: op.minIdMs ?? entry?.minIdMs ?? null,
            expiresAt: entry?.expiresAt ?? null,
          });
          break;
        }
      }
    });
    return staged;
  }

  private commit(staged: ReadonlyMap<string, Entry | undefined>): void {
    for (const [full, staging] of staged) {
      let entry = staging;
      if (entry?.kind === 'stream' && (entry.pending.length > 0 || entry.minIdMs !== null)) {
        const entries = entry.entries;
        entries.push(...entry.pending);
        const minIdMs = entry.minIdMs;
        if (minIdMs !== null) {
          let drop = 0;
          while (drop < entries.length && (entries[drop] as StreamItem).ms < minIdMs) drop++;
          if (drop > 0) entries.splice(0, drop);
        }
        entry = { ...entry, pending: [], minIdMs: null };
      }
      if (entry === undefined) this.backend.data.delete(full);
      else this.backend.data.set(full, entry);
    }
    this.backend.noteWrite(this.now());
  }

  async members(key: string): Promise<string[]> {
    this.assertOpen();
    const full = this.namespace + key;
    const entry = this.live(full);
    if (entry === undefined) return [];
    if (entry.kind !== 'set') throw new StoreUnavailableError(wrongType(full));
    return [...entry.members];
  }

  async logRange(key: string, after: string | null, limit: number): Promise<LogEntry[]> {
    this.assertOpen();
    const from = after === null ? null : parseLogId(after);
    if (after !== null && from === null) throw new StoreUnavailableError(new Error(`ERR Invalid stream ID ${after}`));
    const entry = this.stream(this.namespace + key);
    if (entry === undefined) return [];
    const items = entry.entries;
    // Binary search for the first entry after `from`.
    let lo = 0;
    let hi = items.length;
    if (from !== null) {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const it = items[mid] as StreamItem;
        if (it.ms < from.ms || (it.ms === from.ms && it.seq <= from.seq)) lo = mid + 1;
        else hi = mid;
      }
    }
    return items.slice(lo, lo + limit).map((it) => ({ id: it.id, value: it.value }));
  }

  async rangeByScore(key: string, max: number, limit: number): Promise<string[]> {
    this.assertOpen();
    const full = this.namespace + key;
    const entry = this.live(full);
    if (entry === undefined) return [];
    if (entry.kind !== 'scored') throw new StoreUnavailableError(wrongType(full));
    return [...entry.scores]
      .filter(([, score]) => score <= max)
      .sort(([am, as], [bm, bs]) => as - bs || byteOrder(am, bm))
      .slice(0, limit)
      .map(([member]) => member);
  }

  async logRangeBefore(key: string, before: string | null, limit: number, inclusive = false): Promise<LogEntry[]> {
    this.assertOpen();
    const to = before === null ? null : parseLogId(before);
    if (before !== null && to === null) throw new StoreUnavailableError(new Error(`ERR Invalid stream ID ${before}`));
    const entry = this.stream(this.namespace + key);
    if (entry === undefined) return [];
    const items = entry.entries;
    // Binary search for the first entry after the bound (at or after it when exclusive).
    let lo = 0;
    let hi = items.length;
    if (to !== null) {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const it = items[mid] as StreamItem;
        const belowOrAt = it.ms < to.ms || (it.ms === to.ms && (inclusive ? it.seq <= to.seq : it.seq < to.seq));
        if (belowOrAt) lo = mid + 1;
        else hi = mid;
      }
    } else {
      lo = items.length;
    }
    return items
      .slice(Math.max(0, lo - limit), lo)
      .reverse()
      .map((it) => ({ id: it.id, value: it.value }));
  }

  async logLastId(key: string): Promise<string | null> {
    this.assertOpen();
    const entry = this.stream(this.namespace + key);
    const last = entry?.entries[entry.entries.length - 1];
    return last === undefined ? null : last.id;
  }

  private stream(full: string): Extract<Entry, { kind: 'stream' }> | undefined {
    const entry = this.live(full);
    if (entry === undefined) return undefined;
    if (entry.kind !== 'stream') throw new StoreUnavailableError(wrongType(full));
    return entry;
  }

  async publish(channel: string, payload: string): Promise<void> {
    this.assertOpen();
    const event = channelEvent(this.namespace + channel);
    // Delivered later, like a message arriving over a connection.
    setImmediate(() => this.backend.emitter.emit(event, payload));
  }

  async subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    this.assertOpen();
    const event = channelEvent(this.namespace + channel);
    const onMessage = (payload: string): void => {
      try {
        listener.message(payload);
      } catch (err) {
        process.emitWarning(`store subscriber for ${channel} threw: ${String(err)}`);
      }
    };
    const emitter = this.backend.emitter;
    const subscriptions = this.subscriptions;
    let open = true;
    const subscription: MemorySubscription = {
      get active() {
        return open;
      },
      closeNow() {
        if (!open) return;
        open = false;
        emitter.off(event, onMessage);
        subscriptions.delete(subscription);
      },
      async close() {
        subscription.closeNow();
      },
    };
    emitter.on(event, onMessage);
    subscriptions.add(subscription);
    listener.reset();
    return subscription;
  }

  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract {
    const keyPrefix = this.namespace + options.keyPrefix;
    const id = `${keyPrefix}\n${options.points}\n${options.durationSeconds}`;
    let inner = this.backend.limiters.get(id);
    if (inner === undefined) {
      inner = new RateLimiterMemory({ keyPrefix, points: options.points, duration: options.durationSeconds });
      this.backend.limiters.set(id, inner);
    }
    return guardLimiter(inner, () => this.closed);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of [...this.subscriptions]) subscription.closeNow();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
  }

  /** The entry under `full`, dropping it when expired. */
  private live(full: string): Entry | undefined {
    const entry = this.backend.data.get(full);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.backend.data.delete(full);
      return undefined;
    }
    return entry;
  }

  private readString(full: string): string | null {
    const entry = this.live(full);
    if (entry === undefined) return null;
    if (entry.kind !== 'string') throw new StoreUnavailableError(wrongType(full));
    return entry.value;
  }
}
