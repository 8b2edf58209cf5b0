import { ApiKeys } from './api-keys';
import type { Clock } from './clock';
import type { DomainContext } from './context';
import type { Environment } from './environments';
import { Exchange } from './exchange';
import { eventMaker } from './events';
import { EventFeed } from './event-feed';
import { Webhooks, WebhookWorker, DEFAULT_WEBHOOK_RETRY_SCHEDULE } from './webhooks';
import { systemClock } from './clock';
import type { WebhookTransport } from './ports';
import { ExchangeStats } from './exchange-stats';
import type { DomainStores } from './ports';
import type { SiteRecord } from './records';
import { SecretBox } from './secrets';
import { IdentityTokenUses } from './identity-token-uses';
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
  /** Webhook endpoints (SPEC §11). */
  readonly webhooks: Webhooks;
  /** This instance's webhook delivery loop: the gateway starts and stops it. */
  readonly webhookWorker: WebhookWorker;
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
  /** `MAX_SESSIONS_PER_USER`: a sign-in past it ends the user's oldest session (default 50). */
  readonly maxSessionsPerUser?: number;
  readonly onBackgroundError?: (err: unknown, what: string) => void;
  /** How long events are kept (EVENT_RETENTION_HOURS); older cursors are `cursor_expired`. */
  readonly eventRetentionMs?: number;
  readonly webhooks?: {
    readonly transport: WebhookTransport;
    /** Seconds after each failed attempt (WEBHOOK_RETRY_SCHEDULE). */
    readonly retrySchedule?: readonly number[];
    readonly allowPrivateTargets?: boolean;
    /** Default: the system clock (receivers check webhook-timestamp against theirs). */
    readonly wallClock?: Clock;
  };
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
  const sessions = new Sessions(ctx, stores.sessions, users, options.maxSessionsPerUser);
  const identityTokenUses = new IdentityTokenUses(ctx, stores.identityTokenUses);
  const signingKeys = new SigningKeys(ctx, stores.keyring, {
    siteIds: async () => (await sites.listSites()).map((s) => s.siteId),
    log: stores.events,
  });
  const verificationTokens = new VerificationTokens(ctx, signingKeys);
  const events = new EventFeed(ctx, stores.events, sites, options.eventRetentionMs ?? 72 * 3600 * 1000);
  const webhookOptions = {
    transport: options.webhooks?.transport ?? {
      post: async () => ({ statusCode: null, error: 'no webhook transport in this process' }),
    },
    retrySchedule: options.webhooks?.retrySchedule ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE,
    allowPrivateTargets: options.webhooks?.allowPrivateTargets ?? false,
    wallClock: options.webhooks?.wallClock ?? systemClock,
  };
  const webhooks = new Webhooks(ctx, stores.webhooks, stores.events, sites, webhookOptions);
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
    events,
    webhooks,
    webhookWorker: new WebhookWorker(ctx, stores.webhooks, stores.events, webhooks, (e) => events.view(e), webhookOptions),
    clock: options.clock,
    signIn: (site, identityToken) =>
      signInWithIdentityToken({ sites, users, sessions, identityTokenUses, clock: options.clock }, site, identityToken),
  };
}
