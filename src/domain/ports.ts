import type {
  AdminTokenRecord,
  ApiKeyRecord,
  ConsoleSessionRecord,
  ExchangeCounts,
  ProductAccess,
  SessionRecord,
  SiteRecord,
  StoredKeyring,
  UserChanges,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
} from './records';
import type { NewEvent, StoredEvent } from './events';

/*
 * The storage the domain needs, one port per kind of record, in the spirit
 * of oidc-provider's adapter interface: the domain says what it wants done
 * ("end this session", "delete this user and every session of theirs") and
 * never how (no key names, no encoding, no hash tags or slots, no pub/sub).
 * src/store/records implements every port on top of the key-value engine
 * (src/store/kv.ts); src/gateway.ts wires them in.
 *
 * Promises every implementation keeps:
 * - A method either does what it says or rejects with
 *   `StoreUnavailableError` (src/domain/errors.ts). A fault is never
 *   reported as "absent": `null` means the store answered that there is no
 *   such record. The domain turns that error into a 503, never a guess.
 * - Each mutation is ONE method, so everything a change must write together
 *   (the next issue: the events of SPEC §11) can be added to it as a
 *   parameter and written in the same atomic step.
 * - Reads marked "may be served from an invalidation-backed cache" come
 *   from memory only while the store's invalidation channel is known to
 *   deliver; every mutation of such a record tells every instance sharing
 *   the store before it resolves, so a revocation reaches them within the
 *   SPEC's 1 s. Every other read goes to the store.
 * - Records come back as the domain wrote them (the types of records.ts).
 */

/** Sites of one environment. */
export interface SiteStore {
  /**
   * Stores a new site and makes it findable by id, by publishable key and
   * in the list. If it fails part-way, what is left is a record nothing
   * points at, never a pointer to nothing.
   */
  create(site: SiteRecord, events: readonly NewEvent[]): Promise<void>;
  /** The site, from the store (for reads that must be current: admin, read-modify-write). */
  find(siteId: string): Promise<SiteRecord | null>;
  /** The site; may be served from an invalidation-backed cache (browser endpoints). */
  findCached(siteId: string): Promise<SiteRecord | null>;
  /** The site a publishable key names; may be served from an invalidation-backed cache. */
  findByPublishableKey(publishableKey: string): Promise<SiteRecord | null>;
  /** Every site, in no particular order. */
  list(): Promise<SiteRecord[]>;
  /**
   * Replaces the site record (its publishable key never changes), with
   * `events` in the same atomic step. Every instance's cached copy is
   * dropped before this resolves.
   */
  update(site: SiteRecord, events: readonly NewEvent[]): Promise<void>;
  /**
   * Removes everything of the site: its API keys (refused on every instance
   * before this resolves), users, sessions and their tokens, and last the
   * site record and its pointers. Safe to run again after a failure part-way.
   * `endedEvents` describes the sessions each user's removal ends (written
   * with that removal).
   */
  purge(siteId: string, endedEvents: (sessions: readonly SessionRecord[]) => readonly NewEvent[]): Promise<void>;
}

/** Secret API keys of one environment, found by the keyed hash of the secret. */
export interface ApiKeyStore {
  /**
   * Stores a new key under `keyHash` and lists it with its site. The record
   * is written first: a failure part-way never leaves the site listing a key
   * that does not exist.
   */
  create(keyHash: string, record: ApiKeyRecord, events: readonly NewEvent[]): Promise<void>;
  /** The key whose secret hashes to `keyHash`; may be served from an invalidation-backed cache. */
  findByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  /** A site's key by id, with the hash it is stored under; from the store. */
  findByKeyId(siteId: string, keyId: string): Promise<{ readonly keyHash: string; readonly record: ApiKeyRecord } | null>;
  /** Every key of the site with when it was last used (null: never, as far as the store knows). */
  listForSite(siteId: string): Promise<{ readonly record: ApiKeyRecord; readonly lastUsedAt: number | null }[]>;
  /** Replaces the key record (revoked, or expiring after a roll). Every instance's cached copy is dropped before this resolves. */
  update(keyHash: string, record: ApiKeyRecord, events: readonly NewEvent[]): Promise<void>;
  /** Notes when the key was used (epoch ms). The domain calls it at most once a minute per key. */
  recordUse(keyId: string, at: number): Promise<void>;
}

/** One page of a user search. */
export interface UserSearchPage {
  readonly users: readonly UserRecord[];
  /** Pass it back for the next page; null when there is none. */
  readonly nextCursor: string | null;
}

