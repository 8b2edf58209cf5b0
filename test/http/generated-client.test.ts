/**
 * openapi.yaml generates a correct client. As a customer would, in an
 * empty directory: generate the types with openapi-typescript, compile with
 * tsc a consumer that narrows the exchange's answer on `isAuthenticated`
 * (and the check a boolean must refuse, `=== 'true'`), and hold the types
 * against answers recorded here from a real gateway on real Redis: each
 * recorded body is compiled as a literal that must `satisfies` its generated
 * type (excess properties included), then the compiled consumer is run on
 * them and must take the right branch for each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { adminClient, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';

const ROOT = resolve(__dirname, '../..');
const EXCHANGE = "paths['/live_api/s2s/v1/users/verification']['post']['responses']";

jest.setTimeout(120_000);

let gw: TestGateway;
let dir: string;

/** Each recorded answer: its name, the generated type it must satisfy, the body, what the consumer must say. */
const recorded: { name: string; type: string; body: unknown; expected: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verigate-generated-client-'));
  gw = await startGateway();
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  const other = await admin.provisionSite({ name: 'Other shop' });
  await admin.putUser(site.siteId, 'ada', { email: 'ada@example.com', name: 'Ada', attributes: { plan: 'pro' }, productAccess: [{ productId: 'reports', expiresAt: null }] });
  const sessionToken = await admin.createSession(site.siteId, 'ada');
  const token = await verificationTokenFor(gw, 'live', sessionToken);
  const record = async (name: string, apiKey: string, body: Record<string, unknown>, status: number, type: string, expected: string) => {
    const res = await exchange(gw, 'live', apiKey, body);
    expect(res.status).toBe(status);
    recorded.push({ name, type, body: res.body, expected });
  };
  const ok = `${EXCHANGE}[200]['content']['application/json']`;
  await record('verified', site.apiKey, { userVerificationToken: token }, 200, ok, 'verified ada');
  await record('verifiedWithProduct', site.apiKey, { userVerificationToken: token, productId: 'reports' }, 200, ok, 'verified ada product=true');
  await record('verifiedWithoutProduct', site.apiKey, { userVerificationToken: token, productId: 'analytics' }, 200, ok, 'verified ada product=false');
  await record('malformed', site.apiKey, { userVerificationToken: 'nope' }, 200, ok, 'refused token_malformed');
  await record('wrongSite', other.apiKey, { userVerificationToken: token }, 200, ok, 'refused token_wrong_site');
  await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`);
  await record('sessionEnded', site.apiKey, { userVerificationToken: token }, 200, ok, 'refused session_ended');
  await record('invalidApiKey', `${site.apiKey.slice(0, -1)}x`, { userVerificationToken: token }, 401, `${EXCHANGE}[401]['content']['application/problem+json']`, 'error invalid_api_key');

  // The customer's side, in a directory of its own: no redocly.yaml, no node_modules, nothing of ours but openapi.yaml.
  const cli = join(dirname(require.resolve('openapi-typescript/package.json')), 'bin/cli.js');
  execFileSync(process.execPath, [cli, join(ROOT, 'openapi.yaml'), '-o', join(dir, 'schema.ts')], { cwd: dir, stdio: 'pipe' });
});

afterAll(async () => {
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const CONSUMER = `
import type { paths } from './schema';

export type ExchangeAnswer = ${EXCHANGE}[200]['content']['application/json'];
export type ExchangeProblem = ${EXCHANGE}[401]['content']['application/problem+json'];

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const isBoolean: Equal<ExchangeAnswer['isAuthenticated'], boolean> = true;

/** The obvious check: narrows to the verified answer, or to the refusal and its reason. */
export function describeAnswer(answer: ExchangeAnswer): string {
  if (answer.isAuthenticated) {
    const product = answer.hasProductAccess === undefined ? '' : \` product=\${answer.hasProductAccess}\`;
    return \`verified \${answer.userInfo.userId}\${product}\`;
  }
  const reason: 'token_malformed' | 'token_invalid' | 'token_expired' | 'token_wrong_environment' | 'token_wrong_site' | 'session_ended' | 'user_not_found' = answer.reason;
  const nobody: null = answer.userInfo;
  void nobody;
  return \`refused \${reason}\`;
}

export function describeProblem(problem: ExchangeProblem): string {
  return \`error \${problem.code}\`;
}

// What a discriminator on the boolean made generated clients require: it must not compile now.
// @ts-expect-error a boolean is never the string "true"
export const stringCheck = (answer: ExchangeAnswer): boolean => answer.isAuthenticated === 'true';

void isBoolean;
`;

function compile(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(
      process.execPath,
      [tsc, '--strict', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node10', '--outDir', join(dir, 'out'), '--rootDir', dir, ...Object.keys(files).map((f) => join(dir, f))],
      { cwd: dir, encoding: 'utf8', stdio: 'pipe' },
    );
  } catch (err) {
    throw new Error(`tsc refused the generated client:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
}

it('types isAuthenticated as a boolean that narrows, and every recorded server answer satisfies its generated type', () => {
  expect(recorded.map((r) => r.name)).toHaveLength(7);
  const answers = [
    "import type { paths } from './schema';",
    ...recorded.map((r) => `export const ${r.name} = ${JSON.stringify(r.body, null, 2)} as const satisfies ${r.type};`),
  ].join('\n\n');
  compile({ 'consumer.ts': CONSUMER, 'answers.ts': answers });

  const script = `
    const { describeAnswer, describeProblem } = require('./out/consumer.js');
    const answers = require('./out/answers.js');
    const said = {};
    for (const [name, body] of Object.entries(answers)) said[name] = 'code' in body ? describeProblem(body) : describeAnswer(body);
    process.stdout.write(JSON.stringify(said));
  `;
  const said = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })) as Record<string, string>;
  expect(said).toEqual(Object.fromEntries(recorded.map((r) => [r.name, r.expected])));
});

it('refuses a recorded answer with a member the schema does not have', () => {
  const verified = recorded.find((r) => r.name === 'verified');
  const tampered = { ...(verified?.body as object), role: 'admin' };
  expect(() =>
    compile({
      'tampered.ts': `import type { paths } from './schema';\nexport const tampered = ${JSON.stringify(tampered)} as const satisfies ${verified?.type};\n`,
    }),
  ).toThrow(/role/);
});
