import { hash, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, compactVerify } from 'jose';
import { epochSeconds } from './clock';
import type { DomainContext } from './context';
import { isEnvironment } from './environments';
import type { SessionRecord } from './records';
import {
  VERIFICATION_CLOCK_TOLERANCE_SECONDS,
  VERIFICATION_TOKEN_LIFETIME_SECONDS,
  type SigningKeys,
} from './signing-keys';

export const VERIFICATION_TOKEN_TYPE = 'vg-verification+jwt';
const ALGORITHM = 'ES256';
/** ES256 signatures are R || S, 32 bytes each (RFC 7518 §3.4). */
const ES256_SIGNATURE_BYTES = 64;
/** A JWS compact serialisation: three base64url segments. Anything else is malformed, not merely invalid. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/**
 * Tokens whose signature this instance has verified, at most this many
 * (~0.5 KiB each). A token lives 5 minutes; oldest entries go first.
 */
export const MAX_VERIFIED_SIGNATURES = 50_000;

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

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'env', 'jti', 'iat', 'exp'] as const;

const fail = (reason: TokenFailure): TokenCheck => ({ ok: false, reason });

/** A segment's bytes, or null unless it is the canonical base64url of them (no stray low bits): one token, one string. */
function canonicalBytes(segment: string): Buffer | null {
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** jose's `typ` comparison (RFC 7515 §4.1.9: the `application/` prefix may be left out; case-insensitive). */
const normalizeTyp = (typ: string): string => {
  const lower = typ.toLowerCase();
  return typ.includes('/') ? lower : `application/${lower}`;
};
const EXPECTED_TYP = normalizeTyp(VERIFICATION_TOKEN_TYPE);

export interface ClaimsPolicy {
  readonly issuer: string;
  /** The siteId of the API key presenting the token. */
  readonly audience: string;
  readonly environment: string;
  /** Epoch seconds. */
  readonly now: number;
}

/**
 * The claims checks of SPEC §3, in jose's `jwtVerify` order (so the reason
 * for a token that fails several is the one jose would give): required
 * claims, `iss`, `aud`, `iat`, `nbf`, `exp`, age; then our own: string
 * claims, `exp - iat <= 300`, `env`. Runs on every exchange, cached
 * signature or not: the answer depends on the time and on who asks.
 */
export function checkVerificationClaims(claims: Readonly<Record<string, unknown>>, policy: ClaimsPolicy): TokenCheck {
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(claims, claim)) return fail('token_invalid');
  const { iss, aud, sub, sid, env, jti, iat, nbf, exp } = claims;
  if (iss !== policy.issuer) return fail('token_invalid');
  if (Array.isArray(aud) ? !aud.includes(policy.audience) : aud !== policy.audience) return fail('token_wrong_site');
  if (typeof iat !== 'number') return fail('token_invalid');
  const tolerance = VERIFICATION_CLOCK_TOLERANCE_SECONDS;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > policy.now + tolerance)) return fail('token_invalid');
  if (typeof exp !== 'number') return fail('token_invalid');
  if (exp <= policy.now - tolerance) return fail('token_expired');
  const age = policy.now - iat;
  if (age - tolerance > VERIFICATION_TOKEN_LIFETIME_SECONDS) return fail('token_expired');
  if (age < -tolerance) return fail('token_invalid');
  if (
    typeof aud !== 'string' ||
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    exp - iat > VERIFICATION_TOKEN_LIFETIME_SECONDS
  ) {
    return fail('token_invalid');
  }
  if (env !== policy.environment) return fail('token_wrong_environment');
  return { ok: true, claims: { iss, aud, sub, sid, env: policy.environment, jti, iat, exp } };
}

/** A token whose signature one of our keys verified: the key (to notice retirement or rotation) and its claims. */
interface VerifiedSignature {
  readonly kid: string;
  readonly key: KeyObject;
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Issues and checks the 5-minute verification tokens (SPEC §3). Checking
 * pins the algorithm (ES256), `typ`, `iss` and `aud`, requires `exp` and
 * `iat` no more than 300 s apart, allows 5 s of clock skew, takes the key
 * only from our own keyring by `kid` (never from `jku`, `x5u`, `jwk`,
 * `x5c`), refuses `crit`, and turns every failure, of any kind, into a
 * reason.
 *
 * Verifying an ES256 signature is most of an exchange's CPU, and a token
 * is typically exchanged many times in its 5 minutes; so each verified
 * signature is remembered, keyed by the SHA-256 of the whole token string
 * (a signature is a fact about those exact bytes and that key, it cannot
 * go stale). The claims are checked again on every exchange, the key must
 * still be in the keyring (the very same key object: a rotation or a
 * reload invalidates every entry), and the session and user are still
 * read from the store every time.
 */
export class VerificationTokens {
  private readonly verified = new Map<string, VerifiedSignature>();

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

