/**
 * SPEC §8 against the real, built server: `node dist/main.js` (compiled
 * here with tsc into a temporary directory, as test/e2e/sigterm.test.ts
 * does, so a concurrent build of dist/ cannot interfere), on the embedded
 * store, driven through a whole admin and sign-in story. Then its stdout,
 * from first line to last: JSON lines only; an audit line for every admin
 * mutation and secret reveal, with actor, client address, environment and
 * ids; refusals at info with their code, site, reason and origin; and not
 * one of the secrets the story handled, anywhere.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { generateCredential } from '../../src/domain/credentials';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../..');
const ORIGIN = 'https://shop.example';

let dir: string;
let child: ChildProcess;
let stdout = '';
let stderr = '';
let exited: Promise<number | null>;
const ports = { live: 0, sandbox: 0, admin: 0 };
const adminToken = randomBytes(32).toString('base64url');
const masterKey = randomBytes(32).toString('base64');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verigate-stdout-'));
  await promisify(execFile)(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist'), '--noCheck', '--sourceMap', 'false'],
    { cwd: ROOT },
  );
  copyFileSync(join(ROOT, 'openapi.yaml'), join(dir, 'openapi.yaml'));
  ports.live = await freePort();
  ports.sandbox = await freePort();
  ports.admin = await freePort();
  child = spawn(process.execPath, [join(dir, 'dist', 'main.js')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // The build lives in a temporary directory; its dependencies are the repository's.
      NODE_PATH: join(ROOT, 'node_modules'),
      LIVE_PORT: String(ports.live),
      SANDBOX_PORT: String(ports.sandbox),
      ADMIN_PORT: String(ports.admin),
      // Not loopback: start-up must warn (SPEC §7). The port is ephemeral and the token random.
      ADMIN_HOST: '0.0.0.0',
      VERIGATE_ADMIN_TOKEN: adminToken,
      VERIGATE_MASTER_KEY: masterKey,
      LOG_LEVEL: 'info',
      RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((done) => child.once('exit', (code) => done(code)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  await new Promise<void>((ready, fail) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('"msg":"verigate started"')) ready();
    });
    child.once('exit', (code) => fail(new Error(`the gateway exited (${code}) before it started:\n${stderr}\n${stdout}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Reply = { status: number; body: Record<string, any> };

async function call(listener: 'live' | 'admin', method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${ports[listener]}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined && { 'Content-Type': 'application/json' }),
      ...(options.token !== undefined && { Authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

const admin = (method: string, path: string, body?: unknown, token = adminToken) =>
  call('admin', method, `/admin/v1/live${path}`, { token, ...(body !== undefined && { body }) });

async function identityToken(secret: string, sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: `${sub}@example.com` })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(createSecretKey(Buffer.from(secret)));
}

it('writes JSON lines only, audits every admin mutation and reveal, logs refusals, and never a secret', async () => {
  const secrets: string[] = [adminToken, masterKey];
  const expect2xx = (reply: Reply, status: number): Reply => {
    expect([reply.status, reply.body.code]).toEqual([status, undefined]);
    return reply;
  };

  const site = expect2xx(await admin('POST', '/sites', { name: 'Shop', allowedOrigins: [ORIGIN] }), 201).body;
  secrets.push(site.identitySecret);
  const siteId = site.siteId as string;
  const key = expect2xx(await admin('POST', `/sites/${siteId}/api-keys`, { name: 'backend' }), 201).body;
  secrets.push(key.apiKey);
  secrets.push(expect2xx(await admin('GET', `/sites/${siteId}/security`), 200).body.identitySecret);
  const rotated = expect2xx(await admin('POST', `/sites/${siteId}/security/rotate-identity-secret`, {}), 200).body;
  secrets.push(rotated.identitySecret);
  expect2xx(await admin('PUT', `/sites/${siteId}/users/u1`, { email: 'u1@example.com' }), 201);
  expect2xx(await admin('PUT', `/sites/${siteId}/users/u1`, { name: 'Ada' }), 200);
  expect2xx(await admin('PUT', `/sites/${siteId}/users/u1/products/reports`, {}), 200);
  expect2xx(await admin('DELETE', `/sites/${siteId}/users/u1/products/reports`), 200);
  secrets.push(expect2xx(await admin('POST', `/sites/${siteId}/users/u1/sessions`), 201).body.sessionToken);
  expect2xx(await admin('DELETE', `/sites/${siteId}/users/u1/sessions`), 204);
  const scoped = expect2xx(
    await call('admin', 'POST', '/admin/v1/admin-tokens', { token: adminToken, body: { name: 'ops', environments: ['live'], role: 'write' } }),
    201,
  ).body;
  secrets.push(scoped.token);
  expect2xx(await admin('PATCH', `/sites/${siteId}`, { name: 'Shop 2' }, scoped.token), 200);

  // The browser's story, and two refusals with what they are logged with.
  const goodIdentity = await identityToken(rotated.identitySecret, 'visitor');
  secrets.push(goodIdentity);
  const signedIn = await call('live', 'POST', '/live_api/v1/sessions', {
    headers: { Origin: ORIGIN },
    body: { publishableKey: site.publishableKey, identityToken: goodIdentity },
  });
  expect(signedIn.status).toBe(201);
  secrets.push(signedIn.body.sessionToken);
  const minted = await call('live', 'POST', '/live_api/v1/users/verification-token', { token: signedIn.body.sessionToken, headers: { Origin: ORIGIN } });
  expect(minted.status).toBe(200);
  secrets.push(minted.body.userVerificationToken);
  const exchanged = await call('live', 'POST', '/live_api/s2s/v1/users/verification', {
    headers: { 'X-API-KEY': key.apiKey },
    body: { userVerificationToken: minted.body.userVerificationToken },
  });
  expect(exchanged.body.isAuthenticated).toBe(true);
  const forgedIdentity = await identityToken(site.identitySecret, 'mallory');
  secrets.push(forgedIdentity);
  const refusedSignIn = await call('live', 'POST', '/live_api/v1/sessions', {
    headers: { Origin: ORIGIN },
    body: { publishableKey: site.publishableKey, identityToken: forgedIdentity },
  });
  expect([refusedSignIn.status, refusedSignIn.body.reason]).toEqual([401, 'bad_signature']);
  // Well-formed (its checksum right) but unknown: a refusal that takes a lookup, so it counts.
  const unknownKey = generateCredential('live', 'sk');
  for (let i = 0; i < 2; i++) {
    await call('live', 'POST', '/live_api/s2s/v1/users/verification', { headers: { 'X-API-KEY': unknownKey }, body: { userVerificationToken: 'x' } });
  }

  const rolled = expect2xx(await admin('POST', `/sites/${siteId}/api-keys/${key.keyId}/roll`, { expiresInSeconds: 0 }), 201).body;
  secrets.push(rolled.apiKey);
  expect2xx(await admin('DELETE', `/sites/${siteId}/api-keys/${rolled.keyId}`), 204);
  const rotation = expect2xx(await call('admin', 'POST', '/admin/v1/live/signing-keys/rotate', { token: adminToken }), 200).body;
  expect2xx(await admin('DELETE', `/sites/${siteId}/users/u1`), 204);
  expect2xx(await call('admin', 'DELETE', `/admin/v1/admin-tokens/${scoped.tokenId}`, { token: adminToken }), 204);
  const refusedAdmin = await admin('GET', '/sites', undefined, 'not-the-admin-token-at-all-but-long-enough');
  expect(refusedAdmin.status).toBe(401);

  // Metrics: sign-in outcomes by reason, rate-limit refusals by limit.
  const metrics = await fetch(`http://127.0.0.1:${ports.admin}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } }).then((r) => r.text());
  expect(metrics).toContain('verigate_sign_in_outcomes_total{environment="live",outcome="signed_in"} 1');
  expect(metrics).toContain('verigate_sign_in_outcomes_total{environment="live",outcome="bad_signature"} 1');
  expect(metrics).toContain('verigate_rate_limited_total{environment="live",limit="failed_api_keys_per_address"} 1');

  child.kill('SIGTERM');
  expect(await exited).toBe(0);

  // Every line of stdout, first to last, is a JSON object.
  const lines = stdout.split('\n');
  expect(lines.pop()).toBe('');
  const parsed = lines.map((line) => {
    const value = JSON.parse(line) as unknown;
    expect(value).toEqual(expect.any(Object));
    return value as Record<string, any>;
  });
  expect(parsed[0]?.msg).toBe('verigate started');
  expect(parsed.at(-1)?.msg).toBe('stopped');

  // The non-loopback ADMIN_HOST, on both streams.
  expect(parsed.find((l) => l.level === 'warn' && l.adminHost === '0.0.0.0')).toBeDefined();
  expect(stderr).toContain('ADMIN_HOST=0.0.0.0 is not a loopback address');

  // One audit line per mutation and reveal, in order, with who, from where, on what.
  const audit = parsed.filter((l) => l.audit === true);
  expect(audit.map((l) => l.action)).toEqual([
    'site.created',
    'api_key.created',
    'identity_secret.revealed',
    'identity_secret.rotated',
    'user.created',
    'user.updated',
    'user.product_access.changed',
    'user.product_access.changed',
    'session.created',
    'session.ended',
    'admin_token.created',
    'site.updated',
    'api_key.rolled',
    'api_key.revoked',
    'signing_key.rotated',
    'user.deleted',
    'admin_token.revoked',
  ]);
  for (const line of audit) {
    expect(line).toMatchObject({ level: 'info', clientAddress: '127.0.0.1', requestId: expect.any(String) });
    expect(line.actor).toBe(line.action === 'site.updated' ? scoped.tokenId : 'root');
    expect(line.environment).toBe(line.action.startsWith('admin_token.') ? null : 'live');
  }
  const byAction = (action: string) => audit.find((l) => l.action === action);
  expect(byAction('site.created')).toMatchObject({ created: { siteId } });
  expect(byAction('api_key.created')).toMatchObject({ siteId, created: { keyId: key.keyId, siteId } });
  expect(byAction('api_key.rolled')).toMatchObject({ siteId, keyId: key.keyId, created: { keyId: rolled.keyId } });
  expect(byAction('user.product_access.changed')).toMatchObject({ siteId, userId: 'u1', productId: 'reports' });
  expect(byAction('signing_key.rotated')).toMatchObject({ created: { kid: rotation.kid } });
  expect(byAction('admin_token.revoked')).toMatchObject({ tokenId: scoped.tokenId });

  // Refusals at info, with their code, and the site, reason and origin where known.
  const requests = parsed.filter((l) => l.msg === 'request');
  expect(requests.find((l) => l.code === 'invalid_identity_token')).toMatchObject({
    level: 'info',
    status: 401,
    siteId,
    reason: 'bad_signature',
    origin: ORIGIN,
    clientAddress: '127.0.0.1',
  });
  expect(requests.filter((l) => l.route === '/live_api/s2s/v1/users/verification' && l.status >= 400).map((l) => l.code)).toEqual([
    'invalid_api_key',
    'rate_limited',
  ]);
  expect(requests.find((l) => l.code === 'unauthorized')).toMatchObject({ level: 'info', status: 401, clientAddress: '127.0.0.1' });

  // Not one secret, anywhere in stdout.
  expect(secrets.filter((s) => typeof s !== 'string' || s.length < 20)).toEqual([]);
  for (const secret of secrets) expect(stdout.includes(secret)).toBe(false);
});
