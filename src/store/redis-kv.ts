import type { RedisOptions } from 'ioredis';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../domain/errors';
import type { ChainableCommander } from 'ioredis';
import {
  checkGuard,
  guardList,
  normalizeTtl,
  type ChannelListener,
  type KvStore,
  type LexRange,
  type LogEntry,
  type RateLimiterOptions,
  type Subscription,
  type WriteGuard,
  type WriteOp,
  type WriteOptions,
} from './kv';
import { checkOneSlot } from './redis-cluster-guard';
import {
  abandon,
  createRedisConnections,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  quit,
  unavailable,
  waitReady,
  type RedisClient,
  type RedisClientOptions,
  type RedisTarget,
} from './redis-connections';
import { RedisSubscriptions } from './redis-pubsub';
import { redisRateLimiter } from './redis-rate-limiter';

/**
 * `writeIf` as one Lua script, so the guards and the writes are one atomic
 * step (EVALSHA, falling back to EVAL). ARGV[1] is the number of guards G;
 * KEYS[1..G] are their keys, then one key per op. Each guard's arguments
 * follow ARGV[1]: `eq <value>` (the string is that value), `absent`, or
 * `fewer <prefix> <n>` (fewer than n members of the lexicographic set start
 * with prefix; ZLEXCOUNT from `[prefix` to `(prefix` + byte 0xFF, which no
 * UTF-8 member holds); then each op's name and arguments. Redis 7 checks
 * every command the script calls against the ACL user (REDIS_COMMANDS_USED).
 */
const WRITE_IF_LUA = `
local g = tonumber(ARGV[1])
local a = 2
for k = 1, g do
  local kind = ARGV[a]
  if kind == 'eq' then
    if redis.call('GET', KEYS[k]) ~= ARGV[a + 1] then return 0 end
    a = a + 2
  elseif kind == 'absent' then
    if redis.call('GET', KEYS[k]) then return 0 end
    a = a + 1
  elseif kind == 'fewer' then
    local p = ARGV[a + 1]
    local n
    if p == '' then
      n = redis.call('ZLEXCOUNT', KEYS[k], '-', '+')
    else
      n = redis.call('ZLEXCOUNT', KEYS[k], '[' .. p, '(' .. p .. '\\255')
    end
    if n >= tonumber(ARGV[a + 2]) then return 0 end
    a = a + 3
  else
    return redis.error_reply('writeIf: unknown guard ' .. tostring(kind))
  end
end
for k = g + 1, #KEYS do
  local op = ARGV[a]
  if op == 'set' then
    if ARGV[a + 2] == '' then redis.call('SET', KEYS[k], ARGV[a + 1]) else redis.call('SET', KEYS[k], ARGV[a + 1], 'PX', ARGV[a + 2]) end
    a = a + 3
  elseif op == 'del' then
    redis.call('DEL', KEYS[k])
    a = a + 1
  elseif op == 'sadd' then
    redis.call('SADD', KEYS[k], ARGV[a + 1])
    a = a + 2
  elseif op == 'srem' then
    redis.call('SREM', KEYS[k], ARGV[a + 1])
    a = a + 2
  elseif op == 'zadd' then
    redis.call('ZADD', KEYS[k], 0, ARGV[a + 1])
    a = a + 2
  elseif op == 'zrem' then
    redis.call('ZREM', KEYS[k], ARGV[a + 1])
    a = a + 2
  elseif op == 'zscore' then
    redis.call('ZADD', KEYS[k], ARGV[a + 2], ARGV[a + 1])
    a = a + 3
  elseif op == 'hincrby' then
    redis.call('HINCRBY', KEYS[k], ARGV[a + 1], ARGV[a + 2])
    a = a + 3
  elseif op == 'pexpire' then
    if ARGV[a + 2] == '1' then
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 1], 'NX')
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 1], 'GT')
    else
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 1])
    end
    a = a + 3
  elseif op == 'xadd' then
    if ARGV[a + 2] == '' then redis.call('XADD', KEYS[k], '*', 'e', ARGV[a + 1]) else redis.call('XADD', KEYS[k], 'MINID', '~', ARGV[a + 2], '*', 'e', ARGV[a + 1]) end
    a = a + 3
  else
    return redis.error_reply('writeIf: unknown op ' .. tostring(op))
  end
end
return 1
`;

