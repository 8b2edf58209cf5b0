import { iso } from './clock';
import type { DomainContext } from './context';
import type { Environment } from './environments';
import type { SessionAndUserReader } from './ports';
import { isSessionActive, sessionEndsAt, type ApiKeyRecord, type Attributes } from './records';
import { currentProductAccess, hasProductAccess, type ProductAccessView } from './users';
import type { TokenFailure, VerificationTokens } from './verification-tokens';
import { answerSandboxFixture } from './sandbox-fixtures';

export type NotVerifiedReason = TokenFailure | 'session_ended' | 'user_not_found';

export interface VerifiedUser {
  isAuthenticated: true;
  environment: Environment;
  userInfo: {
    userId: string;
    email: string | null;
    name: string | null;
    productAccess: ProductAccessView[];
    attributes: Attributes;
  };
  sessionId: string;
  tokenExpiresAt: string;
  hasProductAccess?: boolean;
}

export interface NotVerified {
  isAuthenticated: false;
  environment: Environment;
  userInfo: null;
  reason: NotVerifiedReason;
}

export type ExchangeResult = VerifiedUser | NotVerified;

/**
 * An exchange's answer and, for a verified one, the instant until which it
 * holds unless an event says otherwise: the session's end if nothing
 * touches it again (absolute or idle, whichever is first; touching only
 * moves it later) and the API key's expiry. `@verigate/node`'s local mode
 * (SPEC §12) answers from memory no longer than that; every other change
 * (sign-out, user update, product change, key revocation) is an event.
 */
export interface ExchangeAnswer {
  readonly result: ExchangeResult;
  /** Epoch ms; null for a refusal or a sandbox fixture. */
  readonly reusableUntil: number | null;
}

/**
 * The exchange (SPEC §3): a verification token, presented by the backend of
 * the site that owns `apiKey`, becomes a trusted user object. After the
 * signature check it costs one port call: the session and the user, read
 * together. Session state is read by the `sid` inside the token, never by
 * the token string.
 */
export class Exchange {
  constructor(
    private readonly ctx: DomainContext,
    private readonly tokens: VerificationTokens,
    private readonly reader: SessionAndUserReader,
  ) {}

  private notVerified(reason: NotVerifiedReason): NotVerified {
    return { isAuthenticated: false, environment: this.ctx.environment, userInfo: null, reason };
  }

  async exchangeVerificationToken(apiKey: ApiKeyRecord, token: string, productId?: string): Promise<ExchangeResult> {
    return (await this.answerVerificationToken(apiKey, token, productId)).result;
  }

  /** As exchangeVerificationToken, with how long a verified answer holds (the exchange's `X-Verigate-Reusable-Until`). */
  async answerVerificationToken(apiKey: ApiKeyRecord, token: string, productId?: string): Promise<ExchangeAnswer> {
    const fixture = answerSandboxFixture(this.ctx.environment, token, productId, this.ctx.clock.now()); // SPEC §9, sandbox only
    if (fixture) return { result: fixture, reusableUntil: null };
    const check = await this.tokens.verifyVerificationToken(token, apiKey.siteId);
    if (!check.ok) return { result: this.notVerified(check.reason), reusableUntil: null };
    const { claims } = check;
    const { session, user } = await this.reader.readSessionAndUser(apiKey.siteId, claims.sid, claims.sub);
    const now = this.ctx.clock.now();
    if (!session || session.userId !== claims.sub || !isSessionActive(session, now)) {
      return { result: this.notVerified('session_ended'), reusableUntil: null };
    }
    if (!user) return { result: this.notVerified('user_not_found'), reusableUntil: null };
    const result: VerifiedUser = {
      isAuthenticated: true,
      environment: this.ctx.environment,
      userInfo: {
        userId: user.userId,
        email: user.email,
        name: user.name,
        productAccess: currentProductAccess(user, now),
        attributes: user.attributes,
      },
      sessionId: session.sessionId,
      tokenExpiresAt: iso(claims.exp * 1000),
    };
    if (productId !== undefined) result.hasProductAccess = hasProductAccess(user, productId, now);
    const ends = sessionEndsAt(session);
    return { result, reusableUntil: apiKey.expiresAt === null ? ends : Math.min(ends, apiKey.expiresAt) };
  }
}
