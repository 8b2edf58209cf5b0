import type { Clock } from '../../domain/clock';
import type { KeyringStore } from '../../domain/ports';
import type { StoredKeyring } from '../../domain/records';
import type { KvStore } from '../kv';
import type { InvalidationBus } from './invalidation';
import { decode, encode } from './json';
import { keys } from './keys';

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

  async replace(keyring: StoredKeyring): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.signingKeys(), value: encode(keyring) }]);
    this.cached = null;
    await this.bus.publish({ t: 'signing-keys' });
  }

  private remember(keyring: StoredKeyring): void {
    this.cached = { keyring, readAt: this.clock.now() };
  }
}
