import type { AdminTokenStore } from '../../domain/ports';
import type { AdminTokenRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocation } from './revocations';

/**
 * Scoped admin tokens of one environment: the record under the keyed hash
 * of the token, a pointer from the tokenId, and the set of every tokenId
 * (three slots). Never cached: admin calls are few, and a deleted token is
 * then refused by the very next request on every instance.
 */
export class KvAdminTokenStore implements AdminTokenStore {
  constructor(private readonly kv: KvStore) {}

  async create(tokenHash: string, record: AdminTokenRecord): Promise<void> {
    // The record first: neither the pointer nor the list ever leads to nothing.
    await this.kv.write([{ op: 'set', key: keys.adminTokenByHash(tokenHash), value: encode(record) }]);
    await this.kv.write([{ op: 'set', key: keys.adminTokenId(record.tokenId), value: tokenHash }]);
    await this.kv.write([{ op: 'sadd', key: keys.adminTokenIndex(), member: record.tokenId }]);
  }

  async findByHash(tokenHash: string): Promise<AdminTokenRecord | null> {
    return decode<AdminTokenRecord>(await this.kv.get(keys.adminTokenByHash(tokenHash)));
  }

  async findById(tokenId: string): Promise<AdminTokenRecord | null> {
    const tokenHash = await this.kv.get(keys.adminTokenId(tokenId));
    return tokenHash ? this.findByHash(tokenHash) : null;
  }

  async list(): Promise<AdminTokenRecord[]> {
    const ids = await this.kv.members(keys.adminTokenIndex());
    const records = await Promise.all(ids.map((id) => this.findById(id)));
    return records.filter((r): r is AdminTokenRecord => r !== null);
  }

  async delete(tokenId: string): Promise<boolean> {
    const tokenHash = await this.kv.get(keys.adminTokenId(tokenId));
    // The record first: from that write on, the token is refused.
    if (tokenHash) await writeRevocation(this.kv, [{ op: 'del', key: keys.adminTokenByHash(tokenHash) }]);
    await this.kv.write([{ op: 'del', key: keys.adminTokenId(tokenId) }]);
    await this.kv.write([{ op: 'srem', key: keys.adminTokenIndex(), member: tokenId }]);
    return tokenHash !== null;
  }
}
