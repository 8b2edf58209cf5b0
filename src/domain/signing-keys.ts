import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { randomBase62 } from './credentials';
import { parseRecord, type DomainContext } from './context';
import { keys } from '../store/keys';

/** Verification tokens live 300 s; clocks may disagree by 5 s. */
export const VERIFICATION_TOKEN_LIFETIME_SECONDS = 300;
export const VERIFICATION_CLOCK_TOLERANCE_SECONDS = 5;
/** How long a replaced key stays published and trusted: every token it signed has expired by then. */
export const RETIRED_KEY_OVERLAP_MS = (VERIFICATION_TOKEN_LIFETIME_SECONDS + VERIFICATION_CLOCK_TOLERANCE_SECONDS + 60) * 1000;
/** Without a live invalidation channel, a loaded keyring is trusted this long. */
const UNSUBSCRIBED_KEYRING_TTL_MS = 1000;
/** An unknown `kid` makes us reread the keyring at most this often (a rotation elsewhere). */
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 1000;

interface StoredSigningKey {
  readonly kid: string;
  readonly createdAt: number;
  readonly publicJwk: JsonWebKey;
  /** PKCS#8 PEM, sealed with the master key. */
  readonly privateSealed: string;
  /** When it stops being trusted; null for the current key. */
  readonly retiresAt: number | null;
}

interface StoredKeyring {
  readonly currentKid: string;
  readonly keys: readonly StoredSigningKey[];
}

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** A keyring in memory: keys imported once, JWKS built once. */
export interface LoadedKeyring {
  readonly currentKid: string;
  readonly signingKey: KeyObject;
  readonly verificationKeys: ReadonlyMap<string, { key: KeyObject; retiresAt: number | null }>;
  readonly jwks: { keys: PublicJwk[] };
  readonly loadedAt: number;
}

/**
 * The environment's ES256 signing keys. The private halves are encrypted at
 * rest; rotation keeps the previous public key until every token it signed
 * has expired.
 */
export class SigningKeys {
  private loaded: LoadedKeyring | null = null;
  private loading: Promise<LoadedKeyring> | null = null;
  private lastUnknownKidReload = 0;

  constructor(private readonly ctx: DomainContext) {
    ctx.bus.register({
      onInvalidation: (m) => {
        if (m.t === 'signing-keys') this.loaded = null;
      },
      onReset: () => {
        this.loaded = null;
      },
    });
  }

  private newKey(now: number): StoredSigningKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = `${this.ctx.environment}_${randomBase62(16)}`;
    return {
      kid,
      createdAt: now,
      publicJwk: publicKey.export({ format: 'jwk' }),
      privateSealed: this.ctx.secrets.encrypt(
        privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        `signing-key:${kid}`,
      ),
      retiresAt: null,
    };
  }

  private load(stored: StoredKeyring): LoadedKeyring {
    const now = this.ctx.clock.now();
    const current = stored.keys.find((k) => k.kid === stored.currentKid);
    if (!current) throw new Error('signing keyring has no current key');
    const verificationKeys = new Map<string, { key: KeyObject; retiresAt: number | null }>();
    const jwks: PublicJwk[] = [];
    for (const k of stored.keys) {
      if (k.retiresAt !== null && k.retiresAt <= now) continue;
      verificationKeys.set(k.kid, { key: createPublicKey({ key: k.publicJwk, format: 'jwk' }), retiresAt: k.retiresAt });
      jwks.push({
        kty: String(k.publicJwk.kty),
        crv: String(k.publicJwk.crv),
        x: String(k.publicJwk.x),
        y: String(k.publicJwk.y),
        kid: k.kid,
        alg: 'ES256',
        use: 'sig',
      });
    }
    return {
      currentKid: current.kid,
      signingKey: createPrivateKey(this.ctx.secrets.decrypt(current.privateSealed, `signing-key:${current.kid}`)),
      verificationKeys,
      jwks: { keys: jwks },
      loadedAt: now,
    };
  }

  private async readOrCreate(): Promise<StoredKeyring> {
    const existing = parseRecord<StoredKeyring>(await this.ctx.store.get(keys.signingKeys()));
    if (existing) return existing;
    const first = this.newKey(this.ctx.clock.now());
    const keyring: StoredKeyring = { currentKid: first.kid, keys: [first] };
    if (await this.ctx.store.setIfAbsent(keys.signingKeys(), JSON.stringify(keyring))) return keyring;
    // Another instance created it first: use theirs.
    const theirs = parseRecord<StoredKeyring>(await this.ctx.store.get(keys.signingKeys()));
    if (!theirs) throw new Error('signing keyring vanished while being created');
    return theirs;
  }

  private fresh(k: LoadedKeyring | null): k is LoadedKeyring {
    if (!k) return false;
    return this.ctx.bus.active || this.ctx.clock.now() - k.loadedAt < UNSUBSCRIBED_KEYRING_TTL_MS;
  }

  /** The keyring, from memory when it can be trusted, else from the store (created on first use). */
  async keyring(): Promise<LoadedKeyring> {
    if (this.fresh(this.loaded)) return this.loaded;
    if (!this.loading) {
      this.loading = this.readOrCreate()
        .then((stored) => {
          const loaded = this.load(stored);
          this.loaded = loaded;
          return loaded;
        })
        .finally(() => {
          this.loading = null;
        });
    }
    return this.loading;
  }

  /**
   * The key for a `kid`, or null. An unknown kid from this environment may
   * mean a rotation whose news has not arrived: reread, at most once a second.
   */
  async verificationKey(kid: string): Promise<KeyObject | null> {
    let ring = await this.keyring();
    let entry = ring.verificationKeys.get(kid);
    const now = this.ctx.clock.now();
    if (!entry && kid.startsWith(`${this.ctx.environment}_`) && now - this.lastUnknownKidReload >= UNKNOWN_KID_RELOAD_INTERVAL_MS) {
      this.lastUnknownKidReload = now;
      this.loaded = null;
      ring = await this.keyring();
      entry = ring.verificationKeys.get(kid);
    }
    if (!entry || (entry.retiresAt !== null && entry.retiresAt <= now)) return null;
    return entry.key;
  }

  async jwks(): Promise<{ keys: PublicJwk[] }> {
    const ring = await this.keyring();
    const now = this.ctx.clock.now();
    return { keys: ring.jwks.keys.filter((k) => { const e = ring.verificationKeys.get(k.kid); return !!e && (e.retiresAt === null || e.retiresAt > now); }) };
  }

  /** A new key signs from now on; the previous one is kept for verification until its tokens expire. */
  async rotateSigningKey(): Promise<{ kid: string; previousKid: string | null }> {
    const stored = await this.readOrCreate();
    const now = this.ctx.clock.now();
    const next = this.newKey(now);
    const kept = stored.keys
      .filter((k) => k.retiresAt === null || k.retiresAt > now)
      .map((k) => (k.kid === stored.currentKid ? { ...k, retiresAt: now + RETIRED_KEY_OVERLAP_MS } : k));
    const keyring: StoredKeyring = { currentKid: next.kid, keys: [next, ...kept] };
    await this.ctx.store.write([{ op: 'set', key: keys.signingKeys(), value: JSON.stringify(keyring) }]);
    this.loaded = null;
    await this.ctx.bus.publish({ t: 'signing-keys' });
    return { kid: next.kid, previousKid: stored.currentKid };
  }
}
