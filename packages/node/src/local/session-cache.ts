import { LruMap } from './lru.js';
import type { AttributeValue, ProductAccess } from '../protocol.js';

/** Sessions held in memory by default: at ~1 KiB each, about 10 MiB. */
export const DEFAULT_MAX_CACHED_SESSIONS = 10_000;

/** What a verified online answer said about a session, kept to answer its next tokens. */
export interface CachedSession {
  readonly sessionId: string;
  readonly userId: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** As the gateway listed them, with each expiry in ms to filter again at answer time. */
  readonly productAccess: readonly (ProductAccess & { readonly expiresAtMs: number | null })[];
  /** Epoch ms: the exchange's X-Verigate-Reusable-Until (session end, API key expiry). */
  readonly reusableUntil: number;
}

/** Taken before an online exchange; an answer is kept only if nothing about it was invalidated meanwhile. */
export interface Ticket {
  readonly generation: number;
}

type Invalidation = { readonly generation: number; readonly sessionId?: string; readonly userId?: string; readonly all?: true };

/** Invalidations remembered to judge answers in flight; older tickets are refused. */
const RECENT_INVALIDATIONS = 1024;

/**
 * The sessions answered from memory: an LRU of at most `capacity`
 * sessions, an index by user (for `user.*` events), and a record of recent
 * invalidations, so an online answer read before an invalidation but
 * arriving after it is never kept.
 */
export class SessionCache {
  private readonly byUser = new Map<string, Set<string>>();
  private readonly sessions: LruMap<string, CachedSession>;
  private generation = 0;
  private readonly recent: Invalidation[] = [];

  constructor(capacity: number = DEFAULT_MAX_CACHED_SESSIONS) {
    this.sessions = new LruMap(capacity, (sessionId, entry) => {
      const ids = this.byUser.get(entry.userId);
      if (!ids) return;
      ids.delete(sessionId);
      if (ids.size === 0) this.byUser.delete(entry.userId);
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  get capacity(): number {
    return this.sessions.capacity;
  }

  /** Users indexed (never more than sessions held). */
  get indexedUsers(): number {
    return this.byUser.size;
  }

  get(sessionId: string): CachedSession | undefined {
    return this.sessions.get(sessionId);
  }

  ticket(): Ticket {
    return { generation: this.generation };
  }

  /** Keeps `entry` unless the session, its user or everything was invalidated since `ticket`. */
  admit(ticket: Ticket, entry: CachedSession): boolean {
    if (ticket.generation !== this.generation) {
      const oldest = this.recent[0];
      if (oldest === undefined || oldest.generation > ticket.generation + 1) return false;
      for (const inv of this.recent) {
        if (inv.generation <= ticket.generation) continue;
        if (inv.all || inv.sessionId === entry.sessionId || inv.userId === entry.userId) return false;
      }
    }
    this.sessions.set(entry.sessionId, entry);
    let ids = this.byUser.get(entry.userId);
    if (!ids) {
      ids = new Set();
      this.byUser.set(entry.userId, ids);
    }
    ids.add(entry.sessionId);
    return true;
  }

  dropSession(sessionId: string): void {
    this.note({ generation: this.generation + 1, sessionId });
    this.sessions.delete(sessionId);
  }

  dropUser(userId: string): void {
    this.note({ generation: this.generation + 1, userId });
    for (const sessionId of [...(this.byUser.get(userId) ?? [])]) this.sessions.delete(sessionId);
  }

  clear(): void {
    this.note({ generation: this.generation + 1, all: true });
    this.sessions.clear();
  }

  private note(invalidation: Invalidation): void {
    this.generation = invalidation.generation;
    this.recent.push(invalidation);
    if (this.recent.length > RECENT_INVALIDATIONS) this.recent.shift();
  }
}
