import { ApiKeys } from './api-keys';
import type { Clock } from './clock';
import type { DomainContext } from './context';
import type { Environment } from './environments';
import { Exchange } from './exchange';
import { eventMaker } from './events';
import { EventFeed } from './event-feed';
import { ExchangeStats } from './exchange-stats';
import type { DomainStores } from './ports';
import type { SiteRecord } from './records';
import { SecretBox } from './secrets';
import { Sessions } from './sessions';
import { signInWithIdentityToken, type SignInResult } from './sign-in';
import { SigningKeys } from './signing-keys';
import { Sites } from './sites';
import { Users } from './users';
import { VerificationTokens } from './verification-tokens';

/** Every domain service of one environment, wired together. */
export interface Domain {
  readonly environment: Environment;
  readonly sites: Sites;
  readonly apiKeys: ApiKeys;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly signingKeys: SigningKeys;
  readonly verificationTokens: VerificationTokens;
  readonly exchange: Exchange;
  /** Exchanges per second by outcome, for the console's chart (the gateway flushes it about once a second). */
  readonly exchangeStats: ExchangeStats;
  /** The events of SPEC §11: the feed, the audit log and the live streams. */
  readonly events: EventFeed;
  readonly clock: Clock;
  /** Signs a visitor in with a customer-signed identity token (SPEC §4). */
  signIn(site: SiteRecord, identityToken: string): Promise<SignInResult>;
}

export interface DomainOptions {
  readonly environment: Environment;
  /** The storage, as ports (src/domain/ports.ts); src/store/records implements them. */
  readonly stores: DomainStores;
  readonly masterKey: Buffer;
  readonly publicUrl: string;
  readonly clock: Clock;
  readonly onBackgroundError?: (err: unknown, what: string) => void;
  /** How long events are kept (EVENT_RETENTION_HOURS); older cursors are `cursor_expired`. */
  readonly eventRetentionMs?: number;
}

/** One environment's domain over its ports. It opens nothing and starts nothing: the gateway does. */
export function createDomain(options: DomainOptions): Domain {
  const { stores } = options;
  const ctx: DomainContext = {
    environment: options.environment,
    secrets: new SecretBox(options.masterKey, options.environment),
    clock: options.clock,
    publicUrl: options.publicUrl,
    onBackgroundError: options.onBackgroundError ?? (() => {}),
    events: (cause) => eventMaker(options.environment, () => options.clock.now(), cause),
  };
  const sites = new Sites(ctx, stores.sites);
  const users = new Users(ctx, stores.users, sites);
  const sessions = new Sessions(ctx, stores.sessions, users);
  const signingKeys = new SigningKeys(ctx, stores.keyring, {
    siteIds: async () => (await sites.listSites()).map((s) => s.siteId),
    log: stores.events,
  });
  const verificationTokens = new VerificationTokens(ctx, signingKeys);
  return {
    environment: options.environment,
    sites,
    apiKeys: new ApiKeys(ctx, stores.apiKeys, sites),
    users,
    sessions,
    signingKeys,
    verificationTokens,
    exchange: new Exchange(ctx, verificationTokens, stores.sessionAndUser),
    exchangeStats: new ExchangeStats(options.clock, stores.exchangeCounters),
    events: new EventFeed(ctx, stores.events, sites, options.eventRetentionMs ?? 72 * 3600 * 1000),
    clock: options.clock,
    signIn: (site, identityToken) =>
      signInWithIdentityToken({ sites, users, sessions, clock: options.clock }, site, identityToken),
  };
}
