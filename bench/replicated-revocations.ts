/**
 * What REDIS_MIN_REPLICAS costs a revocation (SPEC §13). A master and one
 * replica (private redis-server processes on 127.0.0.1), and the write a
 * sign-out makes (MULTI: DEL the session, SREM it from the user's index;
 * src/store/records/session-store.ts) through RedisKvStore, with
 * REDIS_MIN_REPLICAS 0 (a plain MULTI) and 1 (MULTI, then WAIT 1 in the
 * same pipeline): sequential latency (median, p99) and throughput with 32
 * in flight. Run: `npx tsx bench/replicated-revocations.ts`. On loopback
 * this is the replica's own round trip; across hosts or zones add the
 * network round trip between master and replica.
 */
import { performance } from 'node:perf_hooks';
import { RedisKvStore } from '../src/store/redis-kv';
import { freePort, startProcess, stopAll } from './lib/proc';
import net from 'node:net';

const ROUNDS = 3000;
const IN_FLIGHT = 32;

function ping(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => (socket.destroy(), ok(false)));
    socket.once('error', () => ok(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (c: Buffer) => (socket.destroy(), ok(c.toString().startsWith('+PONG'))));
  });
}

async function redis(args: string[]): Promise<number> {
  const port = await freePort();
  startProcess(`redis-${port}`, process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], process.env);
  for (let i = 0; i < 200 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 25));
  return port;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

async function measure(masterPort: number, minReplicas: number): Promise<string> {
  const kv = await RedisKvStore.connect({ url: `redis://127.0.0.1:${masterPort}`, namespace: `bench:${minReplicas}:`, minReplicas });
  const signOut = async (i: number): Promise<void> => {
    await kv.write([{ op: 'set', key: `{s}:session:${i}`, value: 'x' }, { op: 'sadd', key: '{s}:user-sessions:u', member: String(i) }]);
    const started = performance.now();
    await kv.write([{ op: 'del', key: `{s}:session:${i}` }, { op: 'srem', key: '{s}:user-sessions:u', member: String(i) }], { replicated: true });
    latencies.push(performance.now() - started);
  };
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) await signOut(i); // warm-up
  latencies.length = 0;
  for (let i = 0; i < ROUNDS; i++) await signOut(i);
  const sorted = [...latencies].sort((a, b) => a - b);
  // Throughput: the revocation writes only, IN_FLIGHT at a time.
  for (let i = 0; i < ROUNDS; i++) await kv.write([{ op: 'set', key: `{s}:session:${i}`, value: 'x' }]);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < ROUNDS) {
        const i = next++;
        await kv.write([{ op: 'del', key: `{s}:session:${i}` }, { op: 'srem', key: '{s}:user-sessions:u', member: String(i) }], { replicated: true });
      }
    }),
  );
  const perSecond = ROUNDS / ((performance.now() - started) / 1000);
  await kv.close();
  return (
    `REDIS_MIN_REPLICAS=${minReplicas}: sign-out write median ${quantile(sorted, 0.5).toFixed(3)} ms, ` +
    `p99 ${quantile(sorted, 0.99).toFixed(3)} ms (${ROUNDS} sequential); ${perSecond.toFixed(0)}/s with ${IN_FLIGHT} in flight`
  );
}

async function main(): Promise<void> {
  const master = await redis([]);
  await redis(['--replicaof', '127.0.0.1', String(master), '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0']);
  try {
    // The replica must be online before WAIT can count it.
    const probe = await RedisKvStore.connect({ url: `redis://127.0.0.1:${master}`, namespace: 'bench:probe:', minReplicas: 1 });
    for (let i = 0; ; i++) {
      try {
        await probe.write([{ op: 'set', key: 'p', value: '1' }], { replicated: true });
        break;
      } catch (err) {
        if (i > 50) throw err;
      }
    }
    await probe.close();
    for (const minReplicas of [0, 1, 0, 1]) console.log(await measure(master, minReplicas));
  } finally {
    await stopAll();
  }
}

void main();
