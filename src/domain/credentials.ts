import { randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Environment } from './environments';

/**
 * Credential format (SPEC §2): `vg_<env>_<kind>_` + 32 base62 random chars +
 * 6 base62 chars of the CRC32 of everything before them. The checksum lets a
 * typo or a truncated key be refused without a store lookup, and gives secret
 * scanners a pattern with almost no false positives.
 */
export type CredentialKind = 'sk' | 'pk' | 'st';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const CREDENTIAL_RE = /^vg_(live|sandbox)_(sk|pk|st)_([0-9A-Za-z]{38})$/;

/** `n` random base62 characters from a CSPRNG (no modulo bias: randomInt is uniform). */
export function randomBase62(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += BASE62[randomInt(62)];
  return out;
}

/** Base62, most significant digit first, left-padded with `0`. */
export function toBase62(value: number, width: number): string {
  let out = '';
  let v = value;
  while (v > 0) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out.padStart(width, '0');
}

export function checksum(body: string): string {
  return toBase62(crc32(body), CHECKSUM_LENGTH);
}

export function generateCredential(env: Environment, kind: CredentialKind): string {
  const body = `vg_${env}_${kind}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

export type CredentialCheck =
  | { readonly ok: true; readonly environment: Environment; readonly kind: CredentialKind }
  /** Looks like a credential of `kind` but for the other environment (checksum valid). */
  | { readonly ok: false; readonly problem: 'malformed' }
  | { readonly ok: false; readonly problem: 'wrong_kind'; readonly environment: Environment };

/**
 * Checks shape and checksum only; no store lookup. A credential with a valid
 * checksum for the other environment is reported with its environment so the
 * caller can name the mix-up.
 */
export function parseCredential(value: string, kind: CredentialKind): CredentialCheck {
  const m = CREDENTIAL_RE.exec(value);
  if (!m) return { ok: false, problem: 'malformed' };
  const split = value.length - CHECKSUM_LENGTH;
  if (checksum(value.slice(0, split)) !== value.slice(split)) return { ok: false, problem: 'malformed' };
  const environment = m[1] as Environment;
  if (m[2] !== kind) return { ok: false, problem: 'wrong_kind', environment };
  return { ok: true, environment, kind };
}

const ADMIN_TOKEN_RE = /^vg_admin_[0-9A-Za-z]{38}$/;

/**
 * A scoped admin token: `vg_admin_` + 32 base62 random chars + 6 base62
 * chars of the CRC32 of everything before them, the shape of every other
 * credential (no environment in it: one token may cover both).
 */
export function generateAdminToken(): string {
  const body = `vg_admin_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

/** Shape and checksum of a scoped admin token; no store lookup. */
export function isWellFormedAdminToken(value: string): boolean {
  if (!ADMIN_TOKEN_RE.test(value)) return false;
  const split = value.length - CHECKSUM_LENGTH;
  return checksum(value.slice(0, split)) === value.slice(split);
}

/** Identity secret: `vg_<env>_is_` + 43 base62 chars (SPEC §2). The HMAC key is the whole string. */
export function generateIdentitySecret(env: Environment): string {
  return `vg_${env}_is_${randomBase62(43)}`;
}

export const last4 = (secret: string): string => secret.slice(-4);
