/**
 * SIGTERM under load, against the real server: built once here with tsc
 * into a temporary directory (so a concurrent `npm run build` of dist/ cannot
 * interfere) and run as `node <tmp>/dist/main.js` on Redis, each environment
 * as its own restricted ACL user, on free ports picked here.
 *
 * What a drain must do (SPEC §6): readiness turns 503 and no new connection
 * is accepted; every request already in flight gets its full answer; the
 * process closes Redis and exits 0 — before its grace period forces
 * connections shut (which it would log).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '../support/poll';
import { testRedisUrl, uniquePrefix } from '../support/redis';
import { expectAclExcused, GatewayAclUsers } from '../support/redis-acl';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../..');
const SHUTDOWN_GRACE_MS = 5000;
const CONCURRENCY = 8;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request; resolves with the whole response, rejects on any socket error. */
function send(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; agent?: http.Agent | false } = {},
): { req: http.ClientRequest; reply: Promise<Reply> } {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const req = http.request({
    host: '127.0.0.1',
    port,
    method,
    path,
    agent: options.agent ?? false,
    headers: {
      ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
      ...options.headers,
    },
  });
  const reply = new Promise<Reply>((ok, fail) => {
    req.once('error', fail);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('error', fail);
      res.once('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
  });
  if (payload !== undefined) req.write(payload);
  req.end();
  return { req, reply };
}

const json = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body) as Record<string, unknown>;

interface Server {
  readonly child: ChildProcess;
  readonly ports: { live: number; sandbox: number; admin: number };
  readonly adminToken: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

let buildDir: string;
let acl: GatewayAclUsers | null;
let server: Server;

async function build(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'verigate-sigterm-'));
  await promisify(execFile)(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist'), '--noCheck', '--sourceMap', 'false'],
    { cwd: ROOT },
  );
  // main.js reads ../openapi.yaml.
  copyFileSync(join(ROOT, 'openapi.yaml'), join(dir, 'openapi.yaml'));
  return dir;
}

