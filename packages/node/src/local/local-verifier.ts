import type { Environment, NotVerified, VerificationResult, VerifiedUser } from '../protocol.js';
import { EventStream, EVENT_STREAM_PATH, type StreamEvent } from './event-stream.js';
import { Jwks } from './jwks.js';
import { LruMap } from './lru.js';
import { SessionCache, type CachedSession } from './session-cache.js';
import { checkClaims, checkSignature, unverifiedClaims, type SignedToken } from './token.js';

/** Tokens whose signature was checked here, by token string (a 5-minute token is typically presented many times). */
const MAX_CHECKED_TOKENS = 10_000;
const SANDBOX_FIXTURE_PREFIX = 'vg_sandbox_test_';

/** A token whose signature was checked here, and its `tokenExpiresAt` once formatted. */
interface CheckedToken extends SignedToken {
  expiresAtIso: string | null;
}

/** What the online exchange said, with the headers local mode keeps. */
export interface OnlineAnswer {
  readonly result: VerificationResult;
  /** Epoch ms from `X-Verigate-Reusable-Until`; null when absent. */
  readonly reusableUntil: number | null;
  /** Epoch ms from `X-Verigate-Api-Key-Expires-At`; null when absent (a key without expiry). */
  readonly apiKeyExpiresAt: number | null;
}

export type OnlineExchange = (token: string, productId: string | undefined, signal: AbortSignal | undefined) => Promise<OnlineAnswer>;

export interface LocalVerifierOptions {
  readonly environment: Environment;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly userAgent: string;
  readonly fetch: (input: string, init: RequestInit) => Promise<Response>;
  readonly timeoutMs: number;
  readonly maxStalenessMs: number;
  readonly maxCachedSessions: number;
  readonly jwksRefreshIntervalMs: number;
  readonly online: OnlineExchange;
}

/**
 * What local verification is doing, for dashboards and tests.
 *
 * @example
 * ```ts
 * const status: LocalVerificationStatus | null = verigate.localStatus();
 * if (status && !status.fresh) console.warn(`verigate stream stale (${status.streamTrouble}); verifying online`);
 * ```
 */
export interface LocalVerificationStatus {
  /** The stream's last heartbeat is younger than `maxStalenessMs`: answers may come from memory. */
  readonly fresh: boolean;
  /** Ms since the last heartbeat (null before the first). */
  readonly lastHeartbeatAgeMs: number | null;
  /** Sessions held in memory, and the most that will be. */
  readonly cachedSessions: number;
  readonly maxCachedSessions: number;
  /** Calls answered here, and calls that went to the gateway, since creation. */
  readonly localAnswers: number;
  readonly onlineAnswers: number;
  /** Events applied, and times everything was forgotten (a gap in the stream). */
  readonly eventsApplied: number;
  readonly cacheClears: number;
  /** The last reason the stream was down or refused (`invalid_api_key`, `ECONNREFUSED`, `stream_stalled`, …); null once healthy. */
  readonly streamTrouble: string | null;
}

/**
 * `verification: 'local'` (SPEC §12). Signatures are checked here against
 * the environment's JWKS; a session the gateway verified before is
 * answered from memory while the site's event stream proves, by a
 * heartbeat younger than `maxStalenessMs`, that no change to it is
 * pending; anything else, and everything while the stream is stale, goes
 * to the gateway. Never a cached answer after the staleness bound.
 */
export class LocalVerifier {
  private readonly cache: SessionCache;
  private readonly checkedTokens = new LruMap<string, CheckedToken>(MAX_CHECKED_TOKENS);
  private readonly jwks: Jwks;
  private readonly stream: EventStream;
  /** Learnt from the first verified online answer: the gateway's `iss` and our site (the `aud` it accepted). */
  private issuer: string | undefined;
  private siteId: string | undefined;
  private lastHeartbeatAt = -Infinity;
  /** Until when our API key is known to work (from the last online answer); nothing is answered here past it. */
  private apiKeyValidUntil = -Infinity;
  private localAnswers = 0;
  private onlineAnswers = 0;
  private eventsApplied = 0;
  private cacheClears = 0;
  private streamTrouble: string | null = 'connecting';

