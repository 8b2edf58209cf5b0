import type { Clock } from './clock';
import { iso } from './clock';
import type { ExchangeCounterStore } from './ports';
import type { ExchangeCounts } from './records';

/** The console's chart: the last 15 minutes, a point a second. */
export const EXCHANGE_CHART_SECONDS = 15 * 60;

export interface ExchangeSeriesView {
  stepSeconds: 1;
  /** The first second of the series (its start), and the last (the second under way). */
  from: string;
  to: string;
  /** One series per outcome seen in the window: `counts[i]` is the count of second `from + i`. */
  series: { outcome: string; counts: number[] }[];
}

/**
 * Exchanges per second by outcome, for the console's chart, counted by
 * every instance of the environment and added up in the store. An exchange
 * costs a map update in memory; `flush()` (the gateway calls it about once
 * a second) adds what this instance counted to the store in one write, so
 * the chart shows every instance's exchanges, whichever instance answers
 * the admin call. What a failed flush held is kept for the next one, as
 * long as it is inside the chart's window.
 */
export class ExchangeStats {
  private pending = new Map<number, Map<string, number>>();

  constructor(
    private readonly clock: Clock,
    private readonly store: ExchangeCounterStore,
  ) {}

  private nowSecond(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** One exchange answered with `outcome` (verified, a not-verified reason, or an error code). */
  count(outcome: string): void {
    const second = this.nowSecond();
    let counts = this.pending.get(second);
    if (!counts) {
      counts = new Map();
      this.pending.set(second, counts);
    }
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }

  /** Adds what was counted since the last flush to the store. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    try {
      await this.store.add(toCounts(taken));
    } catch (err) {
      const oldest = this.nowSecond() - EXCHANGE_CHART_SECONDS;
      for (const [second, counts] of taken) {
        if (second < oldest) continue;
        const into = this.pending.get(second) ?? new Map<string, number>();
        for (const [outcome, n] of counts) into.set(outcome, (into.get(outcome) ?? 0) + n);
        this.pending.set(second, into);
      }
      throw err;
    }
  }

  /** The last 15 minutes, every instance's counts plus this one's not yet flushed. */
  async series(): Promise<ExchangeSeriesView> {
    const to = this.nowSecond();
    const from = to - EXCHANGE_CHART_SECONDS + 1;
    const stored = await this.store.read(from, to);
    const byOutcome = new Map<string, number[]>();
    const add = (second: number, outcome: string, n: number): void => {
      if (second < from || second > to) return;
      let counts = byOutcome.get(outcome);
      if (!counts) {
        counts = new Array<number>(EXCHANGE_CHART_SECONDS).fill(0);
        byOutcome.set(outcome, counts);
      }
      counts[second - from] = (counts[second - from] ?? 0) + n;
    };
    for (const { second, counts } of stored) for (const [outcome, n] of Object.entries(counts)) add(second, outcome, n);
    for (const [second, counts] of this.pending) for (const [outcome, n] of counts) add(second, outcome, n);
    return {
      stepSeconds: 1,
      from: iso(from * 1000),
      to: iso(to * 1000),
      series: [...byOutcome].sort(([a], [b]) => a.localeCompare(b)).map(([outcome, counts]) => ({ outcome, counts })),
    };
  }
}

function toCounts(pending: ReadonlyMap<number, ReadonlyMap<string, number>>): ExchangeCounts[] {
  return [...pending].map(([second, counts]) => ({ second, counts: Object.fromEntries(counts) }));
}
