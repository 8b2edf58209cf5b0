import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { uniquePrefix } from './redis';
import { freePort } from './ports';
import { expectAclExcused, GatewayAclUsers, type AclTarget } from './redis-acl';
import { parseClusterNodes } from './redis-cluster';

const ROOT = resolve(__dirname, '../..');

/** Where the gateway processes keep their data. */
export type ProcessStore = { readonly redisUrl: string } | { readonly clusterNodes: string };

/** What several gateway processes must share to act as one deployment. */
export interface Deployment {
  readonly store: ProcessStore;
  readonly prefix: string;
  readonly masterKey: string;
  readonly adminToken: string;
}

export function newDeployment(store: ProcessStore): Deployment {
  return {
    store,
    prefix: uniquePrefix(),
    masterKey: randomBytes(32).toString('base64'),
    adminToken: randomBytes(32).toString('base64url'),
  };
}

/**
 * A deployment's restricted ACL users, one per environment (on the Redis, or
 * on every node of the cluster), made once and shared by its processes.
 */
const deploymentAcl = new WeakMap<Deployment, Promise<GatewayAclUsers | null>>();

const aclTargetOf = (store: ProcessStore): AclTarget =>
  'redisUrl' in store ? store.redisUrl : { clusterNodes: parseClusterNodes(store.clusterNodes) };

function aclFor(deployment: Deployment): Promise<GatewayAclUsers | null> {
  let acl = deploymentAcl.get(deployment);
  if (!acl) {
    acl = GatewayAclUsers.provision(aclTargetOf(deployment.store), deployment.prefix);
    deploymentAcl.set(deployment, acl);
  }
  return acl;
}

/**
 * The environment variables that point a process at the deployment's store,
 * each environment as its own ACL user (LIVE_/SANDBOX_REDIS_URL, or
 * LIVE_/SANDBOX_REDIS_CLUSTER_NODES); the store's own user only where a
 * Redis the user gave refuses ACL users outside CI.
 */
async function storeEnv(deployment: Deployment): Promise<Record<string, string>> {
  const acl = await aclFor(deployment);
  if (acl === null) {
    expectAclExcused(aclTargetOf(deployment.store));
    return 'redisUrl' in deployment.store
      ? { REDIS_URL: deployment.store.redisUrl }
      : { REDIS_CLUSTER_NODES: deployment.store.clusterNodes };
  }
  return 'redisUrl' in deployment.store
    ? { LIVE_REDIS_URL: acl.urlFor('live'), SANDBOX_REDIS_URL: acl.urlFor('sandbox') }
    : { LIVE_REDIS_CLUSTER_NODES: acl.clusterNodesFor('live'), SANDBOX_REDIS_CLUSTER_NODES: acl.clusterNodesFor('sandbox') };
}

/**
 * Ends a deployment once its processes have stopped: fails when Redis
 * refused its ACL users anything (a command missing from
 * REDIS_COMMANDS_USED, a key outside the namespace), then drops the users.
 */
export async function endDeployment(deployment: Deployment): Promise<void> {
  const acl = await deploymentAcl.get(deployment);
  if (!acl) return;
  const denials = await acl.denials().catch(() => []);
  await acl.close();
  if (denials.length > 0) {
    throw new Error(
      `Redis refused the gateway processes' ACL users: ${denials.map((d) => `${d.username}: ${d.reason} ${d.object} (${d.context})`).join('; ')}`,
    );
  }
}

/** The deployment's ACL users (null only where excused), e.g. to see whom its processes connect as. */
export function deploymentAclUsers(deployment: Deployment): Promise<GatewayAclUsers | null> {
  return aclFor(deployment);
}

