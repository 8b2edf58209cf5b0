import type { SessionAndUserReader } from '../../domain/ports';
import type { SessionRecord, UserRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { TurnBatchedReads } from './batched-reads';
import { decode } from './json';
import { keys } from './keys';

/**
 * The exchange's one read: the session and the user sit under the site's
 * hash tag, so they are one single-slot MGET on Redis Cluster; and the
 * exchanges that reach this read in the same event-loop turn share that
 * MGET (TurnBatchedReads). Still one round trip per exchange, never cached.
 */
export class KvSessionAndUserReader implements SessionAndUserReader {
  private readonly reads: TurnBatchedReads;

  constructor(kv: KvStore) {
    this.reads = new TurnBatchedReads(kv);
  }

  async readSessionAndUser(
    siteId: string,
    sessionId: string,
    userId: string,
  ): Promise<{ session: SessionRecord | null; user: UserRecord | null }> {
    const [session, user] = await this.reads.read(siteId, [keys.session(siteId, sessionId), keys.user(siteId, userId)]);
    return { session: decode<SessionRecord>(session), user: decode<UserRecord>(user) };
  }
}
