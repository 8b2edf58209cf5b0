import type { Clock } from '../../domain/clock';
import type { NewEvent } from '../../domain/events';
import type { KvEventLog } from './event-log';
import type { SessionStore } from '../../domain/ports';
import { sessionEndsAt, type SessionRecord } from '../../domain/records';
import type { KvStore, WriteGuard, WriteOp } from '../kv';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocation, writeRevocationIf } from './revocations';

/** Milliseconds the session's record must live: until it would end by itself. */
function sessionTtlMs(session: SessionRecord, now: number): number {
  return Math.max(1, sessionEndsAt(session) - now);
}

/**
 * The session's entry in its user's index, and the index kept alive as
 * long as its longest-lived session (never shortened by a session that
 * ends sooner): once every session of the user has ended, the index is
 * gone too. Entries of sessions that ended by themselves are pruned by
 * `listForUser`, which every sign-in calls (src/domain/sessions.ts).
 */
function indexed(session: SessionRecord, ttlMs: number): WriteOp[] {
  const key = keys.userSessions(session.siteId, session.userId);
  return [
    { op: 'sadd', key, member: session.sessionId },
    { op: 'pexpire', key, ttlMs, extendOnly: true },
  ];
}

/**
 * Ends every session of a user in one atomic write (MULTI, every key under
 * the site's hash tag: the session records, the user's session index,
 * `alsoDelete` and `alsoWrite`), then drops the session tokens' pointers. The pointers live
 * in other slots (they are found by token hash), so they cannot be in that
 * write; dropping them after is safe because a pointer only leads to its
 * session record, which is already gone: from the atomic write on, every
 * lookup by token finds nothing, so the order is invisible to readers. If
 * this step fails, a pointer lingers until its TTL (the session's end) and
 * still leads nowhere. With `guard`, the write is a compare-and-set
 * (`writeIf`): false, and nothing written, when the guard no longer holds.
 */
export async function endSessionsOfUser(
  kv: KvStore,
  eventLog: KvEventLog,
  siteId: string,
  userId: string,
  events: (sessions: readonly SessionRecord[]) => readonly NewEvent[],
  alsoDelete: readonly string[] = [],
  alsoWrite: readonly WriteOp[] = [],
  guard?: WriteGuard,
): Promise<boolean> {
  const ids = await kv.members(keys.userSessions(siteId, userId));
  const records = ids.length > 0 ? await kv.getMany(ids.map((id) => keys.session(siteId, id))) : [];
  const sessions = records.flatMap((raw) => {
    const session = decode<SessionRecord>(raw);
    return session ? [session] : [];
  });
  const described = events(sessions);
  const ops: WriteOp[] = [
    ...alsoDelete.map((key): WriteOp => ({ op: 'del', key })),
    ...alsoWrite,
    ...ids.map((id): WriteOp => ({ op: 'del', key: keys.session(siteId, id) })),
    { op: 'del', key: keys.userSessions(siteId, userId) },
    ...eventLog.ops(described),
  ];
  // The revocation (src/store/records/revocations.ts): answered only once the replicas asked for hold it.
  if (guard === undefined) await writeRevocation(kv, ops);
  else if (!(await writeRevocationIf(kv, guard, ops))) return false;
  await eventLog.announce(described);
  await Promise.all(sessions.map((s) => kv.write([{ op: 'del', key: keys.sessionByTokenHash(s.tokenHash) }])));
  return true;
}

/**
 * Sessions on the key-value store: the record and the user's session index
 * under the site's hash tag (one atomic write), and a pointer from the
 * token's keyed hash (`siteId sessionId`, its own slot). Every key of a
 * session expires when the session would end by itself (absolute end or
 * idle timeout, slid by `touch`); the user's index when the last of them
 * would. Never cached.
 */
export class KvSessionStore implements SessionStore {
  constructor(
    private readonly kv: KvStore,
    private readonly clock: Clock,
    private readonly eventLog: KvEventLog,
  ) {}

  async create(session: SessionRecord, events: readonly NewEvent[]): Promise<void> {
    const ttlMs = sessionTtlMs(session, this.clock.now());
    await this.kv.write([
      { op: 'set', key: keys.session(session.siteId, session.sessionId), value: encode(session), ttlMs },
      ...indexed(session, ttlMs),
      ...this.eventLog.ops(events),
    ]);
    await this.eventLog.announce(events);
    // The pointer last: until it exists, nothing can find the session by its token.
    await this.kv.write([
      { op: 'set', key: keys.sessionByTokenHash(session.tokenHash), value: `${session.siteId} ${session.sessionId}`, ttlMs },
    ]);
  }

  async find(siteId: string, sessionId: string): Promise<SessionRecord | null> {
    return decode<SessionRecord>(await this.kv.get(keys.session(siteId, sessionId)));
  }

  async findByTokenHash(tokenHash: string): Promise<SessionRecord | null> {
    const pointer = await this.kv.get(keys.sessionByTokenHash(tokenHash));
    if (!pointer) return null;
    const [siteId, sessionId] = pointer.split(' ');
    if (!siteId || !sessionId) return null;
    return this.find(siteId, sessionId);
  }

  async touch(session: SessionRecord): Promise<void> {
    const ttlMs = sessionTtlMs(session, this.clock.now());
    // The pointer first (its own slot): if the second write fails, the pointer outlives the
    // record by at most the slide and leads nowhere; the other order could sign the visitor out early.
    await this.kv.write([{ op: 'pexpire', key: keys.sessionByTokenHash(session.tokenHash), ttlMs }]);
    await this.kv.write([
      { op: 'set', key: keys.session(session.siteId, session.sessionId), value: encode(session), ttlMs },
      // Only the index's lifetime: its entry is there since create (and stays out once ended).
      { op: 'pexpire', key: keys.userSessions(session.siteId, session.userId), ttlMs, extendOnly: true },
    ]);
  }

  async end(session: SessionRecord, events: readonly NewEvent[]): Promise<void> {
    // Record, index and events in one write (the revocation); then the pointer (another slot), which leads nowhere by then.
    await writeRevocation(this.kv, [
      { op: 'del', key: keys.session(session.siteId, session.sessionId) },
      { op: 'srem', key: keys.userSessions(session.siteId, session.userId), member: session.sessionId },
      ...this.eventLog.ops(events),
    ]);
    await this.eventLog.announce(events);
    await this.kv.write([{ op: 'del', key: keys.sessionByTokenHash(session.tokenHash) }]);
  }

  async listForUser(siteId: string, userId: string): Promise<SessionRecord[]> {
    const ids = await this.kv.members(keys.userSessions(siteId, userId));
    if (ids.length === 0) return [];
    const raw = await this.kv.getMany(ids.map((id) => keys.session(siteId, id)));
    const sessions: SessionRecord[] = [];
    const gone: string[] = [];
    raw.forEach((r, i) => {
      const s = decode<SessionRecord>(r);
      if (s) sessions.push(s);
      else gone.push(ids[i] as string);
    });
    if (gone.length > 0) {
      // Prune ids of sessions that ended by themselves (their records expired).
      await this.kv.write(gone.map((id): WriteOp => ({ op: 'srem', key: keys.userSessions(siteId, userId), member: id })));
    }
    return sessions;
  }

  async endAllForUser(siteId: string, userId: string, events: (sessions: readonly SessionRecord[]) => readonly NewEvent[]): Promise<void> {
    await endSessionsOfUser(this.kv, this.eventLog, siteId, userId, events);
  }
}
