import { MemoryBackend, MemoryKvStore } from '../../src/store/memory-kv';
import { RedisKvStore } from '../../src/store/redis-kv';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { TEST_COMMAND_TIMEOUT_MS, testRedisUrl } from '../support/redis';
import { recordsContract } from './records.contract';

// The ports of src/domain/ports.ts on every engine: embedded, one Redis, and
// (with TEST_STORE=cluster) the Redis Cluster.

let now = Date.now();
const backend = new MemoryBackend();
recordsContract('embedded store', (namespace) => new MemoryKvStore({ namespace, shared: backend, now: () => now }), {
  advanceTime: (ms) => {
    now += ms;
  },
});

recordsContract('Redis', (namespace) => RedisKvStore.connect({ url: testRedisUrl(), namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS }));

const clusterNodes = testRedisClusterNodes();
if (clusterNodes) recordsContract('Redis Cluster', (namespace) => RedisKvStore.connect({ clusterNodes, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS }));
