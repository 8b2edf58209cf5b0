import { VerigateError } from './errors';
import { generateCredential, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import { parseRecord, type DomainContext } from './context';
import type { Users } from './users';
import { keys } from '../store/keys';

export const DEFAULT_SESSION_LIFETIME_SECONDS = 30 * 24 * 3600;
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 24 * 3600;
/** Sliding the idle timeout is written at most this often, not on every request. */
export const ACTIVITY_RESOLUTION_MS = 60_000;

export interface SessionRecord {
  readonly sessionId: string;
  readonly siteId: string;
  readonly userId: string;
  readonly createdAt: number;
  /** Absolute end (epoch ms). */
  readonly expiresAt: number;
  readonly idleTimeoutSeconds: number;
  readonly lastActiveAt: number;
  /** Keyed hash of the session token, so ending the session can drop the token's pointer. */
  readonly tokenHash: string;
}

export interface SessionView {
  sessionId: string;
  siteId: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  idleTimeoutSeconds: number;
  lastActiveAt: string;
}

export interface SessionOptions {
  expiresInSeconds?: number | undefined;
  idleTimeoutSeconds?: number | undefined;
}

const newSessionId = (): string => `sess_${randomBase62(24)}`;

/** True while the session is neither past its absolute end nor idle for too long. */
export function isSessionActive(session: SessionRecord, now: number): boolean {
  return now < session.expiresAt && now < session.lastActiveAt + session.idleTimeoutSeconds * 1000;
}

/** Milliseconds the session's record must live: until it would end by itself. */
function sessionTtlMs(session: SessionRecord, now: number): number {
  return Math.max(1, Math.min(session.expiresAt, session.lastActiveAt + session.idleTimeoutSeconds * 1000) - now);
}

/**
 * Ends every session of a user in one atomic write (deleting `alsoDelete`,
 * keys under the same site tag, in the same write), then drops the session
 * tokens' pointers. The pointers live in other slots; without their session
 * they lead nowhere, so this second step only saves clutter.
 */
export async function endUserSessions(
  ctx: DomainContext,
  siteId: string,
  userId: string,
  alsoDelete: readonly string[] = [],
): Promise<void> {
  const ids = await ctx.store.members(keys.userSessions(siteId, userId));
  const records = ids.length > 0 ? await ctx.store.getMany(ids.map((id) => keys.session(siteId, id))) : [];
  await ctx.store.write([
    ...alsoDelete.map((key) => ({ op: 'del' as const, key })),
    ...ids.map((id) => ({ op: 'del' as const, key: keys.session(siteId, id) })),
    { op: 'del', key: keys.userSessions(siteId, userId) },
  ]);
  const tokenHashes = records.flatMap((raw) => {
    const session = parseRecord<SessionRecord>(raw ?? null);
    return session ? [session.tokenHash] : [];
  });
  await Promise.all(tokenHashes.map((h) => ctx.store.write([{ op: 'del', key: keys.sessionByTokenHash(h) }])));
}

/** Sessions of one environment: a signed-in visitor of one site. */
export class Sessions {
  constructor(
    private readonly ctx: DomainContext,
    private readonly users: Users,
  ) {}

  view(session: SessionRecord): SessionView {
    return {
      sessionId: session.sessionId,
      siteId: session.siteId,
      userId: session.userId,
      createdAt: iso(session.createdAt),
      expiresAt: iso(session.expiresAt),
      idleTimeoutSeconds: session.idleTimeoutSeconds,
      lastActiveAt: iso(session.lastActiveAt),
    };
  }

  /** Signs a user in. The session token is returned once; only its keyed hash is kept. */
  async createSession(
    siteId: string,
    userId: string,
    options: SessionOptions = {},
  ): Promise<{ session: SessionRecord; sessionToken: string }> {
    await this.users.getUser(siteId, userId);
    return this.createSessionForKnownUser(siteId, userId, options);
  }

  /** As createSession, for callers that have just read or written the user. */
  async createSessionForKnownUser(
    siteId: string,
    userId: string,
    options: SessionOptions = {},
  ): Promise<{ session: SessionRecord; sessionToken: string }> {
    const now = this.ctx.clock.now();
    const sessionToken = generateCredential(this.ctx.environment, 'st');
    const session: SessionRecord = {
      sessionId: newSessionId(),
      siteId,
      userId,
      createdAt: now,
      expiresAt: now + (options.expiresInSeconds ?? DEFAULT_SESSION_LIFETIME_SECONDS) * 1000,
      idleTimeoutSeconds: options.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
      lastActiveAt: now,
      tokenHash: this.ctx.secrets.hash('session-token', sessionToken),
    };
    await this.ctx.store.write([
      {
        op: 'set',
        key: keys.session(siteId, session.sessionId),
        value: JSON.stringify(session),
        ttlMs: sessionTtlMs(session, now),
      },
      { op: 'sadd', key: keys.userSessions(siteId, userId), member: session.sessionId },
    ]);
    await this.ctx.store.write([
      {
        op: 'set',
        key: keys.sessionByTokenHash(session.tokenHash),
        value: `${siteId} ${session.sessionId}`,
        ttlMs: session.expiresAt - now,
      },
    ]);
    return { session, sessionToken };
  }

  /**
   * The live session a bearer session token names, or null (malformed,
   * another environment's, unknown, ended, expired, idle).
   */
  async findSessionByToken(sessionToken: string | undefined): Promise<SessionRecord | null> {
    if (!sessionToken) return null;
    const check = parseCredential(sessionToken, 'st');
    if (!check.ok || check.environment !== this.ctx.environment) return null;
    const pointer = await this.ctx.store.get(
      keys.sessionByTokenHash(this.ctx.secrets.hash('session-token', sessionToken)),
    );
    if (!pointer) return null;
    const [siteId, sessionId] = pointer.split(' ');
    if (!siteId || !sessionId) return null;
    const session = await this.findSession(siteId, sessionId);
    return session && isSessionActive(session, this.ctx.clock.now()) ? session : null;
  }

  /** As findSessionByToken, but a missing session is `no_session`. */
  async requireSessionByToken(sessionToken: string | undefined): Promise<SessionRecord> {
    const session = await this.findSessionByToken(sessionToken);
    if (!session) throw new VerigateError('no_session', 'No active session for this session token');
    return session;
  }

  async findSession(siteId: string, sessionId: string): Promise<SessionRecord | null> {
    return parseRecord<SessionRecord>(await this.ctx.store.get(keys.session(siteId, sessionId)));
  }

  /** Slides the idle timeout; written at most once a minute per session. */
  async touchSession(session: SessionRecord): Promise<SessionRecord> {
    const now = this.ctx.clock.now();
    if (now - session.lastActiveAt < ACTIVITY_RESOLUTION_MS) return session;
    const touched: SessionRecord = { ...session, lastActiveAt: now };
    await this.ctx.store.write([
      {
        op: 'set',
        key: keys.session(session.siteId, session.sessionId),
        value: JSON.stringify(touched),
        ttlMs: sessionTtlMs(touched, now),
      },
    ]);
    return touched;
  }

  /** Signs out: every verification token issued for it then verifies as `session_ended`. */
  async endSession(session: SessionRecord): Promise<void> {
    await this.ctx.store.write([
      { op: 'del', key: keys.session(session.siteId, session.sessionId) },
      { op: 'srem', key: keys.userSessions(session.siteId, session.userId), member: session.sessionId },
    ]);
    await this.ctx.store.write([{ op: 'del', key: keys.sessionByTokenHash(session.tokenHash) }]);
  }

  async listSessions(siteId: string, userId: string): Promise<SessionRecord[]> {
    await this.users.getUser(siteId, userId);
    const ids = await this.ctx.store.members(keys.userSessions(siteId, userId));
    if (ids.length === 0) return [];
    const raw = await this.ctx.store.getMany(ids.map((id) => keys.session(siteId, id)));
    const now = this.ctx.clock.now();
    const sessions: SessionRecord[] = [];
    const gone: string[] = [];
    raw.forEach((r, i) => {
      const s = parseRecord<SessionRecord>(r);
      if (s && isSessionActive(s, now)) sessions.push(s);
      else if (!s) gone.push(ids[i] as string);
    });
    if (gone.length > 0) {
      // Prune ids of sessions that ended by themselves (their records expired).
      await this.ctx.store.write(gone.map((id) => ({ op: 'srem' as const, key: keys.userSessions(siteId, userId), member: id })));
    }
    return sessions.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Signs the user out everywhere. */
  async endAllSessions(siteId: string, userId: string): Promise<void> {
    await this.users.getUser(siteId, userId);
    await endUserSessions(this.ctx, siteId, userId);
  }
}
