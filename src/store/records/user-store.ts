import type { UserStore } from '../../domain/ports';
import type { UserRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { decode, encode } from './json';
import { keys } from './keys';
import { endSessionsOfUser } from './session-store';

/** Users on the key-value store: one record under the site's hash tag. Never cached. */
export class KvUserStore implements UserStore {
  constructor(private readonly kv: KvStore) {}

  async find(siteId: string, userId: string): Promise<UserRecord | null> {
    return decode<UserRecord>(await this.kv.get(keys.user(siteId, userId)));
  }

  async save(siteId: string, user: UserRecord): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.user(siteId, user.userId), value: encode(user) }]);
  }

  /** The user record goes in the same atomic write as the sessions (see endSessionsOfUser). */
  deleteWithSessions(siteId: string, userId: string): Promise<void> {
    return endSessionsOfUser(this.kv, siteId, userId, [keys.user(siteId, userId)]);
  }
}
