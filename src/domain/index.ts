import { ApiKeys } from './api-keys';
import type { Clock } from './clock';
import type { DomainContext } from './context';
import type { Environment } from './environments';
import { Exchange } from './exchange';
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
  };
  const sites = new Sites(ctx, stores.sites);
  const users = new Users(ctx, stores.users, sites);
  const sessions = new Sessions(ctx, stores.sessions, users, options.maxSessionsPerUser);
  const identityTokenUses = new IdentityTokenUses(ctx, stores.identityTokenUses);
  const signingKeys = new SigningKeys(ctx, stores.keyring);
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
    clock: options.clock,
    signIn: (site, identityToken) =>
      signInWithIdentityToken({ sites, users, sessions, identityTokenUses, clock: options.clock }, site, identityToken),
  };
}
