import type { Clock } from '../../domain/clock';
import { StoreUnavailableError } from '../../domain/errors';
import type { KeyringStore } from '../../domain/ports';
import type { StoredKeyring } from '../../domain/records';
import type { KvStore } from '../kv';
import type { InvalidationBus } from './invalidation';
import { decode, encode } from './json';
import { keys } from './keys';

/** A change retried this often when other changes keep landing in between (then a 503, never a lost rotation). */
const MAX_UPDATE_ATTEMPTS = 20;

/** Without a live invalidation channel, a keyring read is trusted this long. */
const UNSUBSCRIBED_KEYRING_TTL_MS = 1000;

/**
 * The signing keyring on the key-value store: one JSON record (private keys
 * sealed by the domain). The last one read is kept in memory and handed out
 * as the very same object while it can be trusted (the invalidation channel
 * delivers, or it was read less than a second ago), so the domain imports
 * its keys once; a rotation anywhere drops it on every instance.
 */
export class KvKeyringStore implements KeyringStore {
  private cached: { readonly keyring: StoredKeyring; readonly readAt: number } | null = null;
  private reading: Promise<StoredKeyring | null> | null = null;

  constructor(
    private readonly kv: KvStore,
    private readonly bus: InvalidationBus,
    private readonly clock: Clock,
  ) {
    bus.register({
      onInvalidation: (m) => {
        if (m.t === 'signing-keys') this.cached = null;
      },
      onReset: () => {
        this.cached = null;
      },
    });
  }

  readCached(): StoredKeyring | null {
    const cached = this.cached;
    if (cached === null) return null;
    return this.bus.active || this.clock.now() - cached.readAt < UNSUBSCRIBED_KEYRING_TTL_MS ? cached.keyring : null;
  }

  read(options: { readonly fresh?: boolean } = {}): Promise<StoredKeyring | null> {
    const cached = options.fresh === true ? null : this.readCached();
    if (cached !== null) return Promise.resolve(cached);
    // One read at a time: concurrent callers share it.
    this.reading ??= this.kv
      .get(keys.signingKeys())
      .then((raw) => {
        const keyring = decode<StoredKeyring>(raw);
        if (keyring) this.remember(keyring);
        return keyring;
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  async createIfAbsent(keyring: StoredKeyring): Promise<StoredKeyring> {
    if (await this.kv.setIfAbsent(keys.signingKeys(), encode(keyring))) {
      this.remember(keyring);
      return keyring;
    }
    // Another instance created it first: use theirs.
    const theirs = decode<StoredKeyring>(await this.kv.get(keys.signingKeys()));
    if (!theirs) throw new Error('signing keyring vanished while being created');
    this.remember(theirs);
    return theirs;
  }

  /** Read, change, compare-and-set (writeIf on the record as read); again on a conflict. */
  async update(change: (current: StoredKeyring) => StoredKeyring): Promise<StoredKeyring> {
    const key = keys.signingKeys();
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const raw = await this.kv.get(key);
      const current = decode<StoredKeyring>(raw);
      if (!current) throw new Error('there is no signing keyring to change yet');
      const next = change(current);
      if (await this.kv.writeIf({ key, equals: raw }, [{ op: 'set', key, value: encode(next) }])) {
        this.cached = null;
        await this.bus.publish({ t: 'signing-keys' });
        return next;
      }
    }
    throw new StoreUnavailableError(new Error(`signing keyring: ${MAX_UPDATE_ATTEMPTS} conflicting changes in a row`));
  }

  private remember(keyring: StoredKeyring): void {
    this.cached = { keyring, readAt: this.clock.now() };
  }
}