  constructor(private readonly options: LocalVerifierOptions) {
    this.cache = new SessionCache(options.maxCachedSessions);
    this.jwks = new Jwks({
      url: `${options.baseUrl}/.well-known/jwks.json`,
      fetch: options.fetch,
      timeoutMs: options.timeoutMs,
      refreshIntervalMs: options.jwksRefreshIntervalMs,
    });
    this.stream = new EventStream({
      url: `${options.baseUrl}${EVENT_STREAM_PATH}`,
      apiKey: options.apiKey,
      userAgent: options.userAgent,
      connectTimeoutMs: options.timeoutMs,
      stallTimeoutMs: Math.max(2 * options.maxStalenessMs, 1000),
      onEvent: (event) => this.apply(event),
      onHeartbeat: () => {
        this.lastHeartbeatAt = Date.now();
        this.streamTrouble = null;
      },
      onGap: () => this.forgetAll(),
      onTrouble: (why) => {
        this.streamTrouble = why;
      },
    });
    void this.jwks.refresh();
    this.stream.start();
  }

  close(): void {
    this.stream.close();
    this.lastHeartbeatAt = -Infinity;
    this.forgetAll();
  }

  status(): LocalVerificationStatus {
    const now = Date.now();
    return {
      fresh: this.fresh(now),
      lastHeartbeatAgeMs: this.lastHeartbeatAt === -Infinity ? null : now - this.lastHeartbeatAt,
      cachedSessions: this.cache.size,
      maxCachedSessions: this.cache.capacity,
      localAnswers: this.localAnswers,
      onlineAnswers: this.onlineAnswers,
      eventsApplied: this.eventsApplied,
      cacheClears: this.cacheClears,
      streamTrouble: this.streamTrouble,
    };
  }

  private fresh(now: number): boolean {
    return now - this.lastHeartbeatAt <= this.options.maxStalenessMs;
  }

  /** The answer from memory when it is certain to be the gateway's, else the gateway's. */
  verify(token: string, productId: string | undefined, signal: AbortSignal | undefined): Promise<VerificationResult> {
    const local = this.answerLocally(token, productId);
    if (local !== undefined) {
      this.localAnswers++;
      return Promise.resolve(local);
    }
    return this.verifyOnline(token, productId, signal, true);
  }

  private answerLocally(token: string, productId: string | undefined): VerificationResult | undefined {
    const now = Date.now();
    // Every local answer, a refusal too, needs a fresh stream and a key known to work: a revoked or
    // expired API key is refused online (401), not answered here.
    if (!this.fresh(now) || now >= this.apiKeyValidUntil || this.issuer === undefined || this.siteId === undefined) return undefined;
    // SPEC §9's fixtures are the gateway's to answer (they look malformed here).
    if (this.options.environment === 'sandbox' && token.startsWith(SANDBOX_FIXTURE_PREFIX)) return undefined;
    let signed = this.checkedTokens.get(token);
    if (signed !== undefined && this.jwks.key(signed.kid) !== signed.key) {
      this.checkedTokens.delete(token);
      signed = undefined;
    }
    if (signed === undefined) {
      const check = checkSignature(token, this.options.environment, (kid) => this.jwks.key(kid));
      if (!check.ok) {
        if (check.reason === 'unsure') {
          // A kid we do not hold: the keys may have rotated. Fetch them (at most once an interval), but ask the gateway now.
          void this.jwks.refreshForUnknownKid();
          return undefined;
        }
        return this.notVerified(check.reason);
      }
      signed = { ...check.signed, expiresAtIso: null };
      this.checkedTokens.set(token, signed);
    }
    const claims = checkClaims(signed.claims, {
      issuer: this.issuer,
      audience: this.siteId,
      environment: this.options.environment,
      now: Math.floor(now / 1000),
    });
    if (!claims.ok) return claims.reason === 'unsure' ? undefined : this.notVerified(claims.reason);
    const session = this.cache.get(claims.claims.sid);
    if (session === undefined || session.userId !== claims.claims.sub || session.reusableUntil <= now) return undefined;
    // The ISO instant once per token (the claims' exp cannot change: the signature covers it).
    signed.expiresAtIso ??= new Date(claims.claims.exp * 1000).toISOString();
    return answerFrom(session, this.options.environment, signed.expiresAtIso, productId, now);
  }

