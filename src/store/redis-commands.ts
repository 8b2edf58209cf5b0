/**
 * Every Redis command verigate sends, for the restricted ACL user (README;
 * test/contract/redis-store.test.ts runs the whole contract as such a user).
 * - store: GET MGET SET DEL SADD SREM SMEMBERS MULTI EXEC PUBLISH PING;
 *   ZADD ZREM ZRANGEBYLEX ZLEXCOUNT (the user index: search, email
 *   sign-in, seats), HINCRBY HGETALL PEXPIRE (the exchange counters of the
 *   console's chart); XADD XRANGE XREVRANGE (the event logs of SPEC §11),
 *   ZRANGEBYSCORE (due webhook deliveries); `writeIf` is EVALSHA, falling
 *   back to EVAL, of a script calling GET, ZLEXCOUNT and the write commands
 * - subscriber connection: SUBSCRIBE UNSUBSCRIBE
 * - rate-limiter-flexible (RateLimiterRedis): EVALSHA, falling back to EVAL,
 *   of a script calling SET, INCRBY, PTTL and EXPIRE (Redis 7 checks the
 *   commands a script calls against the user too); `get`/`block` use
 *   MULTI GET PTTL EXEC and MULTI SET PTTL EXEC; `delete` uses DEL.
 * - QUIT on close (Redis 7 does not ACL-check it; listed for completeness;
 *   falls back to dropping the connection).
 * - WAIT after a revocation's write when REDIS_MIN_REPLICAS is above 0
 *   (src/store/records/revocations.ts).
 * Never sent: INFO (ready check off; on, behind Sentinel: {@link REDIS_SENTINEL_EXTRA_COMMANDS}), CLIENT SETNAME/SETINFO (no connection
 * name, client info off), SELECT (use db 0), KEYS/SCAN, FLUSH*, CONFIG.
 * On Redis Cluster, add {@link REDIS_CLUSTER_EXTRA_COMMANDS}.
 */
export const REDIS_COMMANDS_USED = [
  'GET',
  'MGET',
  'SET',
  'DEL',
  'SADD',
  'SREM',
  'SMEMBERS',
  'MULTI',
  'EXEC',
  'PUBLISH',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PING',
  'EVAL',
  'EVALSHA',
  'INCRBY',
  'PTTL',
  'EXPIRE',
  'ZADD',
  'ZREM',
  'ZRANGEBYLEX',
  'ZLEXCOUNT',
  'ZRANGEBYSCORE',
  'HINCRBY',
  'HGETALL',
  'PEXPIRE',
  'XADD',
  'XRANGE',
  'XREVRANGE',
  'QUIT',
  'WAIT',
] as const;

/**
 * What a Sentinel deployment (REDIS_SENTINELS) sends to the data nodes on
 * top of {@link REDIS_COMMANDS_USED}: `INFO`, the ready check that refuses
 * a node that is no longer the master. (The sentinels themselves get
 * `SENTINEL get-master-addr-by-name`, `SENTINEL sentinels`, `SUBSCRIBE`
 * to `+switch-master`, under their own credentials.)
 */
export const REDIS_SENTINEL_EXTRA_COMMANDS = ['INFO'] as const;

/**
 * What the ioredis Cluster client sends on top of {@link REDIS_COMMANDS_USED}
 * (test/contract/redis-cluster-store.test.ts runs the contract as an ACL
 * user allowed only both lists, on every node):
 * - `CLUSTER SLOTS`, to learn which node serves which slot (at connect, and
 *   again after a MOVED or a lost node);
 * - `CLIENT SETNAME`, which ioredis always sends on the short-lived
 *   connection it opens for `CLUSTER SLOTS` (it ignores a refusal, but every
 *   refusal lands in the ACL log).
 * Not sent: `CLUSTER INFO` (the cluster ready check is off). Entries are ACL
 * subcommand names (`+cluster|slots`).
 */
export const REDIS_CLUSTER_EXTRA_COMMANDS = ['CLUSTER|SLOTS', 'CLIENT|SETNAME'] as const;
