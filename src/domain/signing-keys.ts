import { iso } from './clock';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { randomBase62 } from './credentials';
import type { DomainContext } from './context';
import type { EventLog, KeyringStore } from './ports';
import type { ChangeCause } from './events';
import type { StoredKeyring, StoredSigningKey } from './records';

/** Verification tokens live 300 s; clocks may disagree by 5 s. */
export const VERIFICATION_TOKEN_LIFETIME_SECONDS = 300;
export const VERIFICATION_CLOCK_TOLERANCE_SECONDS = 5;
/** How long a replaced key stays published and trusted: every token it signed has expired by then. */
export const RETIRED_KEY_OVERLAP_MS = (VERIFICATION_TOKEN_LIFETIME_SECONDS + VERIFICATION_CLOCK_TOLERANCE_SECONDS + 60) * 1000;
/** An unknown `kid` makes us reread the keyring at most this often (a rotation elsewhere). */
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 1000;

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** A keyring in memory: keys imported, JWKS built. */
export interface LoadedKeyring {
  readonly currentKid: string;
  readonly signingKey: KeyObject;
  readonly verificationKeys: ReadonlyMap<string, { key: KeyObject; retiresAt: number | null }>;
  readonly jwks: { keys: PublicJwk[] };
  /** The stored keyring it was built from (the store hands out the same object while it is current). */
  readonly stored: StoredKeyring;
}

/** A key imported once per kid: reused for as long as the stored key under that kid is the same. */
interface ImportedKey {
  /** What it was imported from (the public coordinates, or the sealed private key). */
  readonly source: string;
  readonly key: KeyObject;
}

/**
 * The environment's ES256 signing keys. The private halves are encrypted at
 * rest; rotation keeps the previous public key until every token it signed
 * has expired.
 */
export class SigningKeys {
  private loaded: LoadedKeyring | null = null;
  private lastUnknownKidReload = 0;
  /**
   * Imported keys by kid. Rereading an unchanged keyring yields the very
   * same KeyObject per kid, so it does not invalidate the signatures
   * VerificationTokens remembers (it compares key identity).
   */
  private readonly publicKeys = new Map<string, ImportedKey>();
  private privateKey: (ImportedKey & { readonly kid: string }) | null = null;

  constructor(
    private readonly ctx: DomainContext,
    private readonly store: KeyringStore,
    private readonly events: { readonly siteIds: () => Promise<string[]>; readonly log: EventLog },
  ) {}

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

  private publicKeyOf(k: StoredSigningKey): KeyObject {
    const source = `${String(k.publicJwk.crv)} ${String(k.publicJwk.x)} ${String(k.publicJwk.y)}`;
    const known = this.publicKeys.get(k.kid);
    if (known?.source === source) return known.key;
    const key = createPublicKey({ key: k.publicJwk, format: 'jwk' });
    this.publicKeys.set(k.kid, { source, key });
    return key;
  }

  private privateKeyOf(k: StoredSigningKey): KeyObject {
    const known = this.privateKey;
    if (known?.kid === k.kid && known.source === k.privateSealed) return known.key;
    const key = createPrivateKey(this.ctx.secrets.decrypt(k.privateSealed, `signing-key:${k.kid}`));
    this.privateKey = { kid: k.kid, source: k.privateSealed, key };
    return key;
  }

