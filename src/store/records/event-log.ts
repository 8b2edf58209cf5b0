import type { Clock } from '../../domain/clock';
import type { NewEvent, StoredEvent } from '../../domain/events';
import { VerigateError } from '../../domain/errors';
import type { AuditPage, EnvironmentAuditEvent, EventLog, EventLogListener, EventWatch } from '../../domain/ports';
import type { KvStore, WriteOp } from '../kv';
import { decode, encode } from './json';
import { channels, keys } from './keys';

/** Orders log ids (`<ms>-<seq>`). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** An audit cursor: the last entry's id and its source (a siteId, '' for the environment's log). */
interface AuditCursor {
  readonly id: string;
  readonly s: string;
}

const encodeAuditCursor = (c: AuditCursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

function decodeAuditCursor(raw: string): AuditCursor {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const c = parsed as Partial<AuditCursor> | null;
  if (!c || typeof c !== 'object' || typeof c.id !== 'string' || !/^\d{1,16}-\d{1,16}$/.test(c.id) || typeof c.s !== 'string') {
    throw new VerigateError('invalid_request', 'cursor is not one the audit log returned', {
      errors: [{ path: 'cursor', message: 'not an audit-log cursor' }],
    });
  }
  return { id: c.id, s: c.s };
}

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
    const audited = events.filter((e) => e.actor !== undefined);
    const audit = keys.audit(siteId);
    return [
      ...events.map((event): WriteOp => ({ op: 'xadd', key, value: encode(event), minIdMs })),
      { op: 'pexpire', key, ttlMs: this.retentionMs },
      ...audited.map((event): WriteOp => ({ op: 'xadd', key: audit, value: encode(event), minIdMs })),
      ...(audited.length > 0 ? [{ op: 'pexpire', key: audit, ttlMs: this.retentionMs } as const] : []),
    ];
  }

  /**
   * Lists the site among those the audit log reads. Called before the
   * site's first audited write (its creation): the set is in another slot,
   * and a site listed with nothing written yet costs only an empty read.
   */
  async noteAuditedSite(siteId: string): Promise<void> {
    await this.kv.write([{ op: 'sadd', key: keys.auditSites(), member: siteId }]);
  }

  async appendEnvironmentAudit(event: EnvironmentAuditEvent): Promise<void> {
    const key = keys.environmentAudit();
    await this.kv.write([
      { op: 'xadd', key, value: encode(event), minIdMs: this.clock.now() - this.retentionMs },
      { op: 'pexpire', key, ttlMs: this.retentionMs },
    ]);
  }

  /**
   * Every audit log (each site's and the environment's) read newest first
   * past the cursor, merged by (id, source): each source is read `limit + 1`
   * deep, so nothing unread can come before the last entry returned.
   */
  async readAudit(cursor: string | null, limit: number): Promise<AuditPage> {
    const after = cursor === null ? null : decodeAuditCursor(cursor);
    const sources = ['', ...(await this.kv.members(keys.auditSites())).sort()];
    const pages = await Promise.all(
      sources.map(async (source) => {
        const key = source === '' ? keys.environmentAudit() : keys.audit(source);
        // The cursor's own id is still due from sources ordered before the cursor's.
        const inclusive = after !== null && source < after.s;
        const entries = await this.kv.logRangeBefore(key, after?.id ?? null, limit + 1, inclusive);
        return entries.map((entry) => ({ source, id: entry.id, body: entry.value }));
      }),
    );
    const merged = pages.flat().sort((a, b) => compareIds(b.id, a.id) || (a.source < b.source ? 1 : a.source > b.source ? -1 : 0));
    const taken = merged.slice(0, limit);
    const last = taken[taken.length - 1];
    return {
      events: taken.map((t) => ({ ...(decode<StoredBody>(t.body) as StoredBody), id: t.id })),
      nextCursor: merged.length > limit && last ? encodeAuditCursor({ id: last.id, s: last.source }) : null,
    };
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
