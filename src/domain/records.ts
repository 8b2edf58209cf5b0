import type { JsonWebKey } from 'node:crypto';
import type { Environment } from './environments';

/*
 * The records the domain keeps, as the stores of ports.ts hold them. Plain
 * data: no methods, no key names, no encoding. Instants are epoch ms.
 */

/**
 * Whether an identity token may sign in more than once (SPEC §7): `refuse`
 * (the default) or `allow`, for customers who render one token into every page.
 */
export type IdentityTokenReuse = 'refuse' | 'allow';

/** A site as stored. The identity secrets are sealed (AES-256-GCM). */
export interface SiteRecord {
  readonly siteId: string;
  readonly name: string;
  readonly allowedOrigins: readonly string[];
  readonly publishableKey: string;
  readonly maxIdentityTokenAgeSeconds: number;
  /** Absent on sites stored before the setting existed: `refuse`. */
  readonly identityTokenReuse?: IdentityTokenReuse;
  /** Seats: at most this many users (null or absent, as on sites made before seats: no limit). */
  readonly maxUsers?: number | null;
  readonly identitySecretSealed: string;
  /** The secret replaced by the last rotation, while its grace period runs. */
  readonly previousIdentitySecretSealed: string | null;
  readonly previousIdentitySecretValidUntil: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /**
   * Set when a deletion of the site began: from then on the site reads as
   * absent everywhere, while its keys, users and sessions are removed (a
   * deletion cut short is finished by the next DELETE).
   */
  readonly deletedAt?: number | null;
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

/** A user's profile as an admin call or a sign-in changes it: a field left out keeps its value. */
export interface UserChanges {
  readonly email?: string | null | undefined;
  readonly name?: string | null | undefined;
  readonly attributes?: Attributes | undefined;
  /** Replaces the whole list (admin PUT only; a sign-in never touches product access). */
  readonly productAccess?: readonly ProductAccess[] | undefined;
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

export const DEFAULT_IDENTITY_TOKEN_REUSE: IdentityTokenReuse = 'refuse';

/** The site's `identityTokenReuse`; sites stored before the setting existed refuse reuse. */
export function identityTokenReuseOf(site: SiteRecord): IdentityTokenReuse {
  return site.identityTokenReuse ?? DEFAULT_IDENTITY_TOKEN_REUSE;
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

export type AdminRole = 'read' | 'write';

/**
 * A scoped admin token as stored, under the keyed hash of the token, in the
 * namespace of every environment it covers. The token itself is never stored.
 */
export interface AdminTokenRecord {
  readonly tokenId: string;
  readonly name: string;
  readonly role: AdminRole;
  readonly environments: readonly Environment[];
  /** null: every site of those environments. */
  readonly siteIds: readonly string[] | null;
  readonly last4: string;
  readonly createdAt: number;
}

/** A console sign-in, stored under the keyed hash of its cookie's secret. */
export interface ConsoleSessionRecord {
  /** `root`, or the scoped admin token's tokenId. */
  readonly actor: string;
  readonly createdAt: number;
  /** Absolute end: at most 12 h after sign-in. */
  readonly expiresAt: number;
  /** The idle timeout (1 h) slides from here. */
  readonly lastSeenAt: number;
}

/** Exchanges counted in one second (epoch seconds), by outcome. */
export interface ExchangeCounts {
  readonly second: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** A site's webhook endpoint (SPEC §11). Its signing secrets are sealed (AES-256-GCM): they must be usable to sign. */
export interface WebhookEndpointRecord {
  readonly endpointId: string;
  readonly siteId: string;
  readonly url: string;
  readonly description: string | null;
  /** null: every event type. */
  readonly eventTypes: readonly string[] | null;
  readonly disabled: boolean;
  readonly secretSealed: string;
  /** The secret replaced by the last rotation: it signs too until `previousSecretValidUntil`. */
  readonly previousSecretSealed: string | null;
  readonly previousSecretValidUntil: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One try at delivering an event to an endpoint. */
export interface WebhookAttemptRecord {
  /** Epoch ms (wall clock). */
  readonly at: number;
  /** The receiver's status, or null when none came (refused target, timeout, connection error). */
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

/** An event on its way to one endpoint, with every attempt so far. */
export interface WebhookDeliveryRecord {
  readonly endpointId: string;
  readonly siteId: string;
  readonly eventId: string;
  readonly eventType: string;
  /** The body sent: the event JSON, fixed when the delivery was made (retries send the very same bytes). */
  readonly payload: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: readonly WebhookAttemptRecord[];
  /** When it is due next (epoch ms, wall clock); null once delivered or failed. */
  readonly nextAttemptAt: number | null;
  readonly createdAt: number;
  /** Attempts made before the last resend (the retry schedule counts from there). */
  readonly retryFrom?: number;
}
