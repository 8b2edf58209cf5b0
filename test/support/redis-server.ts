import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './ports';

/** A redis-server child process on 127.0.0.1, for tests. */
export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** SIGTERM, then wait for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the process to exit. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Starts it again on the same port (after `stop()` or `kill()`), once it answers PING. */
  restart(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  readonly args?: readonly string[];
}

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const READY_POLL_INTERVAL_MS = 20;
const READY_POLL_ATTEMPTS = 250;

/** One PING over a raw socket; true on `+PONG`. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Children still running when this process exits (a test file that forgot
 * `stop()`, a worker shut down early) are killed with it, not left behind.
 * A parent killed by a signal cannot do this; such a server must be killed
 * by hand.
 */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const live of liveChildren) live.kill('SIGKILL');
  });
}

export interface Running {
  readonly child: ChildProcess;
  /** Settles once the process has exited and its output is closed. */
  readonly exit: Promise<void>;
}

/**
 * Spawns `redis-server` on 127.0.0.1:`port` (unpersisted, plus `extraArgs`),
 * killed with the test process if still running, and resolves once it
 * answers PING. Shared by the single-server and the cluster harness.
 */
export function spawnRedisServer(port: number, extraArgs: readonly string[]): Promise<Running> {
  return spawnRedisProcess(port, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs]);
}

/**
 * Spawns `redis-server <configFile> --sentinel` on 127.0.0.1:`port` (the
 * file must be writable: a sentinel rewrites it), killed with the test
 * process, once it answers PING.
 */
export function spawnRedisSentinel(port: number, configFile: string): Promise<Running> {
  return spawnRedisProcess(port, [configFile, '--sentinel', '--port', String(port), '--bind', '127.0.0.1']);
}

async function spawnRedisProcess(port: number, args: readonly string[]): Promise<Running> {
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let failure: Error | undefined;
  child.once('error', (err: NodeJS.ErrnoException) => {
    failure =
      err.code === 'ENOENT'
        ? new Error(
            `redis-server not found (${BINARY}). The Redis tests need it: install redis-server: ` +
              'apt-get install redis-server (or set REDIS_URL to a Redis to use, or REDIS_SERVER_BIN to the binary).',
          )
        : err;
  });
  const exit = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let exitedEarly = false;
  void exit.then(() => {
    exitedEarly = true;
  });

  for (let attempt = 0; attempt < READY_POLL_ATTEMPTS; attempt++) {
    if (failure) throw failure;
    if (exitedEarly) {
      throw new Error(`redis-server on port ${port} exited before answering PING:\n${output}`);
    }
    if (await pingOnce(port)) return { child, exit };
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_INTERVAL_MS));
  }
  child.kill('SIGKILL');
  await exit;
  throw new Error(`redis-server on port ${port} did not answer PING in time:\n${output}`);
}

/** Starts the system `redis-server` on a free 127.0.0.1 port; resolves once it answers PING. */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  const extraArgs = opts.args ?? [];
  const port = await freePort();
  let running: Running | undefined = await spawnRedisServer(port, extraArgs);

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const current = running;
    if (current === undefined) return;
    running = undefined;
    if (current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill(sig);
      // A stopped process only acts on SIGTERM once it runs again.
      if (sig !== 'SIGKILL') current.child.kill('SIGCONT');
    }
    await current.exit;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    freeze() {
      running?.child.kill('SIGSTOP');
    },
    thaw() {
      running?.child.kill('SIGCONT');
    },
    async restart() {
      if (running !== undefined) throw new Error('redis-server is still running; stop() or kill() it first');
      running = await spawnRedisServer(port, extraArgs);
    },
  };
}
