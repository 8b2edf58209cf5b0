import { createSecretKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { epochSeconds } from './clock';
import type { AssertedIdentity, Attributes, AttributeValue } from './users';
import { MAX_ATTRIBUTES_BYTES, MAX_USER_ID_LENGTH, attributesSize, isWellFormedUserId } from './users';

/** Why a customer-signed identity token was refused (the `reason` of `invalid_identity_token`). */
export type IdentityTokenFailure =
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'bad_signature'
  | 'wrong_audience'
  | 'site_key_mismatch'
  | 'missing_user_id'
  | 'unsupported_algorithm'
  | 'malformed'
  | 'attributes_too_large';

export type { AssertedIdentity, SignInRefusal } from './users';

export type IdentityCheck =
  | { readonly ok: true; readonly identity: AssertedIdentity }
  | { readonly ok: false; readonly reason: IdentityTokenFailure; readonly detail: string };

export const IDENTITY_AUDIENCE = 'verigate-identity';
export const IDENTITY_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
export const IDENTITY_CLOCK_TOLERANCE_SECONDS = 30;

/** Registered JWT claims and the claims we read ourselves: never copied into attributes. */
const NOT_ATTRIBUTES = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'userId', 'id', 'user', 'email', 'name', 'siteKey']);
const MAX_EMAIL_LENGTH = 320;
const MAX_NAME_LENGTH = 256;

export interface IdentityPolicy {
  /** The site's current identity secret and, during a rotation's grace, the previous one. */
  readonly secrets: readonly string[];
  readonly publishableKey: string;
  readonly maxIdentityTokenAgeSeconds: number;
  /** Epoch ms. */
  readonly now: number;
}

const fail = (reason: IdentityTokenFailure, detail: string): IdentityCheck => ({ ok: false, reason, detail });

function isAttributeValue(v: unknown): v is AttributeValue {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** `sub`, else `userId`, else `id`, else `user.id` — the shapes widget vendors use. */
function readUserId(payload: JWTPayload, user: Record<string, unknown> | undefined): string | null {
  for (const candidate of [payload.sub, payload.userId, payload.id, user?.id]) {
    if (typeof candidate === 'string' && candidate.length > 0) return candidate;
    if (typeof candidate === 'number' && Number.isSafeInteger(candidate)) return String(candidate);
  }
  return null;
}

function readOptionalString(
  name: 'email' | 'name',
  payload: JWTPayload,
  user: Record<string, unknown> | undefined,
  max: number,
): string | null | undefined | Error {
  const value = payload[name] !== undefined ? payload[name] : user?.[name];
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string' || value.length > max) return new Error(`${name} must be a string of at most ${max} characters`);
  return value;
}

/** Maps jose's coded errors to our reasons; anything unknown (even a TypeError) is `malformed`. */
function classify(err: unknown): { reason: IdentityTokenFailure; detail: string } {
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown } | null;
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return { reason: 'expired', detail: 'The identity token has expired' };
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return { reason: 'bad_signature', detail: "The signature does not match the site's identity secret" };
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return { reason: 'unsupported_algorithm', detail: 'Sign identity tokens with HS256 (HS384 and HS512 accepted)' };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if ((e.claim === 'nbf' || e.claim === 'iat') && e.reason === 'check_failed') {
        return { reason: 'not_yet_valid', detail: `The token is not valid yet (${String(e.claim)} is in the future)` };
      }
      return { reason: 'malformed', detail: `The ${String(e.claim)} claim is missing or not valid` };
    default:
      return { reason: 'malformed', detail: 'The identity token is not a valid JWT' };
  }
}

/**
 * Verifies a customer-signed identity token (SPEC §4) and reads the
 * identity it asserts. HS256/384/512 only; `exp` required and no further
 * than the site's limit beyond `iat` (or now); `nbf` honoured; 30 s clock
 * tolerance; `aud`, if present, must be `verigate-identity`; `siteKey`, if
 * present, must be the site's publishable key. Every failure is a reason,
 * never an exception.
 */
