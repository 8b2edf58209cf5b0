import type { Clock } from './clock';
import type { ChangeCause, EventMaker } from './events';
import type { Environment } from './environments';
import type { SecretBox } from './secrets';

/** What every domain service of one environment works with (storage comes as ports, per service). */
export interface DomainContext {
  readonly environment: Environment;
  readonly secrets: SecretBox;
  readonly clock: Clock;
  /** This environment's public base URL: the `iss` of its verification tokens. */
  readonly publicUrl: string;
  /** Reports a failure nobody waits for (a background write). Never given a secret. */
  readonly onBackgroundError: (err: unknown, what: string) => void;
  /** Builds a mutation's events (SPEC §11), with the admin call's actor and address when there is one. */
  readonly events: (cause?: ChangeCause) => EventMaker;
}