/** A `node src/main.ts` child process (through tsx, so no build is needed). */
export interface GatewayProcess {
  readonly pid: number;
  readonly urls: { readonly live: string; readonly sandbox: string; readonly admin: string };
  /** Everything it wrote to stdout (JSON log lines) so far. */
  stdout(): string;
  /** Everything it wrote to stderr (the banner, crashes) so far. */
  stderr(): string;
  /** Log lines (JSON) parsed, non-JSON lines skipped. */
  logLines(): Record<string, unknown>[];
  /**
   * Resolves with the log lines matching `match` once there are at least
   * `count` of them (those already written count), as each line arrives on
   * stdout; rejects when the process exits first or after `timeoutMs`
   * (default 30 s), with its output.
   */
  untilLogLines(
    match: (line: Record<string, unknown>) => boolean,
    count?: number,
    options?: { timeoutMs?: number },
  ): Promise<Record<string, unknown>[]>;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartGatewayProcessOptions {
  /** Extra environment variables (e.g. WORKERS, LOG_LEVEL). */
  readonly env?: Record<string, string>;
  /** How long to wait for GET /readyz to answer 200 on every listener; default 30 s. */
  readonly readyTimeoutMs?: number;
}

/**
 * Starts the real gateway (`src/main.ts`, run by tsx: the same code as
 * `npm run dev`) on free ports chosen here, configured only by environment
 * variables, and resolves once live, sandbox and admin answer.
 * The public URLs are fixed per deployment (as behind a load balancer), so
 * every process issues tokens with the same `iss`.
 */
export async function startGatewayProcess(
  deployment: Deployment,
  options: StartGatewayProcessOptions = {},
): Promise<GatewayProcess> {
  const [live, sandbox, admin] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    LIVE_PORT: String(live),
    SANDBOX_PORT: String(sandbox),
    ADMIN_PORT: String(admin),
    LIVE_PUBLIC_URL: 'https://api.verigate.test',
    SANDBOX_PUBLIC_URL: 'https://api-sandbox.verigate.test',
    REDIS_KEY_PREFIX: deployment.prefix,
    VERIGATE_MASTER_KEY: deployment.masterKey,
    VERIGATE_ADMIN_TOKEN: deployment.adminToken,
    LOG_LEVEL: 'info',
    ...(await storeEnv(deployment)),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  /** Every complete stdout line that is a JSON object, in order. */
  const parsed: Record<string, unknown>[] = [];
  let partial = '';
  /** Called after each new parsed line (untilLogLines' waiters). */
  const onLine = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    out += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const value: unknown = JSON.parse(line);
        if (value && typeof value === 'object') parsed.push(value as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    for (const waiter of [...onLine]) waiter();
  });
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const urls = {
    live: `http://127.0.0.1:${live}`,
    sandbox: `http://127.0.0.1:${sandbox}`,
    admin: `http://127.0.0.1:${admin}`,
  };
  const handle: GatewayProcess = {
    pid: child.pid as number,
    urls,
    stdout: () => out,
    stderr: () => err,
    logLines: () => [...parsed],
    untilLogLines(match, count = 1, { timeoutMs = 30_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = parsed.filter(match);
          if (found.length < count) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} matching log line(s):\n${err}\n${out}`));
        }, timeoutMs);
        const onExit = (): void => {
          done();
          reject(new Error(`the gateway process exited while waiting for ${count} matching log line(s):\n${err}\n${out}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          onLine.delete(check);
          child.off('exit', onExit);
        };
        onLine.add(check);
        child.once('exit', onExit);
        check();
        if (hasExited) onExit();
      });
    },
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!hasExited) child.kill(signal);
      return exited;
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  const answers = async (url: string): Promise<boolean> => {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200;
    } catch {
      return false;
    }
  };
  for (;;) {
    if (hasExited) throw new Error(`gateway process exited before it was ready:\n${err}\n${out}`);
    const ready = await Promise.all([
      answers(`${urls.live}/readyz`),
      answers(`${urls.sandbox}/readyz`),
      answers(`${urls.admin}/readyz`),
    ]);
    if (ready.every(Boolean)) return handle;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`gateway process not ready in time:\n${err}\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A small JSON client for one process (fetch; no supertest, these are real servers). */
export function httpClient(gateway: GatewayProcess, adminToken: string) {
  const call = async (
    listener: 'live' | 'sandbox' | 'admin',
    method: string,
    path: string,
    { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gateway.urls[listener]}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(listener === 'admin' ? { Authorization: `Bearer ${adminToken}` } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return {
    call,
    admin: (method: string, path: string, body?: unknown) =>
      call('admin', method, `/admin/v1/live${path}`, body === undefined ? {} : { body }),
  };
}
