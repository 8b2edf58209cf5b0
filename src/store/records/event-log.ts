import type { Clock } from '../../domain/clock';
import type { NewEvent, StoredEvent } from '../../domain/events';
import type { EventLog, EventLogListener, EventWatch } from '../../domain/ports';
import type { KvStore, WriteOp } from '../kv';
import { decode, encode } from './json';
import { channels, keys } from './keys';

/** What a log entry holds: the event without its id (the entry's id is the event's). */
type StoredBody = Omit<StoredEvent, 'id'>;

/**
 * The event logs on the key-value store: one log (Redis Stream) per site
 * under the site's hash tag, each entry one event as JSON. The stores of
 * the other ports add `ops()` to the write of their change, so the change
 * and its events are one atomic step, then `announce()` nudges every
 * instance (a nudge only: a lost one is made up for by rereading the log).
 * Every write trims entries older than the retention (approximately, by
 * their id's time) and keeps the log key alive for the retention.
 */
export class KvEventLog implements EventLog {
  constructor(
    private readonly kv: KvStore,
    private readonly clock: Clock,
    private readonly retentionMs: number,
    private readonly onBackgroundError: (err: unknown, what: string) => void,
  ) {}

  /** The write ops of `events`, all of one site (they join that site's MULTI). */
  ops(events: readonly NewEvent[]): WriteOp[] {
    if (events.length === 0) return [];
    const siteId = (events[0] as NewEvent).siteId;
    if (events.some((e) => e.siteId !== siteId)) throw new TypeError('ops(): events of one write must be of one site');
    const key = keys.events(siteId);
    const minIdMs = this.clock.now() - this.retentionMs;
    return [
      ...events.map((event): WriteOp => ({ op: 'xadd', key, value: encode(event), minIdMs })),
      { op: 'pexpire', key, ttlMs: this.retentionMs },
    ];
  }

  /** Tells every instance that these events' sites have new events. Never rejects: the streams reread the logs anyway. */
  async announce(events: readonly NewEvent[]): Promise<void> {
    const sites = new Set(events.map((e) => e.siteId));
    await Promise.all(
      [...sites].map((siteId) =>
        this.kv.publish(channels.events, siteId).catch((err: unknown) => this.onBackgroundError(err, 'event notice')),
      ),
    );
  }

  async append(events: readonly NewEvent[]): Promise<void> {
    const bySite = new Map<string, NewEvent[]>();
    for (const e of events) bySite.set(e.siteId, [...(bySite.get(e.siteId) ?? []), e]);
    await Promise.all([...bySite.values()].map((siteEvents) => this.kv.write(this.ops(siteEvents))));
    await this.announce(events);
  }

  async read(siteId: string, after: string | null, limit: number): Promise<StoredEvent[]> {
    const entries = await this.kv.logRange(keys.events(siteId), after, limit);
    return entries.map((entry) => ({ ...(decode<StoredBody>(entry.value) as StoredBody), id: entry.id }));
  }

  lastId(siteId: string): Promise<string | null> {
    return this.kv.logLastId(keys.events(siteId));
  }

  watch(listener: EventLogListener): Promise<EventWatch> {
    return this.kv.subscribe(channels.events, {
      message: (siteId) => listener.appended(siteId),
      reset: () => listener.reset(),
    });
  }
}
