import type { Clock } from './clock';
import type { Environment } from './environments';
import type { InvalidationBus } from './invalidation';
import type { SecretBox } from './secrets';
import type { KvStore as Store } from '../store/kv';

/** What every domain service of one environment works with. */
export interface DomainContext {
  readonly environment: Environment;
  readonly store: Store;
  readonly secrets: SecretBox;
  readonly clock: Clock;
  readonly bus: InvalidationBus;
  /** This environment's public base URL: the `iss` of its verification tokens. */
  readonly publicUrl: string;
  /** Reports a failure nobody waits for (a background write). Never given a secret. */
  readonly onBackgroundError: (err: unknown, what: string) => void;
}

export function parseRecord<T>(raw: string | null): T | null {
  return raw === null ? null : (JSON.parse(raw) as T);
}
