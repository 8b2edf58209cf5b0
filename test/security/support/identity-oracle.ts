/**
 * An independent reading of SPEC §4, for the property tests: could verigate
 * rightly accept this identity token? Written from the spec, not from the
 * code under test, so that the two disagreeing is a finding.
 */
import { createHmac } from 'node:crypto';
import { HMAC_HASH, type HmacAlgorithm } from './forge';

const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Base64url decoded the way WHATWG's forgiving-base64 does (which is what
 * jose does on Node 20): whitespace ignored, padding optional, unused low
 * bits ignored. Null when it is not base64 at all.
 */
export function lenientBase64url(segment: string): Buffer | null {
  try {
    return Buffer.from(atob(segment.replace(/\s/g, '').replace(/-/g, '+').replace(/_/g, '/')), 'latin1');
  } catch {
    return null;
  }
}

/** The token is `h.p.s` where `s` is the HMAC (HS256/384/512, as `h` says) of `h.p` under `secret`. */
export function signedWithSecret(token: string, secret: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const [h, p, s] = parts as [string, string, string];
  let alg: unknown;
  try {
    alg = (JSON.parse(lenientBase64url(h)?.toString('utf8') ?? 'null') as { alg?: unknown } | null)?.alg;
  } catch {
    return false;
  }
  if (typeof alg !== 'string' || !(alg in HMAC_HASH)) return false;
  const expected = createHmac(HMAC_HASH[alg as HmacAlgorithm], secret).update(`${h}.${p}`).digest();
  const actual = lenientBase64url(s);
  return actual !== null && actual.equals(expected);
}

/** A valid `exp`: a number, not past (30 s tolerance), within the site's lifetime of `iat` (or now); `iat`/`nbf` not in the future. */
export function timeClaimsAcceptable(claims: Record<string, unknown>, nowSeconds: number, maxAgeSeconds: number): boolean {
  const { exp, iat, nbf } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return false;
  if (exp <= nowSeconds - CLOCK_TOLERANCE_SECONDS) return false;
  if (iat !== undefined && (typeof iat !== 'number' || iat > nowSeconds + CLOCK_TOLERANCE_SECONDS)) return false;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds + CLOCK_TOLERANCE_SECONDS)) return false;
  const start = typeof iat === 'number' ? iat : nowSeconds;
  return exp - start <= maxAgeSeconds;
}

/** The payload as jose would read it (lenient base64url, JSON object), or null. */
export function payloadOf(token: string): Record<string, unknown> | null {
  const p = token.split('.')[1];
  if (p === undefined) return null;
  try {
    const v = JSON.parse(lenientBase64url(p)?.toString('utf8') ?? 'null') as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
