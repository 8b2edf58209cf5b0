import type { Clock } from '../../domain/clock';
import type { DomainStores, StoreHealth } from '../../domain/ports';
import type { KvStore } from '../kv';
import { KvAdminTokenStore } from './admin-token-store';
import { KvApiKeyStore } from './api-key-store';
import { KvConsoleSessionStore } from './console-session-store';
import { KvEventLog } from './event-log';
import { KvExchangeCounterStore } from './exchange-counter-store';
import { KvIdentityTokenUseStore } from './identity-token-use-store';
import { InvalidationBus } from './invalidation';
import { KvKeyringStore } from './keyring-store';
import { KvSessionAndUserReader } from './session-and-user-reader';
import { KvSessionStore } from './session-store';
import { KvSiteStore } from './site-store';
import { KvUserStore } from './user-store';
import { KvWebhookStore } from './webhook-store';

/** Every port of one environment, on one key-value store, with the invalidation channel their caches share. */
export interface RecordStores extends DomainStores {
  readonly health: StoreHealth;
  /** The invalidation channel: its caches serve only while `active`. */
  readonly invalidation: { readonly active: boolean };
  /** Subscribes to invalidations (retrying in the background while the store is down). */
  start(): Promise<void>;
  /** Unsubscribes. The key-value store itself is closed by whoever opened it. */
  stop(): Promise<void>;
}

export interface RecordStoresOptions {
  /** The clock the domain uses: session TTLs and the keyring's trust window are measured with it. */
  readonly clock: Clock;
  /** Told when the invalidation subscription fails (it keeps retrying). */
  readonly onBackgroundError?: (err: unknown, what: string) => void;
  /** How long events are kept (default 72 h). */
  readonly eventRetentionMs?: number;
}

export const DEFAULT_EVENT_RETENTION_MS = 72 * 3600 * 1000;

/** The ports of src/domain/ports.ts, implemented on `kv`. */
export function createRecordStores(kv: KvStore, options: RecordStoresOptions): RecordStores {
  const onBackgroundError = options.onBackgroundError ?? (() => {});
  const bus = new InvalidationBus(kv, (err) => onBackgroundError(err, 'invalidation subscribe'));
  const retentionMs = options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS;
  const events = new KvEventLog(kv, options.clock, retentionMs, onBackgroundError);
  return {
    sites: new KvSiteStore(kv, bus, events),
    apiKeys: new KvApiKeyStore(kv, bus, events),
    users: new KvUserStore(kv, events),
    sessions: new KvSessionStore(kv, options.clock, events),
    identityTokenUses: new KvIdentityTokenUseStore(kv),
    events,
    webhooks: new KvWebhookStore(kv, events, retentionMs),
    keyring: new KvKeyringStore(kv, bus, options.clock),
    sessionAndUser: new KvSessionAndUserReader(kv),
    adminTokens: new KvAdminTokenStore(kv),
    consoleSessions: new KvConsoleSessionStore(kv),
    exchangeCounters: new KvExchangeCounterStore(kv),
    health: { ping: () => kv.ping() },
    invalidation: bus,
    start: () => bus.start(),
    stop: () => bus.stop(),
  };
}