/** What `UserStore.saveChanges` must find true at the moment it writes. */
export interface SaveConditions {
  /**
   * Creates a user only while the site has fewer users than this (null or
   * left out: no limit). Checked in the same atomic step as the create, so
   * two creates for the last seat never both land. Changes of an existing
   * user are never refused by it.
   */
  readonly maxUsers?: number | null;
  /**
   * Changes only an existing user whose email is this one, compared in
   * lower case, and never creates one (a sign-in by email: the user may
   * have been renamed or deleted since it was looked up).
   */
  readonly existingWithEmail?: string;
}

/** What `UserStore.saveChanges` did. */
export type SaveOutcome =
  | { readonly saved: true; readonly user: UserRecord; readonly created: boolean }
  /** Nothing written: the site is full (`maxUsers`), or no user matched `existingWithEmail`. */
  | { readonly saved: false; readonly reason: 'seat_limit_reached' | 'no_such_user' };

/** Users of one environment, each scoped to a site. */
export interface UserStore {
  find(siteId: string, userId: string): Promise<UserRecord | null>;
  /**
   * The users whose email equals `email` compared in lower case, at most
   * `limit`, ordered by user id. Read from an index written in the same
   * atomic step as each user, so it never names a user deleted or renamed
   * before the call began.
   */
  findByEmail(siteId: string, email: string, limit: number): Promise<UserRecord[]>;
  /**
   * Creates the user, or applies `changes` to the record as it is at that
   * moment, in one atomic step: a concurrent grant, revoke or sign-in is
   * never undone by it, and `conditions` are checked in that same step.
   * `now` becomes `updatedAt` (and `createdAt` of a new user).
   */
  saveChanges(
    siteId: string,
    userId: string,
    changes: UserChanges,
    now: number,
    events: UserEvents,
    conditions?: SaveConditions,
  ): Promise<SaveOutcome>;
  /**
   * Grants one product (replacing an earlier grant of the same product), in
   * one atomic step against every other change of the user. Null when there
   * is no such user.
   */
  grantProduct(siteId: string, userId: string, access: ProductAccess, now: number, events: UserEvents): Promise<UserRecord | null>;
  /** Takes one product away, atomically likewise; the user unchanged if they had none. Null when there is no such user. */
  revokeProduct(siteId: string, userId: string, productId: string, now: number, events: UserEvents): Promise<UserRecord | null>;
  /**
   * Users whose userId starts with `query` (as given) or whose email starts
   * with it (compared in lower case), ordered by that id or email; every
   * user when `query` is empty. `cursor` comes from the previous page of
   * the same query; one that does not is refused as `invalid_request`.
   */
  search(siteId: string, options: { readonly query: string; readonly cursor: string | null; readonly limit: number }): Promise<UserSearchPage>;
  /**
   * Deletes the user and every session of theirs in one step, atomic for
   * readers: no reader ever sees the user gone and a session of theirs
   * still active, or the other way round. The user's index entries (email,
   * seat) go in that step, against the record as it is at that moment.
   */
  deleteWithSessions(siteId: string, userId: string, events: (sessions: readonly SessionRecord[]) => readonly NewEvent[]): Promise<void>;
}

/** Sessions of one environment. */
export interface SessionStore {
  /**
   * Stores a new session, lists it under its user, and makes it findable by
   * the keyed hash of its token (`session.tokenHash`). Nothing of a session
   * outlives the session itself (its absolute end or idle timeout).
   */
  create(session: SessionRecord, events: readonly NewEvent[]): Promise<void>;
  find(siteId: string, sessionId: string): Promise<SessionRecord | null>;
  /** The session whose token hashes to `tokenHash`, active or not. */
  findByTokenHash(tokenHash: string): Promise<SessionRecord | null>;
  /** Replaces the record with a later `lastActiveAt` (the idle timeout slides). */
  touch(session: SessionRecord): Promise<void>;
  /** Ends one session: it reads as absent from then on, by id and by token. */
  end(session: SessionRecord, events: readonly NewEvent[]): Promise<void>;
  /** Every stored session of the user, active or not, in no particular order. */
  listForUser(siteId: string, userId: string): Promise<SessionRecord[]>;
  /** Ends every session of the user at once (atomic for readers). */
  endAllForUser(siteId: string, userId: string, events: (sessions: readonly SessionRecord[]) => readonly NewEvent[]): Promise<void>;
}

/**
 * Identity tokens that have signed a visitor in (SPEC §7: one identity
 * token, one sign-in), each under a keyed hash the domain makes of what
 * identifies the token (its `jti`, else its verified claims).
 */
export interface IdentityTokenUseStore {
  /**
   * Records the use, kept for `ttlMs`, unless it is recorded already; true
   * when this call recorded it. Atomic: of any number of calls at the same
   * moment, on any instance, exactly one gets true.
   */
  recordFirstUse(siteId: string, useHash: string, ttlMs: number): Promise<boolean>;
  /** Forgets a use (the sign-in it let through failed before it opened a session). */
  forget(siteId: string, useHash: string): Promise<void>;
}

