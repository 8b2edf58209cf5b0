import Redis from 'ioredis';
import { testRedisUrl } from './redis';
import { testRedisClusterNodes } from './redis-cluster';

/**
 * Where the gateways of this run keep their data: the given URL, else every
 * node of the test Redis Cluster (TEST_STORE=cluster; each key lives on one
 * node, and PUBSUB CHANNELS answers per node), else the test Redis.
 */
function serverUrls(url: string | undefined): string[] {
  if (url !== undefined) return [url];
  const nodes = testRedisClusterNodes();
  return nodes ? nodes.map(({ host, port }) => `redis://${host}:${port}`) : [testRedisUrl()];
}

export interface DumpedKey {
  readonly key: string;
  readonly type: string;
  /** Every string the key holds (a string's value, a set's members, a hash's fields and values, …). */
  readonly values: string[];
}

/**
 * Every key under `<prefix>:` with its contents, read with a raw client.
 * Tests may SCAN; the app never does (its ACL has no SCAN/KEYS).
 */
export async function dumpPrefix(prefix: string, url?: string): Promise<DumpedKey[]> {
  const dumps = await Promise.all(serverUrls(url).map((server) => dumpServer(prefix, server)));
  return dumps.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function dumpServer(prefix: string, url: string): Promise<DumpedKey[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
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
        case 'none':
          continue; // expired between SCAN and TYPE
        default:
          throw new Error(`unexpected Redis type ${type} at ${key}: teach dumpPrefix to read it`);
      }
      out.push({ key, type, values });
    }
    return out;
  } finally {
    client.disconnect();
  }
}

/** Pub/sub channels with at least one subscriber under `<prefix>:`. */
export async function channelsUnder(prefix: string, url?: string): Promise<string[]> {
  const perServer = await Promise.all(serverUrls(url).map((server) => channelsOn(prefix, server)));
  return [...new Set(perServer.flat())];
}

async function channelsOn(prefix: string, url: string): Promise<string[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    return (await client.pubsub('CHANNELS', `${prefix}:*`)) as string[];
  } finally {
    client.disconnect();
  }
}
