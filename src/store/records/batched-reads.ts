import type { KvStore } from '../kv';

/** At most this many keys go in one batched read; past it, another batch starts. */
const MAX_KEYS_PER_READ = 128;

interface Reader {
  readonly offset: number;
  readonly count: number;
  resolve(values: (string | null)[]): void;
  reject(err: unknown): void;
}

interface Batch {
  readonly keys: string[];
  readonly readers: Reader[];
}

/**
 * Store reads of one event-loop turn, gathered by hash tag: the exchanges
 * that reach their read in the same turn share one `getMany` (one MGET)
 * per site. Every key of a batch carries the site's hash tag, so it stays a
 * single-slot command on Redis Cluster, and it is still one round trip per
 * exchange; but one write, one reply and one command's bookkeeping serve
 * them all. Nothing waits for a batch to fill: a turn's reads go out at the
 * end of that turn (setImmediate). A failure fails every read of its batch,
 * each becoming a 503: fail closed.
 */
export class TurnBatchedReads {
  private pending = new Map<string, Batch>();
  private scheduled = false;

  constructor(private readonly store: KvStore) {}

  /** Reads `keysToRead` (all under hash tag `tag`) in this turn's batch for that tag. */
  read(tag: string, keysToRead: readonly string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(tag);
      if (batch === undefined || batch.keys.length + keysToRead.length > MAX_KEYS_PER_READ) {
        if (batch !== undefined) this.send(batch);
        batch = { keys: [], readers: [] };
        this.pending.set(tag, batch);
      }
      batch.readers.push({ offset: batch.keys.length, count: keysToRead.length, resolve, reject });
      for (const key of keysToRead) batch.keys.push(key);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const batch of batches.values()) this.send(batch);
  };

  private send(batch: Batch): void {
    let reply: Promise<(string | null)[]>;
    try {
      reply = this.store.getMany(batch.keys);
    } catch (err) {
      // Out of a setImmediate, a synchronous throw would take the process down: make it the batch's failure.
      reply = Promise.reject(err);
    }
    reply.then(
      (values) => {
        for (const r of batch.readers) r.resolve(values.slice(r.offset, r.offset + r.count));
      },
      (err: unknown) => {
        for (const r of batch.readers) r.reject(err);
      },
    );
  }
}