  private load(stored: StoredKeyring): LoadedKeyring {
    const now = this.ctx.clock.now();
    const current = stored.keys.find((k) => k.kid === stored.currentKid);
    if (!current) throw new Error('signing keyring has no current key');
    const verificationKeys = new Map<string, { key: KeyObject; retiresAt: number | null }>();
    const jwks: PublicJwk[] = [];
    for (const k of stored.keys) {
      if (k.retiresAt !== null && k.retiresAt <= now) continue;
      verificationKeys.set(k.kid, { key: this.publicKeyOf(k), retiresAt: k.retiresAt });
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
    // Keys no longer in the keyring are not kept imported.
    for (const kid of this.publicKeys.keys()) if (!verificationKeys.has(kid)) this.publicKeys.delete(kid);
    return { currentKid: current.kid, signingKey: this.privateKeyOf(current), verificationKeys, jwks: { keys: jwks }, stored };
  }

  /** The stored keyring; made (by this instance or, in a race, another) on first use. */
  private async readOrCreate(fresh: boolean): Promise<StoredKeyring> {
    const existing = await this.store.read({ fresh });
    if (existing) return existing;
    const first = this.newKey(this.ctx.clock.now());
    return this.store.createIfAbsent({ currentKid: first.kid, keys: [first] });
  }

  /** The keyring, as the store serves it (from memory while it can be trusted), imported. */
  async keyring(options: { fresh?: boolean } = {}): Promise<LoadedKeyring> {
    return this.imported(await this.readOrCreate(options.fresh === true));
  }

  /**
   * The keyring, imported, when the store can serve it from memory right now;
   * else null (call `keyring()`, which reads the store). Never awaits.
   */
  keyringIfCached(): LoadedKeyring | null {
    const stored = this.store.readCached();
    return stored === null ? null : this.imported(stored);
  }

  private imported(stored: StoredKeyring): LoadedKeyring {
    const loaded = this.loaded;
    if (loaded !== null && loaded.stored === stored) return loaded;
    const next = this.load(stored);
    this.loaded = next;
    return next;
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
      ring = await this.keyring({ fresh: true });
      entry = ring.verificationKeys.get(kid);
    }
    if (!entry || (entry.retiresAt !== null && entry.retiresAt <= now)) return null;
    return entry.key;
  }

  async jwks(): Promise<{ keys: PublicJwk[] }> {
    const ring = await this.keyring();
    const now = this.ctx.clock.now();
    return {
      keys: ring.jwks.keys.filter((k) => {
        const e = ring.verificationKeys.get(k.kid);
        return !!e && (e.retiresAt === null || e.retiresAt > now);
      }),
    };
  }

  /** The keys still trusted (no private part): the one that signs, and those kept until their tokens expire. */
  async listSigningKeys(): Promise<{ kid: string; createdAt: string; current: boolean; retiresAt: string | null }[]> {
    const stored = await this.readOrCreate(true);
    const now = this.ctx.clock.now();
    return stored.keys
      .filter((k) => k.retiresAt === null || k.retiresAt > now)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((k) => ({
        kid: k.kid,
        createdAt: iso(k.createdAt),
        current: k.kid === stored.currentKid,
        retiresAt: k.retiresAt === null ? null : iso(k.retiresAt),
      }));
  }

  /** A new key signs from now on; the previous one is kept for verification until its tokens expire. */
  async rotateSigningKey(cause?: ChangeCause): Promise<{ kid: string; previousKid: string | null }> {
    await this.readOrCreate(true);
    const next = this.newKey(this.ctx.clock.now());
    let previousKid: string | null = null;
    // Applied to the keyring as stored at the moment of the write: a rotation elsewhere
    // at the same time is retired by this one, never overwritten.
    await this.store.update((stored) => {
      const now = this.ctx.clock.now();
      previousKid = stored.currentKid;
      const kept = stored.keys
        .filter((k) => k.kid !== next.kid && (k.retiresAt === null || k.retiresAt > now))
        .map((k) => (k.kid === stored.currentKid ? { ...k, retiresAt: now + RETIRED_KEY_OVERLAP_MS } : k));
      return { currentKid: next.kid, keys: [next, ...kept] };
    });
    // The keyring is the environment's, not a site's: its event goes to every
    // site's log after the change. A failure here fails the call (503), so the
    // rotation is never acknowledged without its events. The audit log has it
    // once, as the environment's; each site's log has it without the actor.
    const make = this.ctx.events();
    const data = { kid: next.kid, previousKid, previousKeyRetiresAt: iso(this.ctx.clock.now() + RETIRED_KEY_OVERLAP_MS) };
    const siteIds = await this.events.siteIds();
    await this.events.log.append(siteIds.map((siteId) => make('signing_key.rotated', siteId, data)));
    if (cause) {
      await this.events.log.appendEnvironmentAudit({ ...this.ctx.events(cause)('signing_key.rotated', '', data), siteId: null });
    }
    return { kid: next.kid, previousKid };
  }
}
