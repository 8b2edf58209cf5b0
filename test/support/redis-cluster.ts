import { spawn } from 'node:child_process';
import { spawnRedisServer, type Running } from './redis-server';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One node of a test Redis Cluster. */
export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  /** SIGKILL the node and wait for it to exit (the cluster then misses its slots). */
  kill(): Promise<void>;
  /** Start it again on the same port with the same nodes file (it rejoins the cluster). */
  restart(): Promise<void>;
  /** Whether its process is running. */
  readonly running: boolean;
  /** SIGSTOP: its connections stay open, nothing answers (a replica then acknowledges nothing). */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
}

/** A node's place in the cluster now, from `CLUSTER NODES`. */
export interface ClusterNodeRole {
  readonly port: number;
  readonly id: string;
  readonly role: 'master' | 'replica';
  /** A replica's master (its node id); null for a master. */
  readonly masterId: string | null;
  /** A master's slot ranges, `[from, to]` inclusive. */
  readonly slots: readonly (readonly [number, number])[];
  readonly failed: boolean;
}

/** A 3-master Redis Cluster on 127.0.0.1, for tests. */
export interface RedisClusterHandle {
  readonly nodes: readonly RedisClusterNode[];
  /** Every node's role as the running node `askPort` (default: the first that answers) sees it. */
  roles(): Promise<ClusterNodeRole[]>;
  /** The port of the master serving `slot` now, and of its replicas. */
  ownerOf(slot: number): Promise<{ master: number; replicas: number[] }>;
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as `REDIS_CLUSTER_NODES` takes it. */
  readonly nodesEnv: string;
  /** Stop every node and remove the cluster's files. */
  stop(): Promise<void>;
}

const CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const MASTERS = 3;
/** The cluster bus listens on port + 10000: both must be free and below 65536. */
const BUS_OFFSET = 10_000;
/**
 * Below Linux's default ephemeral range (32768-60999) with the bus port too,
 * so an outgoing connection cannot take either between the check and the bind.
 */
const PORT_RANGE = { min: 20_000, max: 32_768 - BUS_OFFSET } as const;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` ports P such that P and P + 10000 are free. */
async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 200; attempt++) {
    const port = PORT_RANGE.min + Math.floor(Math.random() * (PORT_RANGE.max - PORT_RANGE.min));
    if (ports.some((p) => Math.abs(p - port) < 2 || Math.abs(p + BUS_OFFSET - port) < 2 || Math.abs(p - BUS_OFFSET - port) < 2)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) ports.push(port);
  }
  if (ports.length < count) throw new Error('could not find free ports for a Redis Cluster');
  return ports;
}

/** Sends one inline command over a raw socket; resolves with the reply text, or null on error/timeout. */
function rawCommand(port: number, command: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    let expected = -1;
    const finish = (value: string | null): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(500, () => finish(null));
    socket.once('error', () => finish(null));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const lineEnd = reply.indexOf('\r\n');
      if (lineEnd === -1) return;
      if (reply[0] !== '$') return finish(reply.slice(0, lineEnd));
      if (expected < 0) expected = Number(reply.slice(1, lineEnd));
      const body = reply.slice(lineEnd + 2);
      if (Buffer.byteLength(body) >= expected + 2) finish(body.slice(0, expected));
    });
  });
}

/** One cluster node: a plain redis-server with cluster mode on, in `dir`. */
function spawnNode(port: number, dir: string, extraArgs: readonly string[]): Promise<Running> {
  return spawnRedisServer(port, [
    '--dir', dir,
    '--cluster-enabled', 'yes',
    '--cluster-config-file', `nodes-${port}.conf`,
    // A killed node is noticed in 2 s instead of 15.
    '--cluster-node-timeout', '2000',
    ...extraArgs,
  ]);
}

export interface StartRedisClusterOptions {
  /** Extra redis-server arguments for every node, e.g. `['--cluster-require-full-coverage', 'no']`. */
  readonly args?: readonly string[];
  /** Replicas per master (default 0): `redis-cli --cluster create --cluster-replicas N`. */
  readonly replicas?: number;
}

/** `CLUSTER NODES` as roles. */
function parseClusterNodesReply(text: string): ClusterNodeRole[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ') as string[];
      const port = Number((address ?? '').split('@')[0]?.split(':').pop());
      return {
        port,
        id: id as string,
        role: (flags ?? '').includes('master') ? ('master' as const) : ('replica' as const),
        masterId: master === '-' ? null : (master ?? null),
        slots: slots
          .filter((range) => /^\d/.test(range))
          .map((range) => {
            const [from, to] = range.split('-').map(Number) as [number, number | undefined];
            return [from, to ?? from] as const;
          }),
        // `fail` (agreed) or `fail?` (suspected by this node): either way, not serving.
        failed: (flags ?? '').split(',').some((flag) => flag === 'fail' || flag === 'fail?'),
      };
    });
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new Error(`redis-cli not found (${CLI}): apt-get install redis-tools`) : err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

/** Polls every node until each reports `cluster_state:ok` and knows all the others, at most `timeoutMs`. */
async function awaitClusterOk(ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const infos = await Promise.all(ports.map((port) => rawCommand(port, 'CLUSTER INFO')));
    const ok = infos.every(
      (info) =>
        info !== null &&
        info.includes('cluster_state:ok') &&
        info.includes('cluster_slots_ok:16384') &&
        info.includes(`cluster_known_nodes:${ports.length}`),
    );
    if (ok) return;
    last = infos.map((info, i) => `${ports[i]}: ${info?.split('\r\n').slice(0, 6).join(' ') ?? 'no answer'}`).join('\n');
    if (Date.now() >= deadline) throw new Error(`Redis Cluster not ok after ${timeoutMs} ms:\n${last}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls until `count` of the nodes are replicas whose link to their master is up. */
