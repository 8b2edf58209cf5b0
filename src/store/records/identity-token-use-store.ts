import type { IdentityTokenUseStore } from '../../domain/ports';
import type { KvStore } from '../kv';
import { keys } from './keys';

/**
 * Identity-token uses on the key-value store: one key per use under the
 * site's hash tag, written with SET NX PX, so the first sign-in wins
 * atomically on every instance and the record expires with the token.
 */
export class KvIdentityTokenUseStore implements IdentityTokenUseStore {
  constructor(private readonly kv: KvStore) {}

  recordFirstUse(siteId: string, useHash: string, ttlMs: number): Promise<boolean> {
    return this.kv.setIfAbsent(keys.identityTokenUse(siteId, useHash), '1', ttlMs);
  }

  async forget(siteId: string, useHash: string): Promise<void> {
    await this.kv.write([{ op: 'del', key: keys.identityTokenUse(siteId, useHash) }]);
  }
}