/** One op's arguments for WRITE_IF_LUA, after its name. */
function scriptArgs(op: WriteOp, ttl: number | undefined): string[] {
  switch (op.op) {
    case 'set':
      return [op.value, ttl === undefined ? '' : String(ttl)];
    case 'del':
      return [];
    case 'sadd':
    case 'srem':
    case 'zadd':
    case 'zrem':
      return [op.member];
    case 'hincrby':
      return [op.field, String(op.by)];
    case 'zscore':
      return [op.member, String(op.score)];
    case 'pexpire':
      return [String(ttl), op.extendOnly ? '1' : '0'];
    case 'xadd':
      return [op.value, op.minIdMs === undefined ? '' : String(Math.max(0, Math.floor(op.minIdMs)))];
  }
}

/** An XRANGE/XREVRANGE reply's entries (each one field `e`). */
function logEntries(reply: [string, string[]][]): LogEntry[] {
  return reply.map(([id, fields]) => ({ id, value: fields[fields.indexOf('e') + 1] ?? '' }));
}

const LOG_ID = /^\d{1,16}-\d{1,16}$/;

/** One guard's arguments for WRITE_IF_LUA. */
function guardArgs(guard: WriteGuard): string[] {
  if ('equals' in guard) return guard.equals === null ? ['absent'] : ['eq', guard.equals];
  return ['fewer', guard.prefix, String(guard.fewerThan)];
}

/** The TTL an op sets (`set` with `ttlMs`, `pexpire`), checked before anything is sent. */
function ttlOf(op: WriteOp): number | undefined {
  if (op.op === 'set' || op.op === 'pexpire') return normalizeTtl(op.ttlMs);
  return undefined;
}

/** Sorted-set members are UTF-8 and never hold the byte 0xFF: `(prefix` + 0xFF bounds every member that starts with `prefix`. */
function lexBounds(range: LexRange): [Buffer | string, Buffer | string] {
  const min = range.after !== undefined ? `(${range.after}` : range.prefix === '' ? '-' : `[${range.prefix}`;
  const max = range.prefix === '' ? '+' : Buffer.concat([Buffer.from(`(${range.prefix}`, 'utf8'), Buffer.from([0xff])]);
  return [min, max];
}

interface WithWriteIf {
  vgWriteIf(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>;
}

export interface RedisKvStoreOptions {
  /** e.g. `vg:live:` */
  readonly namespace: string;
  /** Commands connection (from `createRedisClient`). Closed by `close()`. */
  readonly client: RedisClient;
  /** Makes the dedicated subscriber connection (see RedisSubscriptions). */
  readonly subscriberFactory: () => RedisClient;
  /** Bound on waiting for a connection to become ready; default 2000 ms. */
  readonly readyTimeoutMs?: number;
  /** Told about connection errors (they are also surfaced as rejections). */
  readonly onError?: (err: Error, connection: 'commands' | 'subscriber') => void;
  /**
   * Replicas that must acknowledge a `replicated` write before it resolves
   * (`REDIS_MIN_REPLICAS`); default 0: such writes are plain writes.
   */
  readonly minReplicas?: number;
  /** The client's command timeout (default 1000 ms): WAIT gives up a little before it. */
  readonly commandTimeoutMs?: number;
}

export type RedisKvStoreConnectOptions = RedisTarget & {
  readonly namespace: string;
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly onError?: RedisKvStoreOptions['onError'];
  /** Extra ioredis options for every connection (e.g. ACL credentials). */
  readonly overrides?: RedisOptions;
  /** See {@link RedisKvStoreOptions.minReplicas}. */
  readonly minReplicas?: number;
};

/**
 * The Redis store (one server or a Cluster): the KV core. Keys and channels
 * are prefixed by the store itself (not ioredis' `keyPrefix`, which does not
 * cover pub/sub). Every failure, a timeout included, rejects with
 * StoreUnavailableError. Connections come from redis-connections.ts, the
 * one-slot rule from redis-cluster-guard.ts, pub/sub from redis-pubsub.ts,
 * rate limiters from redis-rate-limiter.ts.
 */
export class RedisKvStore implements KvStore {
  readonly namespace: string;
  readonly client: RedisClient;
  private readonly subscriptions: RedisSubscriptions;
  private readonly minReplicas: number;
  private readonly replicaWaitMs: number;
  private closed = false;

