import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync, closeSync } from 'node:fs';
import net from 'node:net';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function statOf(pid: number): { ppid: number; user: number; system: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), user: Number(fields[11]), system: Number(fields[12]) };
}

export interface CpuTime {
  /** Microseconds in user space. */
  readonly user: number;
  /** Microseconds in the kernel (for a server: mostly the network stack). */
  readonly system: number;
}

/**
 * CPU time (all threads) used so far by `pid` and every live descendant.
 * Resolution: one clock tick (10 ms); over a 10-second run that is well
 * under 1 %.
 */
export function cpuTime(pid: number): CpuTime {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  let user = 0;
  let system = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop() as number;
    const stat = statOf(p);
    user += stat?.user ?? 0;
    system += stat?.system ?? 0;
    queue.push(...(children.get(p) ?? []));
  }
  return { user: (user / CLK_TCK) * 1e6, system: (system / CLK_TCK) * 1e6 };
}

/** User + system microseconds, as cpuTime. */
export function cpuMicros(pid: number): number {
  const { user, system } = cpuTime(pid);
  return user + system;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? ok(port) : fail(new Error('no free port'))));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 20_000, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((ok) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        ok(true);
      });
      socket.once('error', () => ok(false));
    });
    if (open) return;
    if (!alive()) throw new Error(`the process meant to listen on ${port} has exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed on stdout so far (when not sent to a log file). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

const running = new Set<Server>();

/**
 * Starts a server process. stdout goes to `logFile` when given (as a
 * production log collector would take it), else is kept in memory; stderr
 * is kept in memory and shown if the process dies early.
 */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  logFile?: string,
): Server {
  const logFd = logFile === undefined ? undefined : openSync(logFile, 'w');
  const child = spawn(command, args, { env, stdio: ['ignore', logFd ?? 'pipe', 'pipe'] });
  if (logFd !== undefined) closeSync(logFd);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-1_000_000)));
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`\n[bench] ${name} exited early (${code ?? signal})\n${stderr}\n`);
  });
  let stopping = false;
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const server: Server = {
    name,
    pid: child.pid,
    child,
    output: () => stdout,
    async stop() {
      stopping = true;
      running.delete(server);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(server);
  return server;
}

/** Stops everything still running (on the way out, also after a failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export function isAlive(server: Server): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}
