import type { JsonWebKey } from 'node:crypto';

/*
 * The records the domain keeps, as the stores of ports.ts hold them. Plain
 * data: no methods, no key names, no encoding. Instants are epoch ms.
 */

/** A site as stored. The identity secrets are sealed (AES-256-GCM). */
export interface SiteRecord {
  readonly siteId: string;
  readonly name: string;
  readonly allowedOrigins: readonly string[];
  readonly publishableKey: string;
  readonly maxIdentityTokenAgeSeconds: number;
  readonly identitySecretSealed: string;
  /** The secret replaced by the last rotation, while its grace period runs. */
  readonly previousIdentitySecretSealed: string | null;
  readonly previousIdentitySecretValidUntil: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** An API key as stored, under the keyed hash of its secret. The secret itself is never stored. */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly siteId: string;
  readonly name: string;
  readonly last4: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

export type AttributeValue = string | number | boolean | null;
export type Attributes = Record<string, AttributeValue>;

export interface ProductAccess {
  readonly productId: string;
  /** Epoch ms, or null for no end. */
  readonly expiresAt: number | null;
}

/** A user of one site. */
export interface UserRecord {
  readonly userId: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly attributes: Attributes;
  readonly productAccess: readonly ProductAccess[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A signed-in visitor of one site. */
export interface SessionRecord {
  readonly sessionId: string;
  readonly siteId: string;
  readonly userId: string;
  readonly createdAt: number;
  /** Absolute end (epoch ms). */
  readonly expiresAt: number;
  readonly idleTimeoutSeconds: number;
  readonly lastActiveAt: number;
  /** Keyed hash of the session token, so ending the session can drop the token's pointer. */
  readonly tokenHash: string;
}

/** One ES256 key of the environment's keyring. */
export interface StoredSigningKey {
  readonly kid: string;
  readonly createdAt: number;
  readonly publicJwk: JsonWebKey;
  /** PKCS#8 PEM, sealed with the master key. */
  readonly privateSealed: string;
  /** When it stops being trusted; null for the current key. */
  readonly retiresAt: number | null;
}

/** The environment's signing keyring: the current key and those still trusted. */
export interface StoredKeyring {
  readonly currentKid: string;
  readonly keys: readonly StoredSigningKey[];
}

/**
 * When the session ends by itself if nothing touches it again: its absolute
 * end or its idle timeout, whichever comes first.
 */
export function sessionEndsAt(session: SessionRecord): number {
  return Math.min(session.expiresAt, session.lastActiveAt + session.idleTimeoutSeconds * 1000);
}

/** True while the session is neither past its absolute end nor idle for too long. */
export function isSessionActive(session: SessionRecord, now: number): boolean {
  return now < sessionEndsAt(session);
}
