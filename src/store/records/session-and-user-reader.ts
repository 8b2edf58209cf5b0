import type { SessionAndUserReader } from '../../domain/ports';
import type { SessionRecord, UserRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { TurnBatchedReads } from './batched-reads';
import { DecodeMemo } from './json';
import { keys } from './keys';

/** Sessions and users whose last decoded text is remembered (two entries per active session). */
const MAX_DECODED_RECORDS = 20_000;

/**
 * The exchange's one read: the session and the user sit under the site's
 * hash tag, so they are one single-slot MGET on Redis Cluster; and the
 * exchanges that reach this read in the same event-loop turn share that
 * MGET (TurnBatchedReads). Still one round trip per exchange, never cached;
 * only the JSON decoding of text that has not changed is skipped (DecodeMemo).
 */
export class KvSessionAndUserReader implements SessionAndUserReader {
  private readonly reads: TurnBatchedReads;
  private readonly decoded = new DecodeMemo(MAX_DECODED_RECORDS);

  constructor(kv: KvStore) {
    this.reads = new TurnBatchedReads(kv);
  }

  async readSessionAndUser(
    siteId: string,
    sessionId: string,
    userId: string,
  ): Promise<{ session: SessionRecord | null; user: UserRecord | null }> {
    const sessionKey = keys.session(siteId, sessionId);
    const userKey = keys.user(siteId, userId);
    const [session, user] = await this.reads.read(siteId, [sessionKey, userKey]);
    return { session: this.decoded.decode<SessionRecord>(sessionKey, session), user: this.decoded.decode<UserRecord>(userKey, user) };
  }
}
