import type { ConsoleSessionStore } from '../../domain/ports';
import type { ConsoleSessionRecord } from '../../domain/records';
import type { KvStore } from '../kv';
import { decode, encode } from './json';
import { keys } from './keys';
import { writeRevocation } from './revocations';

/** Console sign-ins: one key each, under the keyed hash of the cookie's secret, expiring with the session. */
export class KvConsoleSessionStore implements ConsoleSessionStore {
  constructor(private readonly kv: KvStore) {}

  async save(sessionHash: string, record: ConsoleSessionRecord, ttlMs: number): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.consoleSession(sessionHash), value: encode(record), ttlMs }]);
  }

  async find(sessionHash: string): Promise<ConsoleSessionRecord | null> {
    return decode<ConsoleSessionRecord>(await this.kv.get(keys.consoleSession(sessionHash)));
  }

  async delete(sessionHash: string): Promise<void> {
    // A console sign-out is a session ended: a revocation.
    await writeRevocation(this.kv, [{ op: 'del', key: keys.consoleSession(sessionHash) }]);
  }
}