/** The environment's signing keyring. */
export interface KeyringStore {
  /**
   * The keyring, or null when none has been made yet. May be served from
   * memory: while the invalidation channel delivers, and otherwise for at
   * most 1 s after it was read. `{ fresh: true }` reads the store.
   */
  read(options?: { readonly fresh?: boolean }): Promise<StoredKeyring | null>;
  /**
   * The keyring `read()` would serve from memory right now (the very same
   * object), or null when it would have to read the store. Never reads it:
   * the exchange's synchronous path for tokens it has verified before.
   */
  readCached(): StoredKeyring | null;
  /**
   * Stores `keyring` unless one exists; resolves with the keyring that is
   * stored afterwards (this one, or the one another instance made first).
   */
  createIfAbsent(keyring: StoredKeyring): Promise<StoredKeyring>;
  /**
   * Changes the stored keyring (a rotation) in one atomic step: `change`
   * gets the keyring as it is at that moment and returns the next one; if
   * another change lands in between, `change` runs again on that one, so two
   * rotations at once both land, one after the other. Resolves with the
   * keyring stored; every instance rereads it before this resolves. Rejects
   * when there is no keyring yet (`createIfAbsent` makes the first).
   */
  update(change: (current: StoredKeyring) => StoredKeyring): Promise<StoredKeyring>;
}

/** The one combined read of the exchange. */
export interface SessionAndUserReader {
  /**
   * The session and the user, read together in one round trip, both from
   * the store (never cached: sign-out and product access are the exchange's
   * authority). Either may be null.
   */
  readSessionAndUser(
    siteId: string,
    sessionId: string,
    userId: string,
  ): Promise<{ readonly session: SessionRecord | null; readonly user: UserRecord | null }>;
}

/**
 * Scoped admin tokens of one environment (a token covering both is stored
 * in both). Never cached: a deleted token is refused by the next request.
 */
export interface AdminTokenStore {
  create(tokenHash: string, record: AdminTokenRecord): Promise<void>;
  findByHash(tokenHash: string): Promise<AdminTokenRecord | null>;
  findById(tokenId: string): Promise<AdminTokenRecord | null>;
  list(): Promise<AdminTokenRecord[]>;
  /** True when there was such a token. */
  delete(tokenId: string): Promise<boolean>;
}

/** Console sign-ins, under the keyed hash of the cookie's secret; each key expires with its session. */
export interface ConsoleSessionStore {
  /** Writes the record, to expire `ttlMs` from now (it is created and slid by this). */
  save(sessionHash: string, record: ConsoleSessionRecord, ttlMs: number): Promise<void>;
  find(sessionHash: string): Promise<ConsoleSessionRecord | null>;
  delete(sessionHash: string): Promise<void>;
}

/**
 * Exchange outcomes per second, shared by every instance of the
 * environment (the console's chart). Kept for at least 15 minutes.
 */
export interface ExchangeCounterStore {
  add(counts: readonly ExchangeCounts[]): Promise<void>;
  /** Every second from `fromSecond` to `toSecond` (inclusive) that has counts. */
  read(fromSecond: number, toSecond: number): Promise<ExchangeCounts[]>;
}

/** Whether the store answers (readiness). */
export interface StoreHealth {
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
}

/**
 * A mutation's events, worked out from the record before and after the
 * change as it is applied (a retried compare-and-set asks again).
 */
export type UserEvents = (before: UserRecord | null, after: UserRecord) => readonly NewEvent[];

/** Told when a site's event log has grown, on any instance. */
export interface EventLogListener {
  appended(siteId: string): void;
  /** Notices may have been missed: read every log of interest again. */
  reset(): void;
}

export interface EventWatch {
  /** True while notices are guaranteed to arrive. */
  readonly active: boolean;
  close(): Promise<void>;
}

/** One page of the audit log. */
export interface AuditPage {
  readonly events: readonly (StoredEvent | (EnvironmentAuditEvent & { readonly id: string }))[];
  /** Pass it back for the next page; null when there is none. */
  readonly nextCursor: string | null;
}

/**
 * The environment's event logs: one per site, in the order the changes were
 * made, kept for the retention period. Mutations write their events with
 * their own writes (the ports above); `append` is for the changes that have
 * no site-scoped write of their own (a signing-key rotation, sent to every
 * site).
 */
