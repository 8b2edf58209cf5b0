import { StoreUnavailableError, VerigateError } from '../../domain/errors';
import type { NewEvent } from '../../domain/events';
import type { SaveConditions, SaveOutcome, UserEvents, UserSearchPage, UserStore } from '../../domain/ports';
import type { ProductAccess, SessionRecord, UserChanges, UserRecord } from '../../domain/records';
import type { KvEventLog } from './event-log';
import type { KvStore, WriteGuard, WriteOp } from '../kv';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocationIf } from './revocations';
import { endSessionsOfUser } from './session-store';

/**
 * How often one change is retried when another change of the same user got
 * in between its read and its write. Each retry rereads; running out means
 * a storm of writes to one user, answered as a 503 rather than a lost change.
 */
const MAX_ATTEMPTS = 100;

/*
 * The search index: one lexicographic set per site, under the site's hash
 * tag (one slot on Redis Cluster, written in the same atomic step as the
 * user), with a member per user id and one per email:
 *   `u:<userId>`                 ordered by user id
 *   `e:<email lower case>\0<userId>`  ordered by email, then user id
 * A prefix search is a ZRANGEBYLEX on each kind (src/store/kv.ts rangeByLex);
 * an email sign-in reads the members that start with `e:<email>\0`. The
 * `u:` members are also the site's seat count (countByLex, and a `fewerThan`
 * guard of the create's writeIf): it is kept by the very writes that create
 * and delete users, so there is no separate counter to drift or to
 * initialise. Every write adds the record's members again (ZADD of a
 * present member changes nothing), so a user stored before the index
 * existed is indexed, and counted, from its next change on.
 */
const ID = 'u:';
const EMAIL = 'e:';

function indexMembers(user: UserRecord): string[] {
  const members = [`${ID}${user.userId}`];
  if (user.email) members.push(`${EMAIL}${user.email.toLowerCase()}\u0000${user.userId}`);
  return members;
}

/** Index ops that take the index from `before`'s entries to `after`'s (all of `after`'s added, see above). */
function indexOps(siteId: string, before: UserRecord | null, after: UserRecord | null): WriteOp[] {
  const key = keys.userIndex(siteId);
  const old = new Set(before ? indexMembers(before) : []);
  const next = new Set(after ? indexMembers(after) : []);
  return [
    ...[...old].filter((m) => !next.has(m)).map((member): WriteOp => ({ op: 'zrem', key, member })),
    ...[...next].map((member): WriteOp => ({ op: 'zadd', key, member })),
  ];
}

/** True when `after` grants some product for less time than `before` did, or not at all. */
function losesAccess(before: UserRecord | null, after: UserRecord): boolean {
  if (before === null) return false;
  return before.productAccess.some((had) => {
    const now = after.productAccess.find((p) => p.productId === had.productId);
    if (now === undefined) return true;
    if (now.expiresAt === null) return false;
    return had.expiresAt === null || now.expiresAt < had.expiresAt;
  });
}

/** The index members of the users with this email (lower case), whatever their id. */
const emailPrefix = (email: string): string => `${EMAIL}${email.toLowerCase()}\u0000`;

const conflictStorm = (userId: string): StoreUnavailableError =>
  new StoreUnavailableError(new Error(`user ${userId}: ${MAX_ATTEMPTS} conflicting writes in a row`));

