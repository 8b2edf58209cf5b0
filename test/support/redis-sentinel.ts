import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './ports';
import { pollUntil } from './poll';
import { spawnRedisSentinel, spawnRedisServer, type Running } from './redis-server';

/** One data node (master or replica) of a test Sentinel group. */
export interface SentinelDataNode {
  readonly port: number;
  /** Whether its process is running. */
  readonly running: boolean;
  /** SIGKILL it and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on its port as a replica of `masterPort` (how a dead master comes back after a failover). */
  restartAsReplicaOf(masterPort: number): Promise<void>;
  /** One command on a short-lived connection. */
  command(...args: (string | number)[]): Promise<unknown>;
}

/** A Sentinel group on 127.0.0.1, for tests: one master, its replicas, three sentinels. */
export interface RedisSentinelHandle {
  /** The master group name (`REDIS_SENTINEL_NAME`). */
  readonly name: string;
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as `REDIS_SENTINELS` takes it. */
  readonly sentinelsEnv: string;
  /** Every data node, the first master at index 0. */
  readonly nodes: readonly SentinelDataNode[];
  /** The port the sentinels name as master now (asked of the first sentinel that answers). */
  masterPort(): Promise<number>;
  /** The data node the sentinels name as master now. */
  master(): Promise<SentinelDataNode>;
  /** Resolves once every sentinel names the same master other than `oldPort` and it answers as one; the new port. */
  awaitPromotion(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Resolves once the master has every replica online and the sentinels know them and each other. */
  awaitSettled(timeoutMs?: number): Promise<void>;
  /** Stop everything and remove the files. */
  stop(): Promise<void>;
}

export interface StartRedisSentinelOptions {
  /** Replicas of the master (default 1). */
  readonly replicas?: number;
  /** `down-after-milliseconds`: how long a master may be silent before it is down (default 500). */
  readonly downAfterMs?: number;
  /** `failover-timeout` (default 2000). */
  readonly failoverTimeoutMs?: number;
  /**
   * ACL users on every data node, as `user` config lines split into words
   * (`['verigate', 'on', '>pw', '~vg:*', '-@all', '+get']`): given on the
   * command line, so a node restarted after a failover has them too.
   */
  readonly aclUsers?: readonly (readonly string[])[];
}

const NAME = 'verigate-test';
const SENTINELS = 3;
const QUORUM = 2;

/** Runs one command on a fresh connection to `port`; rejects when it cannot. */
async function commandOn(port: number, args: readonly (string | number)[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 500, commandTimeout: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const [command, ...rest] = args as [string, ...(string | number)[]];
    return await client.call(command, ...rest);
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` as field -> value. */
async function info(port: number, section: string): Promise<Record<string, string>> {
  const text = String(await commandOn(port, ['INFO', section]));
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** A flat `[k, v, k, v]` reply as an object. */
const pairs = (reply: unknown): Record<string, string> => {
  const list = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string;
  return out;
};

/**
 * Starts a master, `replicas` replicas (`--replicaof`) and three sentinels
 * (`redis-server <conf> --sentinel`, quorum 2) on free 127.0.0.1 ports, and
 * resolves once the group is settled (see `awaitSettled`).
 */
export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<RedisSentinelHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'verigate-sentinel-'));
  const processes = new Map<string, Running>();
  const stopAll = async (): Promise<void> => {
    const all = [...processes.values()];
    processes.clear();
    for (const { child } of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(all.map(({ exit }) => exit));
  };
  // Diskless full syncs, at once: a replica is in sync a moment after it connects.
  const dataArgs = [
    '--dir', dir,
    '--repl-diskless-sync', 'yes',
    '--repl-diskless-sync-delay', '0',
    ...(options.aclUsers ?? []).flatMap((words) => ['--user', ...words]),
  ];
  try {
    const masterPort = await freePort();
    processes.set(`data:${masterPort}`, await spawnRedisServer(masterPort, dataArgs));
    const dataPorts = [masterPort];
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const port = await freePort();
      processes.set(`data:${port}`, await spawnRedisServer(port, [...dataArgs, '--replicaof', '127.0.0.1', String(masterPort)]));
      dataPorts.push(port);
    }
    const sentinelPorts: number[] = [];
    for (let i = 0; i < SENTINELS; i++) {
      const port = await freePort();
      const file = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `dir ${dir}`,
          `sentinel monitor ${NAME} 127.0.0.1 ${masterPort} ${QUORUM}`,
          `sentinel down-after-milliseconds ${NAME} ${options.downAfterMs ?? 500}`,
          `sentinel failover-timeout ${NAME} ${options.failoverTimeoutMs ?? 2000}`,
          `sentinel parallel-syncs ${NAME} 1`,
          '',
        ].join('\n'),
      );
      processes.set(`sentinel:${port}`, await spawnRedisSentinel(port, file));
      sentinelPorts.push(port);
    }

    const nodes: SentinelDataNode[] = dataPorts.map((port) => ({
      port,
      get running() {
        return processes.has(`data:${port}`);
      },
      async kill() {
        const current = processes.get(`data:${port}`);
        if (!current) return;
        processes.delete(`data:${port}`);
        current.child.kill('SIGKILL');
        await current.exit;
      },
      async restartAsReplicaOf(master: number) {
        if (processes.has(`data:${port}`)) throw new Error(`data node ${port} is still running`);
        processes.set(`data:${port}`, await spawnRedisServer(port, [...dataArgs, '--replicaof', '127.0.0.1', String(master)]));
      },
      command: (...args) => commandOn(port, args),
    }));

    const masterPortNow = async (): Promise<number> => {
      let last: unknown;
      for (const port of sentinelPorts) {
        try {
          const reply = (await commandOn(port, ['SENTINEL', 'get-master-addr-by-name', NAME])) as [string, string];
          return Number(reply[1]);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    };

    const handle: RedisSentinelHandle = {
      name: NAME,
      sentinelsEnv: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      nodes,
      masterPort: masterPortNow,
      async master() {
        const port = await masterPortNow();
        const node = nodes.find((n) => n.port === port);
        if (!node) throw new Error(`the sentinels name an unknown master ${port}`);
        return node;
      },
      async awaitPromotion(oldPort, timeoutMs = 30_000) {
        return pollUntil(
          async () => {
            // Every sentinel names the new master (a client may ask any of them), and it answers as one.
            const named = await Promise.all(
              sentinelPorts.map(async (p) => Number(((await commandOn(p, ['SENTINEL', 'get-master-addr-by-name', NAME])) as [string, string])[1])),
            );
            const port = named[0] as number;
            if (port === oldPort || named.some((n) => n !== port)) return 0;
            return (await info(port, 'replication')).role === 'master' ? port : 0;
          },
          (port) => port > 0,
          { timeoutMs, intervalMs: 50, what: `the sentinels to promote a replica of ${oldPort}` },
        );
      },
      async awaitSettled(timeoutMs = 30_000) {
        const expected = nodes.filter((n) => n.running).length - 1;
        await pollUntil(
          async () => {
            const port = await masterPortNow();
            const replication = await info(port, 'replication');
            const online = Object.entries(replication).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online')).length;
            const views = await Promise.all(sentinelPorts.map(async (p) => pairs(await commandOn(p, ['SENTINEL', 'master', NAME]))));
            return (
              replication.role === 'master' &&
              online >= expected &&
              views.every(
                (v) =>
                  Number(v.port) === port &&
                  Number(v['num-other-sentinels']) === SENTINELS - 1 &&
                  Number(v['num-slaves']) >= expected &&
                  !v.flags?.includes('down') &&
                  !v.flags?.includes('failover'),
              )
            );
          },
          (ok) => ok,
          { timeoutMs, intervalMs: 100, what: 'the Sentinel group to settle (replicas online, sentinels know each other)' },
        );
      },
      async stop() {
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    await handle.awaitSettled();
    return handle;
  } catch (err) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
