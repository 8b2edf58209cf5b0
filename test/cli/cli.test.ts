/**
 * The `verigate` CLI against a real gateway (in-process, real Redis): what
 * it prints, `--json`, and exit codes and messages that carry the server's
 * error `code`. Most runs call runCli in-process (the same function the
 * bin runs); two run the bin itself as a child process.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { EXIT_CODES, runCli } from '../../src/cli/run';
import { checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';

const execFileAsync = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

let gw: TestGateway;
let env: Record<string, string>;

beforeAll(async () => {
  gw = await startGateway();
  env = { VERIGATE_ADMIN_URL: gw.urls.admin, VERIGATE_ADMIN_TOKEN: gw.adminToken };
});
afterAll(() => gw.close());

async function cli(argv: string[], overrides: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { ...env, ...overrides }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** A `.env` block as a map. */
function dotenv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('sites create', () => {
  it('prints a ready .env block whose credentials work', async () => {
    const r = await cli(['sites', 'create', '--env', 'sandbox', '--name', 'CLI Shop', '--origin', 'https://shop.example', '--origin', 'https://www.shop.example']);
    expect([r.code, r.stderr]).toEqual([EXIT_CODES.ok, '']);
    const vars = dotenv(r.stdout);
    expect(Object.keys(vars)).toEqual([
      'VERIGATE_BASE_URL',
      'VERIGATE_SITE_ID',
      'VERIGATE_PUBLISHABLE_KEY',
      'VERIGATE_API_KEY',
      'VERIGATE_IDENTITY_SECRET',
    ]);
    expect(vars.VERIGATE_BASE_URL).toBe('https://api-sandbox.verigate.test');
    expect(vars.VERIGATE_PUBLISHABLE_KEY).toMatch(/^vg_sandbox_pk_/);
    expect(vars.VERIGATE_IDENTITY_SECRET).toMatch(/^vg_sandbox_is_/);
    const res = await exchange(gw, 'sandbox', vars.VERIGATE_API_KEY, { userVerificationToken: 'x' });
    expect(res.status).toBe(200);
    const site = checked(await gw.http('admin').get(`/admin/v1/sandbox/sites/${vars.VERIGATE_SITE_ID}`).set('Authorization', `Bearer ${gw.adminToken}`));
    expect(site.body).toMatchObject({ name: 'CLI Shop', allowedOrigins: ['https://shop.example', 'https://www.shop.example'] });
  });

  it('--json prints the site, the key and the .env values as one object', async () => {
    const r = await cli(['sites', 'create', '--env', 'live', '--name', 'JSON Shop', '--json']);
    expect(r.code).toBe(EXIT_CODES.ok);
    const body = JSON.parse(r.stdout);
    expect(body.site).toMatchObject({ name: 'JSON Shop', environment: 'live' });
    expect(body.apiKey.apiKey).toMatch(/^vg_live_sk_/);
    expect(body.env.VERIGATE_BASE_URL).toBe('https://api.verigate.test');
  });

  it('a server refusal exits 1 with the code in the message; as --json, the problem on stderr', async () => {
    const r = await cli(['sites', 'create', '--env', 'live', '--name', 'Star', '--origin', '*']);
    expect(r.code).toBe(EXIT_CODES.refused);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^verigate: allowedOrigins may contain "\*" only in sandbox \(HTTP 400, invalid_request request [\w-]+\)\n  allowedOrigins: /);
    const j = await cli(['sites', 'create', '--env', 'live', '--name', 'Star', '--origin', 'ftp://x', '--json']);
    expect(j.code).toBe(EXIT_CODES.refused);
    expect(JSON.parse(j.stderr)).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});

describe('keys, users, sessions', () => {
  let siteId: string;
  let keyId: string;

  beforeAll(async () => {
    const made = JSON.parse((await cli(['sites', 'create', '--name', 'Keys', '--json'])).stdout);
    siteId = made.site.siteId;
    keyId = made.apiKey.keyId;
    checked(await gw.http('admin').put(`/admin/v1/sandbox/sites/${siteId}/users/ada`).set('Authorization', `Bearer ${gw.adminToken}`).send({ email: 'ada@example.com' }));
  });

  it('keys create, roll and revoke, each secret shown once; the revoked key is refused', async () => {
    const created = await cli(['keys', 'create', '--site', siteId, '--name', 'worker']);
    expect(created.code).toBe(0);
    const key = created.stdout.trim().split('\n').pop() as string;
    expect(key).toMatch(/^vg_sandbox_sk_[0-9A-Za-z]{38}$/);
    const rolled = await cli(['keys', 'roll', '--site', siteId, '--key', keyId, '--expires-in', '0', '--json']);
    expect(rolled.code).toBe(0);
    const body = JSON.parse(rolled.stdout);
    expect(body.apiKey).toMatch(/^vg_sandbox_sk_/);
    expect(body.previousKey.keyId).toBe(keyId);
    const listed = await cli(['keys', 'list', '--site', siteId]);
    expect(listed.stdout).toContain(body.keyId);
    expect(listed.stdout).not.toContain(body.apiKey);
    const revoked = await cli(['keys', 'revoke', '--site', siteId, '--key', body.keyId]);
    expect([revoked.code, revoked.stdout]).toEqual([0, `Revoked API key ${body.keyId} of ${siteId}.\n`]);
    expect((await exchange(gw, 'sandbox', body.apiKey, { userVerificationToken: 'x' })).body.code).toBe('invalid_api_key');
  });

  it('users get, grant (with expiry) and revoke', async () => {
    const until = new Date(gw.clock.now() + 86_400_000).toISOString();
    const granted = await cli(['users', 'grant', '--site', siteId, '--user', 'ada', '--product', 'reports', '--expires-at', until]);
    expect(granted.code).toBe(0);
    expect(granted.stdout).toContain(`reports (until ${until})`);
    const got = JSON.parse((await cli(['users', 'get', '--site', siteId, '--user', 'ada', '--json'])).stdout);
    expect(got.productAccess).toEqual([{ productId: 'reports', expiresAt: until }]);
    const past = await cli(['users', 'grant', '--site', siteId, '--user', 'ada', '--product', 'old', '--expires-at', '2001-01-01T00:00:00Z']);
    expect(past.code).toBe(EXIT_CODES.refused);
    expect(past.stderr).toMatch(/in the past \(HTTP 400, invalid_request/);
    const revoked = await cli(['users', 'revoke', '--site', siteId, '--user', 'ada', '--product', 'reports', '--json']);
    expect(JSON.parse(revoked.stdout).productAccess).toEqual([]);
  });

  it('sessions end signs the user out everywhere', async () => {
    const created = checked(
      await gw.http('admin').post(`/admin/v1/sandbox/sites/${siteId}/users/ada/sessions`).set('Authorization', `Bearer ${gw.adminToken}`),
    );
    const token = await verificationTokenFor(gw, 'sandbox', created.body.sessionToken);
    const r = await cli(['sessions', 'end', '--site', siteId, '--user', 'ada']);
    expect([r.code, r.stdout]).toEqual([0, `Ended every session of ada on ${siteId}.\n`]);
    const key = JSON.parse((await cli(['keys', 'create', '--site', siteId, '--name', 'check', '--json'])).stdout).apiKey;
    expect((await exchange(gw, 'sandbox', key, { userVerificationToken: token })).body.reason).toBe('session_ended');
  });

  it('exits 3 with the not-found code for an unknown site, user or key', async () => {
    for (const [argv, code] of [
      [['users', 'get', '--site', 'site_nope', '--user', 'ada'], 'site_not_found'],
      [['users', 'get', '--site', siteId, '--user', 'nobody'], 'user_not_found'],
      [['keys', 'revoke', '--site', siteId, '--key', 'key_nope'], 'api_key_not_found'],
      [['tokens', 'revoke', '--token-id', 'admtok_nope'], 'not_found'],
    ] as const) {
      const r = await cli([...argv]);
      expect([argv.join(' '), r.code]).toEqual([argv.join(' '), EXIT_CODES.notFound]);
      expect(r.stderr).toContain(`HTTP 404, ${code}`);
    }
  });
});

describe('tokens', () => {
  it('create, use and revoke a scoped token; it is forbidden outside its scope (exit 4)', async () => {
    const site = JSON.parse((await cli(['sites', 'create', '--name', 'Scoped', '--json'])).stdout).site;
    const made = await cli(['tokens', 'create', '--name', 'agency', '--env', 'sandbox', '--site', site.siteId, '--role', 'read', '--json']);
    expect(made.code).toBe(0);
    const { token, tokenId } = JSON.parse(made.stdout);
    expect(token).toMatch(/^vg_admin_/);
    const scoped = { VERIGATE_ADMIN_TOKEN: token };
    const mine = await cli(['sites', 'list', '--json'], scoped);
    expect(JSON.parse(mine.stdout).sites.map((s: { siteId: string }) => s.siteId)).toEqual([site.siteId]);
    const write = await cli(['keys', 'create', '--site', site.siteId, '--name', 'x'], scoped);
    expect(write.code).toBe(EXIT_CODES.denied);
    expect(write.stderr).toMatch(/may read only \(role read\) \(HTTP 403, forbidden/);
    const escalate = await cli(['tokens', 'create', '--name', 'x', '--env', 'sandbox', '--role', 'write'], scoped);
    expect([escalate.code, /HTTP 403, forbidden/.test(escalate.stderr)]).toEqual([EXIT_CODES.denied, true]);
    const listed = await cli(['tokens', 'list']);
    expect(listed.stdout).toContain(tokenId);
    expect((await cli(['tokens', 'revoke', '--token-id', tokenId])).code).toBe(0);
    const after = await cli(['sites', 'list'], scoped);
    expect(after.code).toBe(EXIT_CODES.denied);
    expect(after.stderr).toContain('HTTP 401, unauthorized');
  });
});

describe('the bin, as a process', () => {
  const bin = (args: string[], extra: Record<string, string> = {}) =>
    execFileAsync(process.execPath, [require.resolve('tsx/cli'), 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env, ...extra },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('exits 0 and prints the .env block on stdout only', async () => {
    const r = await bin(['sites', 'create', '--name', 'From the shell']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^# verigate sandbox site "From the shell" \(site_\w+\)/);
    expect(dotenv(r.stdout).VERIGATE_API_KEY).toMatch(/^vg_sandbox_sk_/);
  });

  it('exits 4 with the server’s code for a wrong token', async () => {
    const r = await bin(['sites', 'list'], { VERIGATE_ADMIN_TOKEN: 'wrong' });
    expect(r.code).toBe(EXIT_CODES.denied);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^verigate: Send Authorization: Bearer <admin token> \(HTTP 401, unauthorized request [\w-]+\)\n$/);
  });
});
