import { iso } from './clock';
import { parseRecord, type DomainContext } from './context';
import type { Environment } from './environments';
import type { ApiKeyRecord } from './api-keys';
import { isSessionActive, type SessionRecord } from './sessions';
import { currentProductAccess, hasProductAccess, type Attributes, type ProductAccessView, type UserRecord } from './users';
import type { TokenFailure, VerificationTokens } from './verification-tokens';
import { keys } from '../store/keys';
import type { Store } from '../store/store';

export type NotVerifiedReason = TokenFailure | 'session_ended' | 'user_not_found';

export interface VerifiedUser {
  isAuthenticated: true;
  environment: Environment;
  userInfo: {
    userId: string;
    email: string | null;
    name: string | null;
    productAccess: ProductAccessView[];
    attributes: Attributes;
  };
  sessionId: string;
  tokenExpiresAt: string;
  hasProductAccess?: boolean;
}

export interface NotVerified {
  isAuthenticated: false;
  environment: Environment;
  userInfo: null;
  reason: NotVerifiedReason;
}

export type ExchangeResult = VerifiedUser | NotVerified;

/** At most this many keys go in one batched read; past it, another batch starts. */
const MAX_KEYS_PER_READ = 128;

interface Reader {
  readonly offset: number;
  readonly count: number;
  resolve(values: (string | null)[]): void;
  reject(err: unknown): void;
}

interface Batch {
  readonly keys: string[];
  readonly readers: Reader[];
}

/**
 * Store reads of one event-loop turn, gathered by hash tag: the exchanges
 * that reach their read in the same turn share one `getMany` (one MGET)
 * per site. Every key of a batch carries the site's hash tag, so it stays a
 * single-slot command on Redis Cluster, and it is still one round trip per
 * exchange; but one write, one reply and one command's bookkeeping serve
 * them all. Nothing waits for a batch to fill: a turn's reads go out at the
 * end of that turn (setImmediate). A failure fails every read of its batch,
 * each becoming a 503: fail closed.
 */
class TurnBatchedReads {
  private pending = new Map<string, Batch>();
  private scheduled = false;

  constructor(private readonly store: Store) {}

  read(tag: string, keysToRead: readonly string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(tag);
      if (batch === undefined || batch.keys.length + keysToRead.length > MAX_KEYS_PER_READ) {
        if (batch !== undefined) this.send(batch);
        batch = { keys: [], readers: [] };
        this.pending.set(tag, batch);
      }
      batch.readers.push({ offset: batch.keys.length, count: keysToRead.length, resolve, reject });
      for (const key of keysToRead) batch.keys.push(key);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const batch of batches.values()) this.send(batch);
  };

  private send(batch: Batch): void {
    let reply: Promise<(string | null)[]>;
    try {
      reply = this.store.getMany(batch.keys);
    } catch (err) {
      // Out of a setImmediate, a synchronous throw would take the process down: make it the batch's failure.
      reply = Promise.reject(err);
    }
    reply.then(
      (values) => {
        for (const r of batch.readers) r.resolve(values.slice(r.offset, r.offset + r.count));
      },
      (err: unknown) => {
        for (const r of batch.readers) r.reject(err);
      },
    );
  }
}

/**
 * The exchange (SPEC §3): a verification token, presented by the backend of
 * the site that owns `apiKey`, becomes a trusted user object. After the
 * signature check it costs one store round trip: the session and the user
 * sit under the site's hash tag and are read together. Session state is read
 * by the `sid` inside the token, never by the token string.
 */
export class Exchange {
  private readonly reads: TurnBatchedReads;

  constructor(
    private readonly ctx: DomainContext,
    private readonly tokens: VerificationTokens,
  ) {
    this.reads = new TurnBatchedReads(ctx.store);
  }

  private notVerified(reason: NotVerifiedReason): NotVerified {
    return { isAuthenticated: false, environment: this.ctx.environment, userInfo: null, reason };
  }

  async exchangeVerificationToken(apiKey: ApiKeyRecord, token: string, productId?: string): Promise<ExchangeResult> {
    const check = await this.tokens.verifyVerificationToken(token, apiKey.siteId);
    if (!check.ok) return this.notVerified(check.reason);
    const { claims } = check;
    const [rawSession, rawUser] = await this.reads.read(apiKey.siteId, [
      keys.session(apiKey.siteId, claims.sid),
      keys.user(apiKey.siteId, claims.sub),
    ]);
    const session = parseRecord<SessionRecord>(rawSession ?? null);
    const now = this.ctx.clock.now();
    if (!session || session.userId !== claims.sub || !isSessionActive(session, now)) {
      return this.notVerified('session_ended');
    }
    const user = parseRecord<UserRecord>(rawUser ?? null);
    if (!user) return this.notVerified('user_not_found');
    const result: VerifiedUser = {
      isAuthenticated: true,
      environment: this.ctx.environment,
      userInfo: {
        userId: user.userId,
        email: user.email,
        name: user.name,
        productAccess: currentProductAccess(user, now),
        attributes: user.attributes,
      },
      sessionId: session.sessionId,
      tokenExpiresAt: iso(claims.exp * 1000),
    };
    if (productId !== undefined) result.hasProductAccess = hasProductAccess(user, productId, now);
    return result;
  }
}
