import { ApiKeys } from './api-keys';
import type { Clock } from './clock';
import type { DomainContext } from './context';
import type { Environment } from './environments';
import { Exchange } from './exchange';
import { InvalidationBus } from './invalidation';
import { SecretBox } from './secrets';
import { Sessions } from './sessions';
import { SigningKeys } from './signing-keys';
import { Sites } from './sites';
import { Users } from './users';
import { VerificationTokens } from './verification-tokens';
import { signInWithIdentityToken, type SignInResult } from './sign-in';
import type { SiteRecord } from './sites';
import type { KvStore as Store } from '../store/kv';

/** Every domain service of one environment, wired together. */
export interface Domain {
  readonly environment: Environment;
  readonly store: Store;
  readonly bus: InvalidationBus;
  readonly sites: Sites;
  readonly apiKeys: ApiKeys;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly signingKeys: SigningKeys;
  readonly verificationTokens: VerificationTokens;
  readonly exchange: Exchange;
  readonly clock: Clock;
  /** Signs a visitor in with a customer-signed identity token (SPEC §4). */
  signIn(site: SiteRecord, identityToken: string): Promise<SignInResult>;
  /** Subscribes to invalidations (retrying in the background if the store is down). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DomainOptions {
  readonly environment: Environment;
  readonly store: Store;
  readonly masterKey: Buffer;
  readonly publicUrl: string;
  readonly clock: Clock;
  readonly onBackgroundError?: (err: unknown, what: string) => void;
}

export function createDomain(options: DomainOptions): Domain {
  const onBackgroundError = options.onBackgroundError ?? (() => {});
  const bus = new InvalidationBus(options.store, (err) => onBackgroundError(err, 'invalidation subscribe'));
  const ctx: DomainContext = {
    environment: options.environment,
    store: options.store,
    secrets: new SecretBox(options.masterKey, options.environment),
    clock: options.clock,
    bus,
    publicUrl: options.publicUrl,
    onBackgroundError,
  };
  const sites = new Sites(ctx);
  const users = new Users(ctx, sites);
  const signingKeys = new SigningKeys(ctx);
  const verificationTokens = new VerificationTokens(ctx, signingKeys);
  const sessions = new Sessions(ctx, users);
  return {
    environment: options.environment,
    store: options.store,
    bus,
    sites,
    apiKeys: new ApiKeys(ctx, sites),
    users,
    sessions,
    signingKeys,
    verificationTokens,
    exchange: new Exchange(ctx, verificationTokens),
    clock: options.clock,
    signIn: (site, identityToken) =>
      signInWithIdentityToken({ sites, users, sessions, clock: options.clock }, site, identityToken),
    start: () => bus.start(),
    stop: () => bus.stop(),
  };
}
