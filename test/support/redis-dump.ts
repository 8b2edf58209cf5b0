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

/** A key as {@link scanKeys} lists it: its type, size (members of a set, 1 otherwise) and ms left (-1: no expiry). */
export interface ScannedKey {
  readonly key: string;
  readonly type: string;
  readonly size: number;
  readonly pttl: number;
}

/**
 * Every key matching `match` on each Redis of `urls` (one server, or every
 * master of a cluster), with its type, size and TTL; sorted by name.
 */
export async function scanKeys(urls: readonly string[], match: string): Promise<ScannedKey[]> {
  const out: ScannedKey[] = [];
  for (const url of urls) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) {
          const type = await client.type(key);
          if (type === 'none') continue; // expired between SCAN and TYPE
          const size = type === 'set' ? await client.scard(key) : type === 'zset' ? await client.zcard(key) : 1;
          out.push({ key, type, size, pttl: await client.pttl(key) });
        }
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
