import { EventEmitter } from 'node:events';
import { RateLimiterAbstract, RateLimiterMemory } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';
import { guardLimiter } from './guard-limiter';
import { normalizeTtl, type ChannelListener, type KvStore, type RateLimiterOptions, type Subscription, type WriteOp } from './kv';

type Entry =
  | { readonly kind: 'string'; readonly value: string; readonly expiresAt: number | null }
  | { readonly kind: 'set'; readonly members: Set<string> };

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
      if (entry.kind === 'string' && entry.expiresAt !== null && entry.expiresAt <= now) this.data.delete(key);
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
    const ttls = ops.map((op) => (op.op === 'set' ? normalizeTtl(op.ttlMs) : undefined));
    this.assertOpen();
    const now = this.now();
    // Stage every change first, so a failing op leaves nothing half-applied.
    const staged = new Map<string, Entry | undefined>();
    const current = (full: string): Entry | undefined => (staged.has(full) ? staged.get(full) : this.live(full));
    const stagedSet = (full: string): Set<string> | undefined => {
      const entry = current(full);
      if (entry === undefined) return undefined;
      if (entry.kind !== 'set') throw new StoreUnavailableError(wrongType(full));
      return new Set(entry.members);
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
        case 'sadd': {
          const members = stagedSet(full) ?? new Set<string>();
          members.add(op.member);
          staged.set(full, { kind: 'set', members });
          break;
        }
        case 'srem': {
          const members = stagedSet(full);
          if (members === undefined) break;
          members.delete(op.member);
          staged.set(full, members.size === 0 ? undefined : { kind: 'set', members });
          break;
        }
      }
    });
    for (const [full, entry] of staged) {
      if (entry === undefined) this.backend.data.delete(full);
      else this.backend.data.set(full, entry);
    }
    this.backend.noteWrite(now);
  }

  async members(key: string): Promise<string[]> {
    this.assertOpen();
    const full = this.namespace + key;
    const entry = this.live(full);
    if (entry === undefined) return [];
    if (entry.kind !== 'set') throw new StoreUnavailableError(wrongType(full));
    return [...entry.members];
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
    if (entry.kind === 'string' && entry.expiresAt !== null && entry.expiresAt <= this.now()) {
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
