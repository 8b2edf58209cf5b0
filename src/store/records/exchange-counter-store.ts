import type { ExchangeCounterStore } from '../../domain/ports';
import type { ExchangeCounts } from '../../domain/records';
import type { KvStore, WriteOp } from '../kv';
import { keys } from './keys';

/** Each minute's hash lives a little longer than the 15 minutes the chart shows. */
const KEEP_MS = 17 * 60_000;

const minuteOf = (second: number): number => Math.floor(second / 60);

/**
 * Exchange outcomes per second, shared by every instance of the
 * environment: one hash per minute (`<second>:<outcome>` -> count), every
 * minute under one hash tag. Instances add what they counted about once a
 * second (one write each), never once per exchange.
 */
export class KvExchangeCounterStore implements ExchangeCounterStore {
  constructor(private readonly kv: KvStore) {}

  async add(counts: readonly ExchangeCounts[]): Promise<void> {
    const ops: WriteOp[] = [];
    const minutes = new Set<number>();
    for (const { second, counts: byOutcome } of counts) {
      const key = keys.exchangeCounts(minuteOf(second));
      minutes.add(minuteOf(second));
      for (const [outcome, n] of Object.entries(byOutcome)) {
        if (n > 0) ops.push({ op: 'hincrby', key, field: `${second}:${outcome}`, by: n });
      }
    }
    if (ops.length === 0) return;
    for (const minute of minutes) ops.push({ op: 'pexpire', key: keys.exchangeCounts(minute), ttlMs: KEEP_MS });
    await this.kv.write(ops);
  }

  async read(fromSecond: number, toSecond: number): Promise<ExchangeCounts[]> {
    const minutes: number[] = [];
    for (let m = minuteOf(fromSecond); m <= minuteOf(toSecond); m++) minutes.push(m);
    const hashes = await Promise.all(minutes.map((m) => this.kv.hashGetAll(keys.exchangeCounts(m))));
    const bySecond = new Map<number, Record<string, number>>();
    for (const hash of hashes) {
      for (const [field, value] of Object.entries(hash)) {
        const split = field.indexOf(':');
        const second = Number(field.slice(0, split));
        if (!Number.isInteger(second) || second < fromSecond || second > toSecond) continue;
        const counts = bySecond.get(second) ?? {};
        counts[field.slice(split + 1)] = Number(value);
        bySecond.set(second, counts);
      }
    }
    return [...bySecond].sort(([a], [b]) => a - b).map(([second, counts]) => ({ second, counts }));
  }
}
