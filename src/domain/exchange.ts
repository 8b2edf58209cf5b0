import { iso } from './clock';
import { parseRecord, type DomainContext } from './context';
import type { Environment } from './environments';
import type { ApiKeyRecord } from './api-keys';
import { isSessionActive, type SessionRecord } from './sessions';
import { currentProductAccess, hasProductAccess, type Attributes, type ProductAccessView, type UserRecord } from './users';
import type { TokenFailure, VerificationTokens } from './verification-tokens';
import { answerSandboxFixture } from './sandbox-fixtures';
import { keys } from '../store/keys';
import { TurnBatchedReads } from '../store/batched-reads';

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
 * The exchange (SPEC §3): a verification token, presented by the backend of
 * the site that owns `apiKey`, becomes a trusted user object. After the
 * signature check it costs one store round trip: the session and the user
 * sit under the site's hash tag and are read together. Session state is read
 * by the `sid` inside the token, never by the token string.
 */
export class Exchange {
  private readonly reads: TurnBatchedReads;

  constructor(
    private readonly ctx: DomainContext,
    private readonly tokens: VerificationTokens,
  ) {
    this.reads = new TurnBatchedReads(ctx.store);
  }

  private notVerified(reason: NotVerifiedReason): NotVerified {
    return { isAuthenticated: false, environment: this.ctx.environment, userInfo: null, reason };
  }

  async exchangeVerificationToken(apiKey: ApiKeyRecord, token: string, productId?: string): Promise<ExchangeResult> {
    const fixture = answerSandboxFixture(this.ctx.environment, token, productId, this.ctx.clock.now()); // SPEC §9, sandbox only
    if (fixture) return fixture;
    const check = await this.tokens.verifyVerificationToken(token, apiKey.siteId);
    if (!check.ok) return this.notVerified(check.reason);
    const { claims } = check;
    const [rawSession, rawUser] = await this.reads.read(apiKey.siteId, [
      keys.session(apiKey.siteId, claims.sid),
      keys.user(apiKey.siteId, claims.sub),
    ]);
    const session = parseRecord<SessionRecord>(rawSession ?? null);
    const now = this.ctx.clock.now();
    if (!session || session.userId !== claims.sub || !isSessionActive(session, now)) {
      return this.notVerified('session_ended');
    }
    const user = parseRecord<UserRecord>(rawUser ?? null);
    if (!user) return this.notVerified('user_not_found');
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
    return result;
  }
}