export async function awaitReplicasInSync(ports: readonly number[], count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(ports.map((port) => rawCommand(port, 'INFO replication')));
    const synced = infos.filter((info) => info?.includes('role:slave') && info.includes('master_link_status:up')).length;
    if (synced >= count) return;
    if (Date.now() >= deadline) throw new Error(`only ${synced} of ${count} cluster replicas in sync after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts 3 `redis-server --cluster-enabled yes` masters on free 127.0.0.1
 * ports (no replicas, nothing on disk but the nodes files in a temp dir),
 * joins them with `redis-cli --cluster create`, and resolves once every
 * node reports `cluster_state:ok`.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  // Replicas sync at once (diskless, no 5 s delay): a replica that has never
  // synced is not eligible to take over (cluster-replica-validity-factor).
  const extraArgs = [
    ...((options.replicas ?? 0) > 0 ? ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] : []),
    ...(options.args ?? []),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'verigate-cluster-'));
  const running = new Map<number, Running>();
  const stopAll = async (signal: NodeJS.Signals): Promise<void> => {
    const all = [...running.values()];
    running.clear();
    for (const { child } of all) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    }
    await Promise.all(all.map(({ exit }) => exit));
  };
  try {
    let ports: number[] = [];
    // A port found free may be taken before redis-server binds it: try a few sets.
    for (let attempt = 0; ; attempt++) {
      ports = await clusterPorts(MASTERS * (1 + (options.replicas ?? 0)));
      try {
        for (const port of ports) running.set(port, await spawnNode(port, dir, extraArgs));
        break;
      } catch (err) {
        await stopAll('SIGKILL');
        if (attempt >= 4) throw err;
      }
    }
    await run(
      CLI,
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(options.replicas ?? 0), '--cluster-yes'],
      30_000,
    );
    await awaitClusterOk(ports, 15_000);

    const nodes: RedisClusterNode[] = ports.map((port) => ({
      host: '127.0.0.1',
      port,
      async kill() {
        const current = running.get(port);
        if (!current) return;
        running.delete(port);
        current.child.kill('SIGKILL');
        await current.exit;
      },
      async restart() {
        if (running.has(port)) throw new Error(`cluster node ${port} is still running`);
        running.set(port, await spawnNode(port, dir, extraArgs));
      },
      get running() {
        return running.has(port);
      },
      freeze() {
        running.get(port)?.child.kill('SIGSTOP');
      },
      thaw() {
        running.get(port)?.child.kill('SIGCONT');
      },
    }));
    if ((options.replicas ?? 0) > 0) await awaitReplicasInSync(ports, MASTERS * (options.replicas ?? 0), 30_000);
    const roles = async (): Promise<ClusterNodeRole[]> => {
      for (const port of ports) {
        if (!running.has(port)) continue;
        const text = await rawCommand(port, 'CLUSTER NODES');
        if (text !== null && !text.startsWith('-')) return parseClusterNodesReply(text);
      }
      throw new Error('no cluster node answered CLUSTER NODES');
    };
    return {
      nodes,
      roles,
      async ownerOf(slot) {
        const all = await roles();
        const master = all.find((n) => n.role === 'master' && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to));
        if (!master) throw new Error(`no master serves slot ${slot}`);
        return { master: master.port, replicas: all.filter((n) => n.masterId === master.id).map((n) => n.port) };
      },
      nodesEnv: ports.map((p) => `127.0.0.1:${p}`).join(','),
      async stop() {
        await stopAll('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `host:port,host:port` (TEST_REDIS_CLUSTER_NODES, REDIS_CLUSTER_NODES) as addresses. */
export function parseClusterNodes(value: string): { host: string; port: number }[] {
  return value.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':');
    return { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
  });
}

/** The cluster every test may use, when global-setup started one (`TEST_STORE=cluster`); else undefined. */
export function testRedisClusterNodes(): { host: string; port: number }[] | undefined {
  const value = process.env.TEST_REDIS_CLUSTER_NODES;
  return value ? parseClusterNodes(value) : undefined;
}
