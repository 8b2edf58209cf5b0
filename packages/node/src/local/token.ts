import { verify, type KeyObject } from 'node:crypto';
import type { Environment, NotVerifiedReason } from '../protocol.js';

/**
 * The gateway's verification-token checks (SPEC §3; the gateway's
 * `src/domain/verification-tokens.ts`), step for step and in the same
 * order, so a local refusal carries the very reason the exchange would
 * give. Where the answer would depend on something only the gateway knows
 * (a `kid` not in our copy of the JWKS, an `iss` other than the one the
 * gateway accepted before), the check says `unsure` and the caller asks
 * the gateway instead.
 */

export const VERIFICATION_TOKEN_TYPE = 'vg-verification+jwt';
export const VERIFICATION_TOKEN_LIFETIME_SECONDS = 300;
export const VERIFICATION_CLOCK_TOLERANCE_SECONDS = 5;
const ALGORITHM = 'ES256';
/** ES256 signatures are R || S, 32 bytes each (RFC 7518 §3.4). */
const ES256_SIGNATURE_BYTES = 64;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const FOREIGN_KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'env', 'jti', 'iat', 'exp'] as const;

export type TokenFailure = Extract<
  NotVerifiedReason,
  'token_malformed' | 'token_invalid' | 'token_expired' | 'token_wrong_environment' | 'token_wrong_site'
>;

/** A token whose signature one of the environment's keys verified. */
export interface SignedToken {
  readonly kid: string;
  readonly key: KeyObject;
  readonly claims: Readonly<Record<string, unknown>>;
}

export type SignatureCheck =
  | { readonly ok: true; readonly signed: SignedToken }
  | { readonly ok: false; readonly reason: TokenFailure }
  /** The gateway may know a key we do not (`kid` unknown here): ask it. */
  | { readonly ok: false; readonly reason: 'unsure'; readonly kid: string };

export interface VerificationClaims {
  readonly iss: string;
  readonly aud: string;
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

export type ClaimsCheck =
  | { readonly ok: true; readonly claims: VerificationClaims }
  | { readonly ok: false; readonly reason: TokenFailure | 'unsure' };

const isEnvironment = (value: unknown): value is Environment => value === 'live' || value === 'sandbox';

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

/** RFC 7515 §4.1.9: the `application/` prefix may be left out; case-insensitive (jose's comparison, as the gateway's). */
const normalizeTyp = (typ: string): string => {
  const lower = typ.toLowerCase();
  return typ.includes('/') ? lower : `application/${lower}`;
};
const EXPECTED_TYP = normalizeTyp(VERIFICATION_TOKEN_TYPE);

/**
 * The gateway's signature step: compact JWS, canonical base64url, no key
 * from the token (`jku`, `x5u`, `jwk`, `x5c`), no `crit`, a `kid` of the
 * other environment named as such, the key by `kid` only, ES256 pinned,
 * then the payload an object and our `typ`. `keyFor` answers from the
 * JWKS held in memory; `undefined` means "not known here".
 */
export function checkSignature(
  token: string,
  environment: Environment,
  keyFor: (kid: string) => KeyObject | undefined,
): SignatureCheck {
  if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'token_malformed' };
  const [headerSegment, payloadSegment, signatureSegment] = token.split('.') as [string, string, string];
  const headerBytes = canonicalBytes(headerSegment);
  const payloadBytes = canonicalBytes(payloadSegment);
  const signature = canonicalBytes(signatureSegment);
  if (!headerBytes || !payloadBytes || !signature) return { ok: false, reason: 'token_malformed' };
  const header = parseJsonObject(headerBytes);
  if (!header) return { ok: false, reason: 'token_malformed' };
  if (FOREIGN_KEY_HEADERS.some((h) => h in header)) return { ok: false, reason: 'token_invalid' };
  if ('crit' in header) return { ok: false, reason: 'token_invalid' };
  const kid = typeof header.kid === 'string' ? header.kid : '';
  const kidEnvironment = kid.split('_')[0];
  if (kidEnvironment !== environment && isEnvironment(kidEnvironment)) return { ok: false, reason: 'token_wrong_environment' };
  if (kid === '') return { ok: false, reason: classifyUnverifiable(payloadBytes, environment) };
  const key = keyFor(kid);
  if (key === undefined) return { ok: false, reason: 'unsure', kid };
  if (header.alg !== ALGORITHM || signature.length !== ES256_SIGNATURE_BYTES) return { ok: false, reason: 'token_invalid' };
  let valid: boolean;
  try {
    valid = verify('sha256', Buffer.from(`${headerSegment}.${payloadSegment}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'token_invalid' };
  const claims = parseJsonObject(payloadBytes);
  if (!claims) return { ok: false, reason: 'token_malformed' };
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== EXPECTED_TYP) return { ok: false, reason: 'token_invalid' };
  return { ok: true, signed: { kid, key, claims: Object.freeze(claims) } };
}

function classifyUnverifiable(payloadBytes: Buffer, environment: Environment): TokenFailure {
  const payload = parseJsonObject(payloadBytes);
  if (!payload) return 'token_malformed';
  if (payload.env !== environment && isEnvironment(payload.env)) return 'token_wrong_environment';
  return 'token_invalid';
}

export interface ClaimsPolicy {
  /** The `iss` the gateway accepted in an earlier exchange; another one is `unsure`. */
  readonly issuer: string;
  /** The API key's siteId (the `aud` the gateway accepted before). */
  readonly audience: string;
  readonly environment: Environment;
  /** Epoch seconds. */
  readonly now: number;
}

/** The gateway's claims step (`checkVerificationClaims`), in its order. */
export function checkClaims(claims: Readonly<Record<string, unknown>>, policy: ClaimsPolicy): ClaimsCheck {
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(claims, claim)) return { ok: false, reason: 'token_invalid' };
  const { iss, aud, sub, sid, env, jti, iat, nbf, exp } = claims;
  // Another issuer than the one seen: the gateway's public URL may have changed since; it decides.
  if (iss !== policy.issuer) return { ok: false, reason: 'unsure' };
  if (Array.isArray(aud) ? !aud.includes(policy.audience) : aud !== policy.audience) return { ok: false, reason: 'token_wrong_site' };
  if (typeof iat !== 'number') return { ok: false, reason: 'token_invalid' };
  const tolerance = VERIFICATION_CLOCK_TOLERANCE_SECONDS;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > policy.now + tolerance)) return { ok: false, reason: 'token_invalid' };
  if (typeof exp !== 'number') return { ok: false, reason: 'token_invalid' };
  if (exp <= policy.now - tolerance) return { ok: false, reason: 'token_expired' };
  const age = policy.now - iat;
  if (age - tolerance > VERIFICATION_TOKEN_LIFETIME_SECONDS) return { ok: false, reason: 'token_expired' };
  if (age < -tolerance) return { ok: false, reason: 'token_invalid' };
  if (
    typeof aud !== 'string' ||
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    exp - iat > VERIFICATION_TOKEN_LIFETIME_SECONDS
  ) {
    return { ok: false, reason: 'token_invalid' };
  }
  if (env !== policy.environment) return { ok: false, reason: 'token_wrong_environment' };
  return { ok: true, claims: { iss, aud, sub, sid, jti, iat, exp } };
}

/** The claims of a token, unverified: to learn `iss` and `aud` from a token the gateway has just verified. */
export function unverifiedClaims(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  const bytes = canonicalBytes(payload);
  return bytes ? parseJsonObject(bytes) : null;
}