  /**
   * Checks a token presented by the site `siteId`'s backend. Never throws for
   * a bad token; store faults do reject. A token verified before, under a
   * key still in the keyring as the store serves it from memory, is answered
   * without awaiting anything (its claims are still checked).
   */
  verifyVerificationToken(token: string, siteId: string): Promise<TokenCheck> {
    const digest = hash('sha256', token, 'base64url');
    const known = this.verified.get(digest);
    if (known !== undefined) {
      const entry = this.signingKeys.keyringIfCached()?.verificationKeys.get(known.kid);
      if (entry !== undefined && entry.key === known.key && (entry.retiresAt === null || entry.retiresAt > this.ctx.clock.now())) {
        return Promise.resolve(this.checkClaims(known.claims, siteId));
      }
    }
    return this.verifyReadingKeyring(token, digest, known, siteId);
  }

  /** As verifyVerificationToken, when the keyring may have to be read from the store. */
  private async verifyReadingKeyring(
    token: string,
    digest: string,
    known: VerifiedSignature | undefined,
    siteId: string,
  ): Promise<TokenCheck> {
    if (known !== undefined) {
      // The keyring is read as on a first sight of the token: a store fault propagates (503).
      if ((await this.signingKeys.verificationKey(known.kid)) === known.key) return this.checkClaims(known.claims, siteId);
      this.verified.delete(digest);
    }
    const signed = await this.verifySignature(token);
    if (!signed.ok) return signed;
    this.remember(digest, signed.verified);
    return this.checkClaims(signed.verified.claims, siteId);
  }

  private checkClaims(claims: Readonly<Record<string, unknown>>, siteId: string): TokenCheck {
    return checkVerificationClaims(claims, {
      issuer: this.ctx.publicUrl,
      audience: siteId,
      environment: this.ctx.environment,
      now: epochSeconds(this.ctx.clock.now()),
    });
  }

  /**
   * RFC 7515 §5.2 for a compact JWS, with the algorithm pinned: the header
   * names ES256, a `kid` of our keyring and no `crit`, and the signature
   * over the first two segments checks out under that key. Then the payload
   * must be a JSON object with our `typ` in the header. The ECDSA check
   * itself is jose's `compactVerify`. (A synchronous node:crypto `verify`
   * costs about half the CPU on Node 20, but the house rule is a well-kept
   * library for JWT; with the signature cache, the main workload rarely pays
   * for a check at all: docs/performance.md.)
   */
  private async verifySignature(
    token: string,
  ): Promise<{ readonly ok: true; readonly verified: VerifiedSignature } | { readonly ok: false; readonly reason: TokenFailure }> {
    if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'token_malformed' };
    const [headerSegment, payloadSegment, signatureSegment] = token.split('.') as [string, string, string];
    const headerBytes = canonicalBytes(headerSegment);
    const payloadBytes = canonicalBytes(payloadSegment);
    const signature = canonicalBytes(signatureSegment);
    if (!headerBytes || !payloadBytes || !signature) return { ok: false, reason: 'token_malformed' };
    const header = parseJsonObject(headerBytes);
    if (!header) return { ok: false, reason: 'token_malformed' };
    if (FOREIGN_KEY_HEADERS.some((h) => h in header)) return { ok: false, reason: 'token_invalid' };
    // SPEC §3 "rejects crit", whatever it lists.
    if ('crit' in header) return { ok: false, reason: 'token_invalid' };
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const otherEnv = kid.split('_')[0];
    if (otherEnv !== this.ctx.environment && isEnvironment(otherEnv)) return { ok: false, reason: 'token_wrong_environment' };

    // The key comes from our own keyring by kid; a store fault here propagates (503), never a guess.
    const key = kid ? await this.signingKeys.verificationKey(kid) : null;
    if (!key) return { ok: false, reason: this.classifyUnverifiable(payloadBytes) };
    if (header.alg !== ALGORITHM || signature.length !== ES256_SIGNATURE_BYTES) return { ok: false, reason: 'token_invalid' };
    // The signature check itself is jose's (RFC 7515 §5.2), algorithm pinned. Every failure, of any kind, is invalid.
    try {
      await compactVerify(token, key, { algorithms: [ALGORITHM] });
    } catch {
      return { ok: false, reason: 'token_invalid' };
    }
    const claims = parseJsonObject(payloadBytes);
    if (!claims) return { ok: false, reason: 'token_malformed' };
    if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== EXPECTED_TYP) return { ok: false, reason: 'token_invalid' };
    return { ok: true, verified: { kid, key, claims: Object.freeze(claims) } };
  }

  private remember(digest: string, entry: VerifiedSignature): void {
    if (this.verified.size >= MAX_VERIFIED_SIGNATURES) {
      // Oldest first (a Map keeps insertion order): those are the tokens nearest their expiry.
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(digest, entry);
  }

  /** No key of ours signed it: say why if the (unverified) claims tell, else just invalid. */
  private classifyUnverifiable(payloadBytes: Buffer): TokenFailure {
    const payload = parseJsonObject(payloadBytes);
    if (!payload) return 'token_malformed';
    if (payload.env !== this.ctx.environment && isEnvironment(payload.env)) return 'token_wrong_environment';
    return 'token_invalid';
  }
}