export interface EventLog {
  /** The site's events after `after` (exclusive; null: the oldest kept), oldest first, at most `limit`. */
  read(siteId: string, after: string | null, limit: number): Promise<StoredEvent[]>;
  /** The id of the site's last event, or null when it has none. */
  lastId(siteId: string): Promise<string | null>;
  /** Writes events (each site's in one atomic step). */
  append(events: readonly NewEvent[]): Promise<void>;
  /** Tells `listener` whenever any site's log grows (on any instance sharing the store). */
  watch(listener: EventLogListener): Promise<EventWatch>;
  /** Writes an audit entry for a change of the whole environment (not a site's: it has `siteId: null`). */
  appendEnvironmentAudit(event: EnvironmentAuditEvent): Promise<void>;
  /**
   * The events admin calls caused (those with an `actor`), newest first,
   * across every site and the environment. `cursor` comes from the previous
   * page; one that does not is refused as `invalid_request`.
   */
  readAudit(cursor: string | null, limit: number): Promise<AuditPage>;
}

/** An audit entry of the whole environment. */
export type EnvironmentAuditEvent = Omit<NewEvent, 'siteId'> & { readonly siteId: null };

/** A due delivery: which endpoint, which event. */
export interface DueDelivery {
  readonly endpointId: string;
  readonly eventId: string;
}

/**
 * Webhook endpoints and their deliveries, per site, all under the site's
 * hash tag: an endpoint's record, its cursor in the site's event log, its
 * deliveries and the site's queue of due deliveries (by time), and a lease
 * per delivery being sent. Pending work lives here, so any instance
 * finishes what another started.
 */
export interface WebhookStore {
  /** Stores the endpoint, its cursor (deliveries start after it) and `events`, in one atomic step. */
  createEndpoint(record: WebhookEndpointRecord, cursor: string, events: readonly NewEvent[]): Promise<void>;
  findEndpoint(siteId: string, endpointId: string): Promise<WebhookEndpointRecord | null>;
  listEndpoints(siteId: string): Promise<WebhookEndpointRecord[]>;
  /** Replaces the endpoint, with `events`. */
  updateEndpoint(record: WebhookEndpointRecord, events: readonly NewEvent[]): Promise<void>;
  /** Removes the endpoint and its cursor, with `events`; its deliveries expire. */
  deleteEndpoint(siteId: string, endpointId: string, events: readonly NewEvent[]): Promise<void>;
  /** Every site that has (had) an endpoint. */
  sitesWithEndpoints(): Promise<string[]>;
  /** Where the endpoint is in its site's event log; null when it has no cursor (deleted). */
  readCursor(siteId: string, endpointId: string): Promise<string | null>;
  /**
   * Moves the endpoint's cursor from `from` to `to` and stores `deliveries`
   * (due at their `nextAttemptAt`), only while the cursor is still `from`:
   * true when this call did it (two instances never make one delivery twice).
   */
  dispatch(siteId: string, endpointId: string, from: string, to: string, deliveries: readonly WebhookDeliveryRecord[]): Promise<boolean>;
  /** Deliveries due by `now` (epoch ms), earliest first. */
  due(siteId: string, now: number, limit: number): Promise<DueDelivery[]>;
  /** Takes the lease on a delivery for `ttlMs`; true when this holder got it. */
  claim(siteId: string, delivery: DueDelivery, holder: string, ttlMs: number): Promise<boolean>;
  findDelivery(siteId: string, delivery: DueDelivery): Promise<WebhookDeliveryRecord | null>;
  /** Replaces the delivery, queues it for its `nextAttemptAt` (or takes it off the queue), and drops its lease; one atomic step. */
  saveDelivery(delivery: WebhookDeliveryRecord): Promise<void>;
  /** Takes a due entry whose delivery or endpoint is gone off the queue. */
  dropDue(siteId: string, delivery: DueDelivery): Promise<void>;
  /** The endpoint's deliveries, newest event first. */
  listDeliveries(
    siteId: string,
    endpointId: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ readonly deliveries: WebhookDeliveryRecord[]; readonly nextCursor: string | null }>;
}

/** What one POST to a receiver came to. */
export interface WebhookResponse {
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** Sends a webhook (the HTTP layer implements it: SSRF rules, no redirects, a time limit). */
export interface WebhookTransport {
  post(url: string, headers: Readonly<Record<string, string>>, body: string, options: { readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<WebhookResponse>;
}

/** Every port one environment's domain is built on. */
export interface DomainStores {
  readonly sites: SiteStore;
  readonly apiKeys: ApiKeyStore;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly identityTokenUses: IdentityTokenUseStore;
  readonly keyring: KeyringStore;
  readonly sessionAndUser: SessionAndUserReader;
  readonly adminTokens: AdminTokenStore;
  readonly consoleSessions: ConsoleSessionStore;
  readonly exchangeCounters: ExchangeCounterStore;
  readonly events: EventLog;
  readonly webhooks: WebhookStore;
}