/** What a search cursor holds: the query it belongs to and the last member taken from each kind. */
interface Cursor {
  readonly q: string;
  readonly u?: string;
  readonly e?: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeCursor(raw: string, query: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const c = parsed as Partial<Cursor> | null;
  const ok =
    c !== null &&
    typeof c === 'object' &&
    c.q === query &&
    (c.u === undefined || typeof c.u === 'string') &&
    (c.e === undefined || typeof c.e === 'string');
  if (!ok) {
    throw new VerigateError('invalid_request', 'cursor is not one this search returned (a cursor belongs to its query)', {
      errors: [{ path: 'cursor', message: 'not a cursor of this query' }],
    });
  }
  return c as Cursor;
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

interface Candidate {
  readonly member: string;
  readonly kind: 'u' | 'e';
  /** What the results are ordered by: the user id, or `email\0userId`. */
  readonly sortKey: string;
  readonly userId: string;
}

function candidate(member: string): Candidate {
  if (member.startsWith(ID)) {
    const userId = member.slice(ID.length);
    return { member, kind: 'u', sortKey: userId, userId };
  }
  const rest = member.slice(EMAIL.length);
  return { member, kind: 'e', sortKey: rest, userId: rest.slice(rest.indexOf('\u0000') + 1) };
}

const compareCandidates = (a: Candidate, b: Candidate): number =>
  byteOrder(a.sortKey, b.sortKey) || (a.kind === b.kind ? 0 : a.kind === 'u' ? -1 : 1);

/**
 * Users on the key-value store: one record under the site's hash tag, and
 * the site's search index beside it. Every change is a compare-and-set of
 * the record (writeIf) with the index ops in the same atomic step, retried
 * on a conflict, so two changes of one user at the same moment both land
 * (a sign-in never undoes a grant). Never cached.
 */
export class KvUserStore implements UserStore {
  constructor(
    private readonly kv: KvStore,
    private readonly eventLog: KvEventLog,
  ) {}

  async find(siteId: string, userId: string): Promise<UserRecord | null> {
    return decode<UserRecord>(await this.kv.get(keys.user(siteId, userId)));
  }

  /**
   * Applies `change` to the record as it is at the moment of the write:
   * read, compute, compare-and-set; again on a conflict. `change` returns
   * null to leave things as they are.
   */
  private async update(
    siteId: string,
    userId: string,
    change: (current: UserRecord | null) => UserRecord | null,
    events: UserEvents,
  ): Promise<{ before: UserRecord | null; after: UserRecord | null }> {
    const key = keys.user(siteId, userId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.kv.get(key);
      const before = decode<UserRecord>(raw);
      const after = change(before);
      if (after === null) return { before, after: before };
      const described = events(before, after);
      const ops: WriteOp[] = [{ op: 'set', key, value: encode(after) }, ...indexOps(siteId, before, after), ...this.eventLog.ops(described)];
      // A change that takes product access away (a revoke, or a PUT with a
      // shorter list) is a revocation; any other change is a plain write.
      const written = losesAccess(before, after)
        ? await writeRevocationIf(this.kv, { key, equals: raw }, ops)
        : await this.kv.writeIf({ key, equals: raw }, ops);
      if (written) {
        await this.eventLog.announce(described);
        return { before, after };
      }
    }
    throw conflictStorm(userId);
  }

  async findByEmail(siteId: string, email: string, limit: number): Promise<UserRecord[]> {
    const members = await this.kv.rangeByLex(keys.userIndex(siteId), { prefix: emailPrefix(email), limit });
    if (members.length === 0) return [];
    const records = await this.kv.getMany(members.map((m) => keys.user(siteId, candidate(m).userId)));
    const folded = email.toLowerCase();
    // The index is written with each record, so this holds; it also keeps an
    // email with a NUL in it from matching another's entry.
    return records
      .map((raw) => decode<UserRecord>(raw))
      .filter((u): u is UserRecord => u !== null && u.email?.toLowerCase() === folded);
  }

  /**
   * A compare-and-set of the record like `update`, with the conditions in
   * the same step: `existingWithEmail` against the record read, `maxUsers`
   * as a `fewerThan` guard on the index's `u:` members (the site's users)
   * when this creates one. A refused write is retried from a fresh read (the
   * user may exist by now: then it is a change, never refused by seats);
   * a create retried while the count shows the site full is answered
   * `seat_limit_reached`.
   */
  async saveChanges(
    siteId: string,
    userId: string,
    changes: UserChanges,
    now: number,
    events: UserEvents,
    conditions: SaveConditions = {},
  ): Promise<SaveOutcome> {
    const key = keys.user(siteId, userId);
    const index = keys.userIndex(siteId);
    const { maxUsers, existingWithEmail } = conditions;
    // The count is read only after a write was refused: a create with seats to spare costs no extra round trip.
    let refused = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.kv.get(key);
      const before = decode<UserRecord>(raw);
      if (existingWithEmail !== undefined && before?.email?.toLowerCase() !== existingWithEmail.toLowerCase()) {
        return { saved: false, reason: 'no_such_user' };
      }
      const guards: WriteGuard[] = [{ key, equals: raw }];
      if (before === null && maxUsers !== undefined && maxUsers !== null) {
        if (refused && (await this.kv.countByLex(index, ID)) >= maxUsers) return { saved: false, reason: 'seat_limit_reached' };
        guards.push({ key: index, prefix: ID, fewerThan: maxUsers });
      }
      const after: UserRecord = {
        userId,
        email: changes.email !== undefined ? changes.email : (before?.email ?? null),
        name: changes.name !== undefined ? changes.name : (before?.name ?? null),
        attributes: changes.attributes ?? before?.attributes ?? {},
        productAccess: changes.productAccess ?? before?.productAccess ?? [],
        createdAt: before?.createdAt ?? now,
        updatedAt: now,
      };
      const described = events(before, after);
      const ops: WriteOp[] = [{ op: 'set', key, value: encode(after) }, ...indexOps(siteId, before, after), ...this.eventLog.ops(described)];
      // A PUT with a shorter product list takes access away: a revocation.
      const written = losesAccess(before, after) ? await writeRevocationIf(this.kv, guards, ops) : await this.kv.writeIf(guards, ops);
      if (written) {
        await this.eventLog.announce(described);
        return { saved: true, user: after, created: before === null };
      }
      refused = true;
    }
    throw conflictStorm(userId);
  }

  async grantProduct(siteId: string, userId: string, access: ProductAccess, now: number, events: UserEvents): Promise<UserRecord | null> {
    const { after } = await this.update(siteId, userId, (user) =>
      user === null
        ? null
        : {
            ...user,
            productAccess: [...user.productAccess.filter((p) => p.productId !== access.productId), access],
            updatedAt: now,
          },
      events,
    );
    return after;
  }

  async revokeProduct(siteId: string, userId: string, productId: string, now: number, events: UserEvents): Promise<UserRecord | null> {
    const { after } = await this.update(siteId, userId, (user) =>
      user === null || !user.productAccess.some((p) => p.productId === productId)
        ? null
        : { ...user, productAccess: user.productAccess.filter((p) => p.productId !== productId), updatedAt: now },
      events,
    );
    return after;
  }

  /**
   * Two ordered streams (user ids, emails) merged into one page. Each is
   * read `limit + 1` past its cursor; the merge stops at the last member
   * read of a stream that has more, so nothing unread can belong before
   * what the page returns. An email entry of a user whose id matches too is
   * skipped (the id entry lists them), so no user appears twice.
   */
  async search(siteId: string, options: { query: string; cursor: string | null; limit: number }): Promise<UserSearchPage> {
    const { query, limit } = options;
    const cursor = options.cursor === null ? { q: query } : decodeCursor(options.cursor, query);
    const index = keys.userIndex(siteId);
    const read = (prefix: string, after: string | undefined) =>
      this.kv.rangeByLex(index, { prefix, ...(after !== undefined && { after }), limit: limit + 1 });
    const [ids, emails] = await Promise.all([
      read(`${ID}${query}`, cursor.u),
      query === '' ? Promise.resolve([]) : read(`${EMAIL}${query.toLowerCase()}`, cursor.e),
    ]);
    const streams = [ids.map(candidate), emails.map(candidate)];
    const merged = streams.flat().sort(compareCandidates);
    // The merge may not pass the last member read of a stream that has more.
    const bounds = streams.filter((s) => s.length > limit).map((s) => s[s.length - 1] as Candidate);
    const bound = bounds.sort(compareCandidates)[0];

    const taken: string[] = [];
    let lastId = cursor.u;
    let lastEmail = cursor.e;
    let walked = 0;
    for (const c of merged) {
      if (taken.length === limit || (bound && compareCandidates(c, bound) > 0)) break;
      walked++;
      if (c.kind === 'u') lastId = c.member;
      else lastEmail = c.member;
      if (c.kind === 'e' && c.userId.startsWith(query)) continue;
      taken.push(c.userId);
    }
    const more = walked < merged.length || bound !== undefined;
    const records = taken.length ? await this.kv.getMany(taken.map((id) => keys.user(siteId, id))) : [];
    const users = records.map((raw) => decode<UserRecord>(raw)).filter((u): u is UserRecord => u !== null);
    const next: Cursor = { q: query, ...(lastId !== undefined && { u: lastId }), ...(lastEmail !== undefined && { e: lastEmail }) };
    return { users, nextCursor: more ? encodeCursor(next) : null };
  }

  /**
   * The user record and its index entries go in the same atomic write as
   * the sessions and their events (see endSessionsOfUser), a
   * compare-and-set against the record the entries were worked out from: a
   * rename in between cannot leave its new email's entry pointing at a
   * deleted user.
   */
  async deleteWithSessions(
    siteId: string,
    userId: string,
    events: (sessions: readonly SessionRecord[]) => readonly NewEvent[],
  ): Promise<void> {
    const key = keys.user(siteId, userId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.kv.get(key);
      const user = decode<UserRecord>(raw);
      // The id entry goes even without a record (a site purge walks the index and must see it shrink).
      const unindex: WriteOp[] = [...indexOps(siteId, user, null), { op: 'zrem', key: keys.userIndex(siteId), member: `${ID}${userId}` }];
      if (await endSessionsOfUser(this.kv, this.eventLog, siteId, userId, events, [key], unindex, { key, equals: raw })) return;
    }
    throw conflictStorm(userId);
  }

  /** Every user id of the site's index, a page at a time (for a site purge). */
  async someUserIds(siteId: string, limit: number): Promise<string[]> {
    return (await this.kv.rangeByLex(keys.userIndex(siteId), { prefix: ID, limit })).map((m) => m.slice(ID.length));
  }
}
