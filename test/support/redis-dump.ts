import Redis from 'ioredis';

export interface DumpedKey {
  readonly key: string;
  readonly type: string;
  /** Every string the key holds (a string's value, a set's members, a hash's fields and values, a stream's entries, …). */
  readonly values: string[];
  /** Milliseconds until it expires; -1 when it never does. */
  readonly ttlMs: number;
}

/**
 * Every key of the Redis at `url` (SCAN `*`: whatever its name, so a key
 * written outside a prefix shows too), with its contents, read with a raw
 * client. Meant for a redis-server a test file started for itself, where
 * everything there was written by that file's gateways. Tests may SCAN; the
 * app never does (its ACL has no SCAN/KEYS).
 */
export async function dumpRedis(url: string): Promise<DumpedKey[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const k of batch) names.add(k);
    } while (cursor !== '0');
    const out: DumpedKey[] = [];
    for (const key of [...names].sort()) {
      const type = await client.type(key);
      let values: string[];
      switch (type) {
        case 'string':
          values = [(await client.get(key)) ?? ''];
          break;
        case 'set':
          values = await client.smembers(key);
          break;
        case 'hash':
          values = Object.entries(await client.hgetall(key)).flat();
          break;
        case 'list':
          values = await client.lrange(key, 0, -1);
          break;
        case 'zset':
          values = await client.zrange(key, 0, -1);
          break;
        case 'stream':
          values = (await client.xrange(key, '-', '+')).map(([, fields]) => fields.join(' '));
          break;
        case 'none':
          continue; // expired between SCAN and TYPE
        default:
          throw new Error(`unexpected Redis type ${type} at ${key}: teach dumpRedis to read it`);
      }
      out.push({ key, type, values, ttlMs: await client.pttl(key) });
    }
    return out;
  } finally {
    client.disconnect();
  }
}

/** Every pub/sub channel with at least one subscriber on the Redis at `url`. */
export async function redisChannels(url: string): Promise<string[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    return (await client.pubsub('CHANNELS', '*')) as string[];
  } finally {
    client.disconnect();
  }
}
