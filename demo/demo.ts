/**
 * The demo, as a function: starts the built gateway (dist/main.js) on the
 * embedded store, provisions a sandbox site, an API key and a user with
 * product access through the admin API, and serves a small customer app
 * (customer-app.ts) that uses both packages: @verigate/node in its
 * backend, and on its page the script the gateway serves from
 * @verigate/browser's build. `npm run demo` (main.ts) and the end-to-end
 * test (test/e2e/demo.e2e.test.ts) both call `startDemo`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createCustomerApp, DEMO_USER } from './customer-app';

const ROOT = resolve(__dirname, '..');

export interface DemoOptions {
  /** Preferred ports; a taken one is swapped for a free one. `0`: any free port. */
  ports?: { app?: number; live?: number; sandbox?: number; admin?: number };
  /** Where the gateway's banner and logs go (default: this process's stderr). */
  gatewayOutput?: 'inherit' | 'pipe';
  /** Gateway log level (default `warn`). */
  logLevel?: string;
}

export interface RunningDemo {
  readonly appUrl: string;
  readonly gateway: { readonly live: string; readonly sandbox: string; readonly admin: string };
  readonly site: { readonly siteId: string; readonly publishableKey: string };
  /** What the gateway printed, when `gatewayOutput` is `pipe`. */
  gatewayOutput(): string;
  close(): Promise<void>;
}

export const DEFAULT_DEMO_PORTS = { app: 3000, live: 8080, sandbox: 8081, admin: 8090 } as const;

/** `preferred` when free, else (or for 0) a free port picked by the OS, never one already picked. */
async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((done) => {
      const probe = createServer();
      probe.once('error', () => done(null));
      probe.listen(port, () => {
        const picked = (probe.address() as AddressInfo).port;
        probe.close(() => done(picked));
      });
    });
  let port = preferred !== 0 && !taken.has(preferred) ? await tryListen(preferred) : null;
  while (port === null || taken.has(port)) port = await tryListen(0);
  taken.add(port);
  return port;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = resolve(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Why the build cannot be used as it is (missing, or older than its
 * sources), or `null` when it is fine: the demo serves what `npm run build`
 * produced, never the sources.
 */
export function staleBuild(): string | null {
  const main = resolve(ROOT, 'dist/main.js');
  const sdk = resolve(ROOT, 'packages/browser/dist/verigate.js');
  const node = resolve(ROOT, 'packages/node/dist/cjs/index.js');
  if (!existsSync(main) || !existsSync(sdk) || !existsSync(node)) return 'the demo needs a build: run `npm run build` first';
  if (statSync(sdk).mtimeMs < newestMtime(resolve(ROOT, 'packages/browser/src'))) {
    return 'packages/browser/dist is older than packages/browser/src: run `npm run build`';
  }
  if (statSync(node).mtimeMs < newestMtime(resolve(ROOT, 'packages/node/src'))) {
    return 'packages/node/dist is older than packages/node/src: run `npm run build`';
  }
  if (statSync(main).mtimeMs < newestMtime(resolve(ROOT, 'src'))) return 'dist/main.js is older than src: run `npm run build`';
  return null;
}

async function waitUntilReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The gateway exited (${child.exitCode}):\n${output()}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The gateway did not become ready at ${url}:\n${output()}`);
}

/** The admin API, as an operator's script would call it. */
function adminApi(adminUrl: string, adminToken: string) {
  return async <T>(method: string, path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${adminUrl}/admin/v1/sandbox${path}`, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
}

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const stale = staleBuild();
  if (stale) throw new Error(stale);
  const wanted = { ...DEFAULT_DEMO_PORTS, ...options.ports };
  const taken = new Set<number>();
  const ports = {
    app: await pickPort(wanted.app, taken),
    live: await pickPort(wanted.live, taken),
    sandbox: await pickPort(wanted.sandbox, taken),
    admin: await pickPort(wanted.admin, taken),
  };
  const gateway = {
    live: `http://localhost:${ports.live}`,
    sandbox: `http://localhost:${ports.sandbox}`,
    admin: `http://127.0.0.1:${ports.admin}`,
  };
  const adminToken = randomBytes(32).toString('base64url');

  // The embedded store: whatever Redis this shell points at is left alone.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['REDIS_URL', 'LIVE_REDIS_URL', 'SANDBOX_REDIS_URL', 'REDIS_CLUSTER_NODES', 'VERIGATE_MASTER_KEY', 'WORKERS']) {
    delete env[name];
  }
  Object.assign(env, {
    LIVE_PORT: String(ports.live),
    SANDBOX_PORT: String(ports.sandbox),
    ADMIN_PORT: String(ports.admin),
    LIVE_PUBLIC_URL: gateway.live,
    SANDBOX_PUBLIC_URL: gateway.sandbox,
    VERIGATE_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: options.logLevel ?? 'warn',
  });
  const pipe = options.gatewayOutput === 'pipe';
  const child = spawn(process.execPath, [resolve(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  let appServer: Server | undefined;
  const close = async (): Promise<void> => {
    if (appServer) {
      appServer.closeAllConnections();
      await new Promise((done) => appServer?.close(done));
    }
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };

  try {
    await waitUntilReady(gateway.sandbox, child, () => output);
    await waitUntilReady(gateway.admin, child, () => output);
    const admin = adminApi(gateway.admin, adminToken);
    const appUrl = `http://localhost:${ports.app}`;
    const site = await admin<{ siteId: string; publishableKey: string; identitySecret: string }>('POST', '/sites', {
      name: 'Demo shop',
      allowedOrigins: [appUrl, `http://127.0.0.1:${ports.app}`],
    });
    const key = await admin<{ apiKey: string }>('POST', `/sites/${site.siteId}/api-keys`, { name: 'demo backend' });
    await admin('PUT', `/sites/${site.siteId}/users/${DEMO_USER.userId}`, {
      email: DEMO_USER.email,
      name: DEMO_USER.name,
      productAccess: [{ productId: 'reports', expiresAt: null }],
    });

    const app = createCustomerApp({
      gatewayUrl: gateway.sandbox,
      publishableKey: site.publishableKey,
      identitySecret: site.identitySecret,
      apiKey: key.apiKey,
    });
    appServer = createServer(app);
    await new Promise<void>((ok, fail) => {
      appServer?.once('error', fail);
      appServer?.listen(ports.app, () => ok());
    });
    return {
      appUrl,
      gateway,
      site: { siteId: site.siteId, publishableKey: site.publishableKey },
      gatewayOutput: () => output,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
