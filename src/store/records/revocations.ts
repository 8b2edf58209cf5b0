import type { KvStore, WriteGuard, WriteOp, WriteOptions } from '../kv';

/*
 * SPEC §13, "nothing acknowledged is lost": the write that makes a
 * revocation take effect (the API key record revoked or rolled, a session
 * record deleted, a user deleted, a product access removed, a site updated
 * or deleted, an admin token or console sign-in deleted) goes through here,
 * so with REDIS_MIN_REPLICAS set it resolves only once that many replicas
 * hold it (RedisKvStore: WAIT on the same connection and node), else it
 * rejects with StoreUnavailableError and the caller answers 503, never
 * "done". A failover that promotes a replica then cannot undo a revocation
 * anybody was told about.
 *
 * Only the decisive write of each revocation needs it: what follows it
 * (a token pointer, an index entry) leads to the revoked record, which is
 * already gone everywhere that matters. test/http/revocations-acknowledged.test.ts
 * proves every revocation of the
 * admin and browser APIs answers 503 while no replica acknowledges; test/failover
 * that a failover then keeps what was answered as done.
 */

const REPLICATED: WriteOptions = { replicated: true };

/** `kv.write(ops)`, acknowledged by the configured number of replicas. */
export function writeRevocation(kv: KvStore, ops: readonly WriteOp[]): Promise<void> {
  return kv.write(ops, REPLICATED);
}

/** `kv.writeIf(guard, ops)`, acknowledged by the configured number of replicas when it writes. */
export function writeRevocationIf(kv: KvStore, guard: WriteGuard | readonly WriteGuard[], ops: readonly WriteOp[]): Promise<boolean> {
  return kv.writeIf(guard, ops, REPLICATED);
}
