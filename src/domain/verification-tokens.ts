import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload, type JWTHeaderParameters } from 'jose';
import { epochSeconds } from './clock';
import type { DomainContext } from './context';
import { isEnvironment } from './environments';
import type { SessionRecord } from './sessions';
import {
  VERIFICATION_CLOCK_TOLERANCE_SECONDS,
  VERIFICATION_TOKEN_LIFETIME_SECONDS,
  type SigningKeys,
} from './signing-keys';

export const VERIFICATION_TOKEN_TYPE = 'vg-verification+jwt';
const ALGORITHM = 'ES256';
/** A JWS compact serialisation: three base64url segments. Anything else is malformed, not merely invalid. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface VerificationClaims {
  readonly iss: string;
  readonly aud: string;
  readonly sub: string;
  readonly sid: string;
  readonly env: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

export type TokenFailure =
  | 'token_malformed'
  | 'token_invalid'
  | 'token_expired'
  | 'token_wrong_environment'
  | 'token_wrong_site';

export type TokenCheck =
  | { readonly ok: true; readonly claims: VerificationClaims }
  | { readonly ok: false; readonly reason: TokenFailure };

/** Header members that would let a token choose its own key; we never honour them, and refuse tokens that carry them. */
const FOREIGN_KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Issues and checks the 5-minute verification tokens (SPEC §3). Checking
 * pins the algorithm, `typ`, `iss` and `aud`, requires `exp` and `iat` no
 * more than 300 s apart, and turns every failure, of any kind, into a reason.
 */
export class VerificationTokens {
  constructor(
    private readonly ctx: DomainContext,
    private readonly signingKeys: SigningKeys,
  ) {}

  async issueVerificationToken(session: SessionRecord): Promise<{ token: string; expiresAt: number }> {
    const ring = await this.signingKeys.keyring();
    const iat = epochSeconds(this.ctx.clock.now());
    const exp = iat + VERIFICATION_TOKEN_LIFETIME_SECONDS;
    const token = await new SignJWT({ sid: session.sessionId, env: this.ctx.environment })
      .setProtectedHeader({ alg: ALGORITHM, typ: VERIFICATION_TOKEN_TYPE, kid: ring.currentKid })
      .setIssuer(this.ctx.publicUrl)
      .setAudience(session.siteId)
      .setSubject(session.userId)
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(ring.signingKey);
    return { token, expiresAt: exp * 1000 };
  }

  /** Checks a token presented by the site `siteId`'s backend. Never throws for a bad token; store faults do throw. */
  async verifyVerificationToken(token: string, siteId: string): Promise<TokenCheck> {
    if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'token_malformed' };
    const [headerSegment, payloadSegment] = token.split('.') as [string, string, string];
    const header = decodeSegment(headerSegment) as Partial<JWTHeaderParameters> | undefined;
    if (!header || typeof header !== 'object' || Array.isArray(header)) return { ok: false, reason: 'token_malformed' };
    if (FOREIGN_KEY_HEADERS.some((h) => h in header)) return { ok: false, reason: 'token_invalid' };
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const otherEnv = kid.split('_')[0];
    if (otherEnv !== this.ctx.environment && isEnvironment(otherEnv)) return { ok: false, reason: 'token_wrong_environment' };

    // The key comes from our own keyring by kid; a store fault here propagates (503), never a guess.
    const key = kid ? await this.signingKeys.verificationKey(kid) : null;
    if (!key) return this.classifyUnverifiable(payloadSegment);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [ALGORITHM],
        typ: VERIFICATION_TOKEN_TYPE,
        issuer: this.ctx.publicUrl,
        audience: siteId,
        requiredClaims: ['iss', 'aud', 'sub', 'sid', 'env', 'jti', 'iat', 'exp'],
        maxTokenAge: VERIFICATION_TOKEN_LIFETIME_SECONDS,
        clockTolerance: VERIFICATION_CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(this.ctx.clock.now()),
      }));
    } catch (err) {
      return { ok: false, reason: classifyJoseError(err) };
    }
    const { iss, aud, sub, sid, env, jti, iat, exp } = payload as Record<string, unknown>;
    if (
      typeof iss !== 'string' ||
      typeof aud !== 'string' ||
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      typeof jti !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp - iat > VERIFICATION_TOKEN_LIFETIME_SECONDS
    ) {
      return { ok: false, reason: 'token_invalid' };
    }
    if (env !== this.ctx.environment) return { ok: false, reason: 'token_wrong_environment' };
    return { ok: true, claims: { iss, aud, sub, sid, env: this.ctx.environment, jti, iat, exp } };
  }

  /** No key of ours signed it: say why if the (unverified) claims tell, else just invalid. */
  private classifyUnverifiable(payloadSegment: string): TokenCheck {
    const payload = decodeSegment(payloadSegment) as Record<string, unknown> | undefined;
    if (!payload || typeof payload !== 'object') return { ok: false, reason: 'token_malformed' };
    if (payload.env !== this.ctx.environment && isEnvironment(payload.env)) {
      return { ok: false, reason: 'token_wrong_environment' };
    }
    return { ok: false, reason: 'token_invalid' };
  }
}

function classifyJoseError(err: unknown): TokenFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_JWT_EXPIRED') return 'token_expired';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (err as { claim?: unknown }).claim === 'aud') {
    return 'token_wrong_site';
  }
  if (code === 'ERR_JWS_INVALID' || code === 'ERR_JWT_INVALID') return 'token_malformed';
  // Signature, algorithm, typ, iss, iat, crit, or a TypeError from a foreign key type: all simply invalid.
  return 'token_invalid';
}