  constructor(options: RedisKvStoreOptions) {
    if (!options.namespace) throw new TypeError('namespace is required');
    this.namespace = options.namespace;
    this.client = options.client;
    this.minReplicas = options.minReplicas ?? 0;
    // WAIT answers with the count it reached when its own timeout runs out;
    // that must come before the client's command timeout rejects the call.
    this.replicaWaitMs = Math.max(1, Math.floor((options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) * 0.8));
    const onError = options.onError;
    this.subscriptions = new RedisSubscriptions({
      subscriberFactory: options.subscriberFactory,
      readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS + DEFAULT_CONNECT_TIMEOUT_MS,
      ...(onError && { onError: (err: Error) => onError(err, 'subscriber') }),
    });
    this.client.on('error', (err: Error) => onError?.(err, 'commands'));
    this.client.defineCommand('vgWriteIf', { lua: WRITE_IF_LUA });
  }

  /**
   * Connects to `url` (or the cluster's seed nodes) and waits until Redis answers; rejects with
   * StoreUnavailableError (and leaves nothing open) when it does not.
   */
  static async connect(options: RedisKvStoreConnectOptions): Promise<RedisKvStore> {
    const clientOptions: RedisClientOptions = {
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    };
    const {
      namespace: _namespace,
      commandTimeoutMs: _timeout,
      connectTimeoutMs: _connect,
      onError: _onError,
      overrides: _overrides,
      minReplicas: _minReplicas,
      ...target
    } = options;
    const { client, subscriberFactory } = createRedisConnections(target as RedisTarget, clientOptions);
    const readyTimeoutMs =
      (options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const store = new RedisKvStore({
      namespace: options.namespace,
      client,
      subscriberFactory,
      readyTimeoutMs,
      ...(options.minReplicas !== undefined && { minReplicas: options.minReplicas }),
      ...(options.commandTimeoutMs !== undefined && { commandTimeoutMs: options.commandTimeoutMs }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    try {
      await waitReady(client, readyTimeoutMs);
      await store.ping();
    } catch (err) {
      abandon(client);
      throw unavailable(err);
    }
    return store;
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.namespace + key));
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return this.run(async () => []);
    try {
      checkOneSlot('getMany', keys);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.run(() => this.client.mget(keys.map((key) => this.namespace + key)));
  }

  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    let ttl: number | undefined;
    try {
      ttl = normalizeTtl(ttlMs);
    } catch (err) {
      return Promise.reject(err);
    }
    const full = this.namespace + key;
    return this.run(async () => {
      const reply =
        ttl === undefined ? await this.client.set(full, value, 'NX') : await this.client.set(full, value, 'PX', ttl, 'NX');
      return reply === 'OK';
    });
  }

  write(ops: readonly WriteOp[], options: WriteOptions = {}): Promise<void> {
    let ttls: (number | undefined)[];
    try {
      ttls = ops.map(ttlOf);
      checkOneSlot(
        'write',
        ops.map((op) => op.key),
      );
    } catch (err) {
      return Promise.reject(err);
    }
    if (ops.length === 0) return this.run(async () => undefined);
    if (this.waitsFor(options)) {
      return this.run(async () => {
        // MULTI … EXEC, then WAIT, in one pipeline: one socket, one node (on
        // a cluster, the node of the keys' slot), so WAIT counts the replicas
        // holding exactly this write. Separate calls could put WAIT on a
        // reconnected socket, whose zero offset every replica has "acknowledged".
        const pipeline = this.client.pipeline();
        (pipeline as unknown as { multi(): void }).multi(); // typed on Redis, not on a pipeline
        ops.forEach((op, i) => this.queue(pipeline, op, ttls[i]));
        void pipeline.exec(); // queues EXEC (the pipeline is in a transaction); the next exec() sends it all
        pipeline.wait(this.minReplicas, this.replicaWaitMs);
        const results = await pipeline.exec();
        if (results === null) throw new Error('MULTI/EXEC aborted');
        for (const [err] of results) if (err) throw err;
        const applied = results[results.length - 2]?.[1];
        if (!Array.isArray(applied)) throw new Error('MULTI/EXEC aborted');
        for (const reply of applied) if (reply instanceof Error) throw reply;
        this.checkAcknowledged(results[results.length - 1]?.[1]);
      });
    }
    return this.run(async () => {
      const multi = this.client.multi();
      ops.forEach((op, i) => this.queue(multi, op, ttls[i]));
      const results = await multi.exec();
      if (results === null) throw new Error('MULTI/EXEC aborted');
      for (const [err] of results) if (err) throw err;
    });
  }

  /** A `replicated` write on a store that asks for replicas. */
  private waitsFor(options: WriteOptions): boolean {
    return options.replicated === true && this.minReplicas > 0;
  }

  /** WAIT's reply: fewer replicas than asked means the write may not survive a failover. */
  private checkAcknowledged(replicas: unknown): void {
    if (typeof replicas !== 'number' || replicas < this.minReplicas) {
      throw new Error(
        `only ${String(replicas)} of the ${this.minReplicas} replicas REDIS_MIN_REPLICAS asks for acknowledged the write within ${this.replicaWaitMs} ms`,
      );
    }
  }

  writeIf(guard: WriteGuard | readonly WriteGuard[], ops: readonly WriteOp[], options: WriteOptions = {}): Promise<boolean> {
    const guards = guardList(guard);
    let ttls: (number | undefined)[];
    try {
      guards.forEach(checkGuard);
      ttls = ops.map(ttlOf);
      checkOneSlot('writeIf', [...guards.map((g) => g.key), ...ops.map((op) => op.key)]);
    } catch (err) {
      return Promise.reject(err);
    }
    const keys = [...guards.map((g) => g.key), ...ops.map((op) => op.key)].map((key) => this.namespace + key);
    const args = [
      String(guards.length),
      ...guards.flatMap(guardArgs),
      ...ops.flatMap((op, i) => [op.op, ...scriptArgs(op, ttls[i])]),
    ];
    if (this.waitsFor(options)) {
      return this.run(async () => {
        // The script, then WAIT, in one pipeline (see write).
        const pipeline = this.client.pipeline();
        void (pipeline as unknown as WithWriteIf).vgWriteIf(keys.length, ...keys, ...args);
        pipeline.wait(this.minReplicas, this.replicaWaitMs);
        const results = await pipeline.exec();
        if (results === null) throw new Error('pipeline aborted');
        for (const [err] of results) if (err) throw err;
        const written = results[0]?.[1] === 1;
        // A guard that did not hold wrote nothing: nothing to wait for, but
        // WAIT still ran and its count is what it is; only a write needs it.
        if (written) this.checkAcknowledged(results[1]?.[1]);
        return written;
      });
    }
    return this.run(async () => (await (this.client as unknown as WithWriteIf).vgWriteIf(keys.length, ...keys, ...args)) === 1);
  }

  rangeByLex(key: string, range: LexRange): Promise<string[]> {
    const [min, max] = lexBounds(range);
    return this.run(() => this.client.zrangebylex(this.namespace + key, min, max, 'LIMIT', 0, range.limit));
  }

  countByLex(key: string, prefix: string): Promise<number> {
    const [min, max] = prefix === '' ? ['-', '+'] : lexBounds({ prefix, limit: 0 });
    return this.run(() => this.client.zlexcount(this.namespace + key, min, max));
  }

  hashGetAll(key: string): Promise<Record<string, string>> {
    return this.run(() => this.client.hgetall(this.namespace + key));
  }

  /** One op of a MULTI. */
  private queue(multi: ChainableCommander, op: WriteOp, ttl: number | undefined): void {
    const full = this.namespace + op.key;
    switch (op.op) {
      case 'set':
        if (ttl === undefined) multi.set(full, op.value);
        else multi.set(full, op.value, 'PX', ttl);
        break;
      case 'del':
        multi.del(full);
        break;
      case 'sadd':
        multi.sadd(full, op.member);
        break;
      case 'srem':
        multi.srem(full, op.member);
        break;
      case 'zadd':
        multi.zadd(full, 0, op.member);
        break;
      case 'zrem':
        multi.zrem(full, op.member);
        break;
      case 'zscore':
        multi.zadd(full, op.score, op.member);
        break;
      case 'hincrby':
        multi.hincrby(full, op.field, op.by);
        break;
      case 'pexpire':
        if (op.extendOnly) {
          // NX gives a key without expiry this one; GT extends an earlier, sooner one (Redis 7).
          multi.pexpire(full, ttl as number, 'NX');
          multi.pexpire(full, ttl as number, 'GT');
        } else {
          multi.pexpire(full, ttl as number);
        }
        break;
      case 'xadd':
        if (op.minIdMs === undefined) multi.xadd(full, '*', 'e', op.value);
        else multi.xadd(full, 'MINID', '~', String(Math.max(0, Math.floor(op.minIdMs))), '*', 'e', op.value);
        break;
    }
  }

  members(key: string): Promise<string[]> {
    return this.run(() => this.client.smembers(this.namespace + key));
  }

  logRange(key: string, after: string | null, limit: number): Promise<LogEntry[]> {
    if (after !== null && !LOG_ID.test(after)) {
      return Promise.reject(new StoreUnavailableError(new Error(`ERR Invalid stream ID ${after}`)));
    }
    return this.run(async () =>
      logEntries(await this.client.xrange(this.namespace + key, after === null ? '-' : `(${after}`, '+', 'COUNT', limit)),
    );
  }

  rangeByScore(key: string, max: number, limit: number): Promise<string[]> {
    return this.run(() => this.client.zrangebyscore(this.namespace + key, '-inf', max, 'LIMIT', 0, limit));
  }

  logRangeBefore(key: string, before: string | null, limit: number, inclusive = false): Promise<LogEntry[]> {
    if (before !== null && !LOG_ID.test(before)) {
      return Promise.reject(new StoreUnavailableError(new Error(`ERR Invalid stream ID ${before}`)));
    }
    const max = before === null ? '+' : inclusive ? before : `(${before}`;
    return this.run(async () => logEntries(await this.client.xrevrange(this.namespace + key, max, '-', 'COUNT', limit)));
  }

  logLastId(key: string): Promise<string | null> {
    return this.run(async () => {
      const reply = await this.client.xrevrange(this.namespace + key, '+', '-', 'COUNT', 1);
      return reply[0]?.[0] ?? null;
    });
  }

  publish(channel: string, payload: string): Promise<void> {
    return this.run(async () => {
      await this.client.publish(this.namespace + channel, payload);
    });
  }

  subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(new Error('store is closed')));
    return this.subscriptions.subscribe(this.namespace + channel, listener);
  }

  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract {
    return redisRateLimiter(this.client, this.namespace, options, () => this.closed);
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([quit(this.client), this.subscriptions.close()]);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err);
    }
  }
}