export async function verifyIdentityToken(token: string, policy: IdentityPolicy): Promise<IdentityCheck> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return fail('malformed', 'The identity token is not a valid JWT');
  }
  if (typeof alg !== 'string' || !IDENTITY_ALGORITHMS.includes(alg)) {
    return fail('unsupported_algorithm', 'Sign identity tokens with HS256 (HS384 and HS512 accepted)');
  }

  let payload: JWTPayload | undefined;
  let failure: { reason: IdentityTokenFailure; detail: string } | undefined;
  for (const secret of policy.secrets) {
    try {
      ({ payload } = await jwtVerify(token, createSecretKey(Buffer.from(secret, 'utf8')), {
        algorithms: IDENTITY_ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: IDENTITY_CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(policy.now),
      }));
      break;
    } catch (err) {
      failure = classify(err);
      // Only a signature mismatch is worth trying the previous secret for.
      if (failure.reason !== 'bad_signature') break;
    }
  }
  if (!payload) return fail(failure?.reason ?? 'malformed', failure?.detail ?? 'The identity token is not valid');

  const now = epochSeconds(policy.now);
  const { exp, iat } = payload as { exp: number; iat?: unknown };
  if (iat !== undefined && typeof iat !== 'number') return fail('malformed', 'The iat claim must be a number');
  // jose checks a future iat only together with maxTokenAge, which would make iat required: check it here.
  if (typeof iat === 'number' && iat > now + IDENTITY_CLOCK_TOLERANCE_SECONDS) {
    return fail('not_yet_valid', 'The token is not valid yet (iat is in the future)');
  }
  const start = typeof iat === 'number' ? iat : now;
  if (exp - start > policy.maxIdentityTokenAgeSeconds) {
    return fail(
      'lifetime_too_long',
      `exp may be at most ${policy.maxIdentityTokenAgeSeconds} s after ${iat === undefined ? 'now' : 'iat'} (the site's maxIdentityTokenAgeSeconds)`,
    );
  }
  if (payload.aud !== undefined) {
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!auds.includes(IDENTITY_AUDIENCE)) return fail('wrong_audience', `aud, when present, must be "${IDENTITY_AUDIENCE}"`);
  }
  if (payload.siteKey !== undefined && payload.siteKey !== policy.publishableKey) {
    return fail('site_key_mismatch', "siteKey does not match this site's publishable key");
  }

  const user =
    payload.user !== null && typeof payload.user === 'object' && !Array.isArray(payload.user)
      ? (payload.user as Record<string, unknown>)
      : undefined;
  const userId = readUserId(payload, user);
  if (userId !== null && userId.length > MAX_USER_ID_LENGTH) {
    return fail('malformed', `The user id must be at most ${MAX_USER_ID_LENGTH} characters`);
  }
  if (userId !== null && !isWellFormedUserId(userId)) return fail('malformed', 'The user id must be well-formed Unicode (no lone surrogates)');
  const email = readOptionalString('email', payload, user, MAX_EMAIL_LENGTH);
  if (email instanceof Error) return fail('malformed', email.message);
  // NUL separates an email from the user id in the site's user index; no address holds one.
  if (typeof email === 'string' && email.includes('\u0000')) return fail('malformed', 'email must not contain the character U+0000');
  if (userId === null && (typeof email !== 'string' || email === '')) {
    return fail('missing_user_id', 'Put the user id in sub (or userId, id, user.id), or the email of an existing user in email');
  }
  const name = readOptionalString('name', payload, user, MAX_NAME_LENGTH);
  if (name instanceof Error) return fail('malformed', name.message);

  const attributes: Attributes = {};
  for (const [claim, value] of Object.entries(payload)) {
    if (NOT_ATTRIBUTES.has(claim)) continue;
    // `__proto__` cannot be a plain member of a JS object; passing it on would hand customers a pollution vector.
    if (claim === '__proto__') return fail('malformed', 'The claim "__proto__" cannot be an attribute');
    if (!isAttributeValue(value)) {
      return fail('malformed', `Claim ${JSON.stringify(claim)} must be a string, number, boolean or null to become an attribute`);
    }
    attributes[claim] = value;
  }
  if (attributesSize(attributes) > MAX_ATTRIBUTES_BYTES) {
    return fail('attributes_too_large', `The extra claims (attributes) must be at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON`);
  }
  const identity: AssertedIdentity =
    userId === null ? { userId, email: email as string, name, attributes } : { userId, email, name, attributes };
  return { ok: true, identity };
}