async function startServer(): Promise<Server> {
  const prefix = uniquePrefix();
  acl = await GatewayAclUsers.provision(testRedisUrl(), prefix);
  // No users only on a Redis the user gave that refuses them, outside CI: anything else fails here.
  if (acl === null) expectAclExcused(testRedisUrl());
  const ports = { live: await freePort(), sandbox: await freePort(), admin: await freePort() };
  const adminToken = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // The build lives outside the repository: find its dependencies here.
    NODE_PATH: join(ROOT, 'node_modules'),
    LIVE_PORT: String(ports.live),
    SANDBOX_PORT: String(ports.sandbox),
    ADMIN_PORT: String(ports.admin),
    REDIS_KEY_PREFIX: prefix,
    ...(acl
      ? { LIVE_REDIS_URL: acl.urlFor('live'), SANDBOX_REDIS_URL: acl.urlFor('sandbox') }
      : { REDIS_URL: testRedisUrl() }),
    VERIGATE_MASTER_KEY: randomBytes(32).toString('base64'),
    VERIGATE_ADMIN_TOKEN: adminToken,
    SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, [join(buildDir, 'dist', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  await pollUntil(
    async () => {
      if (gone) throw new Error(`the server exited:\n${output}`);
      return send(ports.live, 'GET', '/readyz').reply;
    },
    (res) => res.status === 200,
    { timeoutMs: 30_000, intervalMs: 50, what: 'the spawned server to be ready' },
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\n${output}`);
  });
  return { child, ports, adminToken, exited, output: () => output };
}

beforeAll(async () => {
  buildDir = await build();
  server = await startServer();
});

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await acl?.close();
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

async function provision(): Promise<{ apiKey: string; token: string }> {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await send(server.ports.admin, method, `/admin/v1/live${path}`, {
      headers: { Authorization: `Bearer ${server.adminToken}` },
      body,
    }).reply;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
    return json(res);
  };
  const site = await admin('POST', '/sites', { name: 'Drain' });
  const key = await admin('POST', `/sites/${String(site.siteId)}/api-keys`, { name: 'backend' });
  await admin('PUT', `/sites/${String(site.siteId)}/users/u1`, {});
  const session = await admin('POST', `/sites/${String(site.siteId)}/users/u1/sessions`);
  const vt = await send(server.ports.live, 'POST', '/live_api/v1/users/verification-token', {
    headers: { Authorization: `Bearer ${String(session.sessionToken)}` },
  }).reply;
  expect(vt.status).toBe(200);
  return { apiKey: String(key.apiKey), token: String(json(vt).userVerificationToken) };
}

interface StreamOutcome {
  /** The whole request had been handed to the kernel before SIGTERM was sent. */
  readonly sentBeforeSigterm: boolean;
  /** On a connection that had already carried a response (so the server had accepted it). */
  readonly reusedSocket: boolean;
  readonly status?: number;
  readonly isAuthenticated?: unknown;
  readonly error?: string;
}

it('drains on SIGTERM under load: readiness 503, in-flight requests answered, exit 0 within the grace period', async () => {
  const { apiKey, token } = await provision();
  if (acl) {
    // The server's stores connect as the environments' users.
    const users = await acl.connectedUsers();
    expect(users).toContain(acl.users.live.username);
    expect(users).toContain(acl.users.sandbox.username);
  }
  const exchangeBody = { userVerificationToken: token };
  const exchangeHeaders = { 'X-API-KEY': apiKey };
  let sigtermSent = false;

  // A stream of exchanges over keep-alive connections, CONCURRENCY at a time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const outcomes: StreamOutcome[] = [];
  let onOutcome = (): void => undefined;
  const worker = async (): Promise<void> => {
    while (!sigtermSent) {
      const { req, reply } = send(server.ports.live, 'POST', '/live_api/s2s/v1/users/verification', {
        headers: exchangeHeaders,
        body: exchangeBody,
        agent,
      });
      let sent = false;
      req.once('finish', () => (sent = !sigtermSent));
      try {
        const res = await reply;
        outcomes.push({ sentBeforeSigterm: sent, reusedSocket: req.reusedSocket, status: res.status, isAuthenticated: json(res).isAuthenticated });
      } catch (err) {
        outcomes.push({ sentBeforeSigterm: sent, reusedSocket: req.reusedSocket, error: String(err) });
      }
      onOutcome();
    }
  };
  const stream = Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await new Promise<void>((ok) => {
    onOutcome = () => {
      if (outcomes.length >= 20 * CONCURRENCY) ok();
    };
  });

  // Two requests certainly in flight at SIGTERM: the server has begun reading
  // each (so it cannot count its connection idle), neither is complete yet.
  const slowBody = JSON.stringify(exchangeBody);
  const slow = http.request({
    host: '127.0.0.1',
    port: server.ports.live,
    method: 'POST',
    path: '/live_api/s2s/v1/users/verification',
    agent: false,
    headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(slowBody)), ...exchangeHeaders },
  });
  const slowReply = new Promise<Reply>((ok, fail) => {
    slow.once('error', fail);
    slow.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
  });
  const half = Math.floor(slowBody.length / 2);
  await new Promise<void>((ok) => slow.write(slowBody.slice(0, half), () => ok()));

  const readyProbe = net.connect({ host: '127.0.0.1', port: server.ports.live });
  let readyProbeText = '';
  readyProbe.setEncoding('utf8');
  readyProbe.on('data', (chunk: string) => (readyProbeText += chunk));
  const readyProbeClosed = new Promise<void>((ok, fail) => {
    readyProbe.once('close', () => ok());
    readyProbe.once('error', fail);
  });
  await new Promise<void>((ok) => readyProbe.once('connect', () => ok()));
  // The request line and a header, not the blank line that ends the head.
  await new Promise<void>((ok) => readyProbe.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n', () => ok()));
  // A barrier: once this is answered, the server has read what was sent before it.
  expect((await send(server.ports.live, 'GET', '/healthz').reply).status).toBe(200);

  sigtermSent = true;
  server.child.kill('SIGTERM');

  // Not ready any more: no new connection is accepted (or, while it still is, /readyz says 503).
  await pollUntil(
    () => send(server.ports.live, 'GET', '/readyz').reply.then((res) => res.status, (err: NodeJS.ErrnoException) => err.code ?? String(err)),
    (result) => result === 503 || result === 'ECONNREFUSED',
    { timeoutMs: 10_000, intervalMs: 20, what: '/readyz to turn 503 or refuse connections' },
  );
  // The in-flight readiness request, now complete, is answered 503.
  readyProbe.write('\r\n');
  await readyProbeClosed;
  expect(readyProbeText).toMatch(/^HTTP\/1\.1 503 /);
  expect(readyProbeText).toMatch(/"code":"store_unavailable"/);
  expect(readyProbeText.toLowerCase()).toContain('connection: close');

  // The in-flight exchange, now complete, gets its full answer.
  slow.end(slowBody.slice(half));
  const slowRes = await slowReply;
  expect(slowRes.status).toBe(200);
  expect(json(slowRes).isAuthenticated).toBe(true);
  expect(slowRes.headers.connection).toBe('close');

  await stream;
  agent.destroy();
  const inFlight = outcomes.filter((o) => o.sentBeforeSigterm && o.reusedSocket);
  expect(inFlight.length).toBeGreaterThanOrEqual(20 * CONCURRENCY);
  // Every request the server had before SIGTERM got a proper answer: no hang-up, no reset.
  expect(inFlight.filter((o) => o.error !== undefined)).toEqual([]);
  expect(inFlight.every((o) => o.status === 200 && o.isAuthenticated === true)).toBe(true);

  const exit = await Promise.race([
    server.exited,
    new Promise<never>((_ok, fail) =>
      setTimeout(() => fail(new Error(`no exit within ${SHUTDOWN_GRACE_MS + 10_000} ms:\n${server.output()}`)), SHUTDOWN_GRACE_MS + 10_000).unref(),
    ),
  ]);
  expect(exit).toEqual({ code: 0, signal: null });
  const output = server.output();
  // Drained before the grace period ran out: the force path logs this line.
  expect(output).not.toContain('grace period over');
  expect(output).toContain('"msg":"draining"');
  expect(output).toContain('"msg":"stopped"');
  // Redis was used as the restricted users only, and nothing was refused them (no users: excused above).
  if (acl) expect(await acl.denials()).toEqual([]);
});