  private async verifyOnline(token: string, productId: string | undefined, signal: AbortSignal | undefined, keep: boolean): Promise<VerificationResult> {
    // An answer is kept only if the stream was fresh before the call and after it, and nothing it says was invalidated between.
    const ticket = keep && this.fresh(Date.now()) ? this.cache.ticket() : null;
    const { result, reusableUntil, apiKeyExpiresAt } = await this.options.online(token, productId, signal);
    this.onlineAnswers++;
    if (ticket !== null && this.fresh(Date.now()) && this.cache.ticket().generation === ticket.generation) {
      this.apiKeyValidUntil = apiKeyExpiresAt ?? Infinity;
    }
    if (!result.isAuthenticated || reusableUntil === null) return result;
    const claims = unverifiedClaims(token);
    if (claims && typeof claims.iss === 'string' && typeof claims.aud === 'string') {
      // The gateway has just accepted these: its iss, and our site (SPEC §3: aud is the API key's siteId).
      this.issuer = claims.iss;
      this.siteId = claims.aud;
    }
    if (ticket !== null && this.fresh(Date.now())) this.cache.admit(ticket, cachedFrom(result, reusableUntil));
    return result;
  }

  private notVerified(reason: NotVerified['reason']): NotVerified {
    return { isAuthenticated: false, environment: this.options.environment, userInfo: null, reason };
  }

  private forgetAll(): void {
    this.cacheClears++;
    this.cache.clear();
  }

  /**
   * What each event makes us forget (SPEC §11's types). When unsure, more:
   * an event of a type not listed here clears everything.
   */
  private apply(event: StreamEvent): void {
    this.eventsApplied++;
    const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
    const userId = typeof data.userId === 'string' ? data.userId : undefined;
    const sessionId = typeof data.sessionId === 'string' ? data.sessionId : undefined;
    switch (event.type) {
      case 'session.ended':
        if (sessionId !== undefined) this.cache.dropSession(sessionId);
        else if (userId !== undefined) this.cache.dropUser(userId);
        else this.forgetAll();
        return;
      case 'user.created':
      case 'user.updated':
      case 'user.deleted':
      case 'user.product_access.changed':
        if (userId !== undefined) this.cache.dropUser(userId);
        else this.forgetAll();
        return;
      case 'api_key.revoked':
      case 'api_key.rolled':
      case 'site.deleted':
        // Perhaps our own key (the SDK does not know its keyId): forget, and trust nothing local
        // until the next heartbeat shows the stream, so the key, still open. A revoked key's stream is closed.
        this.forgetAll();
        this.lastHeartbeatAt = -Infinity;
        this.apiKeyValidUntil = -Infinity;
        return;
      case 'signing_key.rotated':
        // Sessions are untouched; the new key is fetched now (tokens it signs go online until it is here).
        void this.jwks.refresh();
        return;
      case 'session.created':
      case 'site.created':
      case 'site.updated':
      case 'api_key.created':
      case 'identity_secret.rotated':
      case 'webhook_endpoint.created':
      case 'webhook_endpoint.updated':
      case 'webhook_endpoint.deleted':
        return;
      default:
        if (event.type.startsWith('user.')) {
          if (userId !== undefined) this.cache.dropUser(userId);
          else this.forgetAll();
          return;
        }
        this.forgetAll();
    }
  }
}

function cachedFrom(result: VerifiedUser, reusableUntil: number): CachedSession {
  const { userInfo } = result;
  return {
    sessionId: result.sessionId,
    userId: userInfo.userId,
    email: userInfo.email,
    name: userInfo.name,
    attributes: Object.freeze({ ...userInfo.attributes }),
    productAccess: userInfo.productAccess.map((p) => ({
      productId: p.productId,
      expiresAt: p.expiresAt,
      expiresAtMs: p.expiresAt === null ? null : Date.parse(p.expiresAt),
    })),
    reusableUntil,
  };
}

/** The exchange's answer, built as the gateway builds it (src/domain/exchange.ts), product expiry judged now. */
function answerFrom(session: CachedSession, environment: Environment, tokenExpiresAt: string, productId: string | undefined, now: number): VerifiedUser {
  const productAccess = [];
  let hasProductAccess = false;
  for (const p of session.productAccess) {
    if (p.expiresAtMs === null || p.expiresAtMs > now) {
      productAccess.push({ productId: p.productId, expiresAt: p.expiresAt });
      if (p.productId === productId) hasProductAccess = true;
    }
  }
  const result: VerifiedUser = {
    isAuthenticated: true,
    environment,
    userInfo: {
      userId: session.userId,
      email: session.email,
      name: session.name,
      productAccess,
      attributes: { ...session.attributes },
    },
    sessionId: session.sessionId,
    tokenExpiresAt,
  };
  return productId === undefined ? result : { ...result, hasProductAccess };
}
