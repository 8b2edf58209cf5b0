/**
 * Hand-built JWS compact tokens for the attack suites. jose refuses to sign
 * most of what an attacker sends (`alg: none`, unknown `crit`, a string
 * `exp`), so tokens are assembled here from raw JSON and raw signatures.
 *
 * @example
 * const token = forge({ alg: 'HS256', kid: '../../etc/passwd' }, { sub: 'x', exp: 1 }, hmac('HS256', ''));
 */
import { createHmac, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';

/** Computes the signature over the JWS signing input (`header.payload`, as ASCII). */
export type Signer = (signingInput: string) => Buffer;

export const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** A header or payload: an object (serialised with JSON.stringify) or raw JSON text (for `1e400` and the like). */
export type Json = Record<string, unknown> | string;

export const encodeSegment = (value: Json): string => b64url(typeof value === 'string' ? value : JSON.stringify(value));

/** `header.payload.signature`, signed as given. */
export function forge(header: Json, payload: Json, signer: Signer): string {
  const signingInput = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  return `${signingInput}.${b64url(signer(signingInput))}`;
}

/** Re-signs a token whose segments are already encoded (e.g. a tampered header segment kept byte for byte). */
export function signSegments(headerSegment: string, payloadSegment: string, signer: Signer): string {
  const signingInput = `${headerSegment}.${payloadSegment}`;
  return `${signingInput}.${b64url(signer(signingInput))}`;
}

export const HMAC_HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;
export type HmacAlgorithm = keyof typeof HMAC_HASH;

/** HS256/384/512 with any key bytes, including the empty key (a `kid` pointing at /dev/null). */
export const hmac =
  (alg: HmacAlgorithm, key: string | Buffer): Signer =>
  (input) =>
    createHmac(HMAC_HASH[alg], key).update(input).digest();

/** ES256/384/512 in the JWS encoding (r || s, not DER). */
export const ecdsa =
  (key: KeyObject, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer =>
  (input) =>
    cryptoSign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });

/** RS256 / PS256. */
export const rsa =
  (key: KeyObject, pss = false): Signer =>
  (input) =>
    cryptoSign('sha256', Buffer.from(input), pss ? { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : key);

/** Ed25519 (EdDSA). */
export const eddsa =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign(null, Buffer.from(input), key);

/** A fixed signature, whatever the input (e.g. the empty signature of `alg: none`). */
export const fixedSignature =
  (bytes: Buffer): Signer =>
  () =>
    bytes;

export interface DecodedToken {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  segments: [string, string, string];
}

/** Splits and decodes a well-formed token (test input, so it throws on anything else). */
export function decode(token: string): DecodedToken {
  const segments = token.split('.');
  if (segments.length !== 3) throw new Error(`not a compact JWS: ${token}`);
  const [h, p, s] = segments as [string, string, string];
  const json = (seg: string) => JSON.parse(Buffer.from(seg, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: json(h), payload: json(p), segments: [h, p, s] };
}

/** Keeps the header and signature, swaps in another payload: what a tamperer does. */
export function withPayload(token: string, payload: Json): string {
  const { segments } = decode(token);
  return `${segments[0]}.${encodeSegment(payload)}.${segments[2]}`;
}

/** Removes `undefined` members, so `{ exp: undefined }` in a patch deletes the claim. */
export function patch(base: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ...changes };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

/**
 * A self-signed P-256 certificate and its key: an attacker's `x5c`. Test
 * material only, generated for this suite (`openssl req -x509 -newkey ec`).
 */
export const ATTACKER_CERTIFICATE_PEM = `-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUJnvWrURUvtJv2dfNvNKDxulcfaQwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQYXR0YWNrZXIuZXhhbXBsZTAgFw0yNjExMjIwMDU0MTlaGA8y
MTI2MTAyOTAwNTQxOVowGzEZMBcGA1UEAwwQYXR0YWNrZXIuZXhhbXBsZTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABIY8ZFIbsvHbeLgCIofWpTiWkVwF6GL2BXjL
yokrQ2VaVz6lwCfVGrRd/DRE7K1W4azCF226QfQVchDUwT9dFwejUzBRMB0GA1Ud
DgQWBBTmAEh1hnUuZ8HLfRDnvfmMRPCftzAfBgNVHSMEGDAWgBTmAEh1hnUuZ8HL
fRDnvfmMRPCftzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFPU
nCkHrJaar7fT+/vyezyqu3GlvnsGn7icb/F6ODtHAiAoG/foXIEkP0rml3JxN4IP
48dmNBNLU5UqBtuG3BKuZQ==
-----END CERTIFICATE-----`;

export const attackerCertificateKey = (): KeyObject =>
  createPrivateKey(`-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPWZ6RPAsj22KANY3
z2uFy6Y3u8zR0WRoEowwqIhbxuGhRANCAASGPGRSG7Lx23i4AiKH1qU4lpFcBehi
9gV4y8qJK0NlWlc+pcAn1Rq0Xfw0ROytVuGswhdtukH0FXIQ1ME/XRcH
-----END PRIVATE KEY-----`);

/** The certificate as an `x5c` member: base64 (not base64url) DER. */
export const attackerX5c = (): string[] => [
  ATTACKER_CERTIFICATE_PEM.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
];
