import { VerigateError } from './errors';
import { generateCredential, parseCredential, randomBase62 } from './credentials';
import { iso } from './clock';
import type { DomainContext } from './context';
import type { SessionStore } from './ports';
import { isSessionActive, type SessionRecord } from './records';
import type { Users } from './users';
import { sessionsEnded, type ChangeCause } from './events';

export { isSessionActive, sessionEndsAt, type SessionRecord } from './records';

export const DEFAULT_SESSION_LIFETIME_SECONDS = 30 * 24 * 3600;
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 24 * 3600;
/** Sliding the idle timeout is written at most this often, not on every request. */
export const ACTIVITY_RESOLUTION_MS = 60_000;
/** Active sessions one user of a site may have at most (`MAX_SESSIONS_PER_USER`), unless configured. */
export const DEFAULT_MAX_SESSIONS_PER_USER = 50;

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

/** The `session.created` event's data. */
export const sessionCreatedData = (session: SessionRecord) => ({
  sessionId: session.sessionId,
  userId: session.userId,
  createdAt: iso(session.createdAt),
  expiresAt: iso(session.expiresAt),
  idleTimeoutSeconds: session.idleTimeoutSeconds,
});

/** Sessions of one environment: a signed-in visitor of one site. */
export class Sessions {
  constructor(
    private readonly ctx: DomainContext,
    private readonly store: SessionStore,
    private readonly users: Users,
    private readonly maxSessionsPerUser: number = DEFAULT_MAX_SESSIONS_PER_USER,
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
    cause?: ChangeCause,
  ): Promise<{ session: SessionRecord; sessionToken: string }> {
    await this.users.getUser(siteId, userId);
    return this.createSessionForKnownUser(siteId, userId, options, cause);
  }

  /** As createSession, for callers that have just read or written the user. */
  async createSessionForKnownUser(
    siteId: string,
    userId: string,
    options: SessionOptions = {},
    cause?: ChangeCause,
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
    await this.store.create(session, [this.ctx.events(cause)('session.created', siteId, sessionCreatedData(session))]);
    await this.endSessionsPastTheLimit(session);
    return { session, sessionToken };
  }

  /**
   * SPEC §7's bounded state: at most `maxSessionsPerUser` active sessions
   * per user, the oldest ended to make room for `opened`. Run after the
   * create, so two sign-ins at once each see the other's session and the
   * user ends up within the limit either way (at worst one session fewer).
   * Listing also prunes the index of sessions that ended by themselves.
   */
  private async endSessionsPastTheLimit(opened: SessionRecord): Promise<void> {
    const now = this.ctx.clock.now();
    const others = (await this.store.listForUser(opened.siteId, opened.userId))
      .filter((s) => s.sessionId !== opened.sessionId && isSessionActive(s, now))
      .sort((a, b) => a.createdAt - b.createdAt || (a.sessionId < b.sessionId ? -1 : 1));
    const excess = others.length + 1 - this.maxSessionsPerUser;
    const ended = sessionsEnded(this.ctx.events(), 'session_limit');
    for (const oldest of others.slice(0, Math.max(0, excess))) await this.store.end(oldest, ended([oldest]));
  }

  /**
   * The live session a bearer session token names, or null (malformed,
   * another environment's, unknown, ended, expired, idle).
   */
  async findSessionByToken(sessionToken: string | undefined): Promise<SessionRecord | null> {
    if (!sessionToken) return null;
    const check = parseCredential(sessionToken, 'st');
    if (!check.ok || check.environment !== this.ctx.environment) return null;
    const session = await this.store.findByTokenHash(this.ctx.secrets.hash('session-token', sessionToken));
    return session && isSessionActive(session, this.ctx.clock.now()) ? session : null;
  }

  /** As findSessionByToken, but a missing session is `no_session`. */
  async requireSessionByToken(sessionToken: string | undefined): Promise<SessionRecord> {
    const session = await this.findSessionByToken(sessionToken);
    if (!session) throw new VerigateError('no_session', 'No active session for this session token');
    return session;
  }

  async findSession(siteId: string, sessionId: string): Promise<SessionRecord | null> {
    return this.store.find(siteId, sessionId);
  }

  /** Slides the idle timeout; written at most once a minute per session. */
  async touchSession(session: SessionRecord): Promise<SessionRecord> {
    const now = this.ctx.clock.now();
    if (now - session.lastActiveAt < ACTIVITY_RESOLUTION_MS) return session;
    const touched: SessionRecord = { ...session, lastActiveAt: now };
    await this.store.touch(touched);
    return touched;
  }

  /** Signs out: every verification token issued for it then verifies as `session_ended`. */
  async endSession(session: SessionRecord): Promise<void> {
    await this.store.end(session, sessionsEnded(this.ctx.events(), 'signed_out')([session]));
  }

  async listSessions(siteId: string, userId: string): Promise<SessionRecord[]> {
    await this.users.getUser(siteId, userId);
    const now = this.ctx.clock.now();
    const sessions = (await this.store.listForUser(siteId, userId)).filter((s) => isSessionActive(s, now));
    return sessions.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Signs the user out everywhere. */
  async endAllSessions(siteId: string, userId: string, cause?: ChangeCause): Promise<void> {
    await this.users.getUser(siteId, userId);
    await this.store.endAllForUser(siteId, userId, sessionsEnded(this.ctx.events(cause), 'signed_out_everywhere'));
  }
}
