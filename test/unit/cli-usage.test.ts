/**
 * The CLI's own refusals, before anything is sent: usage mistakes exit 2,
 * an unreachable gateway exits 5 with the code `gateway_unreachable`.
 * What the gateway answers is tested against a real gateway in test/cli/.
 */
import { EXIT_CODES, exitCodeFor, runCli } from '../../src/cli/run';
import { freePort } from '../support/ports';

async function run(argv: string[], env: Record<string, string> = { VERIGATE_ADMIN_TOKEN: 'x'.repeat(32) }) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, env, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

it('prints the command list for --help and exits 0', async () => {
  const r = await run(['--help']);
  expect(r.code).toBe(EXIT_CODES.ok);
  expect(r.stdout).toMatch(/sites create .*\.env block/);
  for (const name of ['keys roll', 'keys revoke', 'users grant', 'users revoke', 'sessions end', 'tokens create', 'tokens revoke']) {
    expect(r.stdout).toContain(name);
  }
});

it('exits 2 with no arguments, on an unknown command, an unknown option and a bad value', async () => {
  expect((await run([])).code).toBe(EXIT_CODES.usage);
  const unknown = await run(['sites', 'explode']);
  expect(unknown.code).toBe(EXIT_CODES.usage);
  expect(unknown.stderr).toContain('unknown command "sites explode"');
  const option = await run(['keys', 'revoke', '--site', 's', '--key', 'k', '--force']);
  expect(option.code).toBe(EXIT_CODES.usage);
  expect(option.stderr).toMatch(/Unknown option '--force'/);
  const missing = await run(['keys', 'revoke', '--site', 's']);
  expect(missing.code).toBe(EXIT_CODES.usage);
  expect(missing.stderr).toContain('--key is required');
  const env = await run(['sites', 'list', '--env', 'staging']);
  expect(env.code).toBe(EXIT_CODES.usage);
  expect(env.stderr).toContain('--env must be live or sandbox');
  const date = await run(['users', 'grant', '--site', 's', '--user', 'u', '--product', 'p', '--expires-at', 'tomorrow']);
  expect(date.code).toBe(EXIT_CODES.usage);
  expect(date.stderr).toContain('--expires-at must be an ISO 8601 date-time');
});

it('exits 2 without VERIGATE_ADMIN_TOKEN or with a VERIGATE_ADMIN_URL that is not http(s)', async () => {
  const noToken = await run(['sites', 'list'], {});
  expect(noToken.code).toBe(EXIT_CODES.usage);
  expect(noToken.stderr).toContain('VERIGATE_ADMIN_TOKEN');
  const badUrl = await run(['sites', 'list'], { VERIGATE_ADMIN_TOKEN: 't', VERIGATE_ADMIN_URL: 'ftp://x' });
  expect(badUrl.code).toBe(EXIT_CODES.usage);
  expect(badUrl.stderr).toContain('VERIGATE_ADMIN_URL must be an http(s) URL');
});

it('exits 5 with gateway_unreachable when nothing listens, as text and as --json', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const text = await run(['sites', 'list'], { VERIGATE_ADMIN_TOKEN: 't', VERIGATE_ADMIN_URL: url });
  expect(text.code).toBe(EXIT_CODES.unavailable);
  expect(text.stderr).toMatch(/Could not reach the admin API at http:\/\/127\.0\.0\.1:\d+ .*\(gateway_unreachable\)/);
  const json = await run(['sites', 'list', '--json'], { VERIGATE_ADMIN_TOKEN: 't', VERIGATE_ADMIN_URL: url });
  expect(json.code).toBe(EXIT_CODES.unavailable);
  expect(json.stdout).toBe('');
  expect(JSON.parse(json.stderr)).toMatchObject({ status: 0, code: 'gateway_unreachable' });
});

it('maps the gateway status to the exit code', () => {
  expect(exitCodeFor({ status: 404, code: 'site_not_found' })).toBe(EXIT_CODES.notFound);
  expect(exitCodeFor({ status: 401, code: 'unauthorized' })).toBe(EXIT_CODES.denied);
  expect(exitCodeFor({ status: 403, code: 'forbidden' })).toBe(EXIT_CODES.denied);
  expect(exitCodeFor({ status: 503, code: 'store_unavailable' })).toBe(EXIT_CODES.unavailable);
  expect(exitCodeFor({ status: 429, code: 'rate_limited' })).toBe(EXIT_CODES.unavailable);
  expect(exitCodeFor({ status: 400, code: 'invalid_request' })).toBe(EXIT_CODES.refused);
});
