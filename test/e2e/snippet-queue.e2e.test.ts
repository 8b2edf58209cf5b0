/**
 * The snippet queue (SPEC §14), in Chromium against a real gateway on real
 * Redis: a page defines README's two-line snippet, calls
 * `verigate('on' | 'identify' | 'resetUser' | 'init', …)` before the script
 * tag that loads /sdk/v1/verigate.js (async, from the gateway), and the SDK
 * replays those calls in the order they were made; afterwards
 * `verigate(…)` calls the SDK directly. The snippet is read from README.md,
 * so the README's copy is the one proven to work.
 */
import { execFileSync } from 'node:child_process';
import { createSecretKey, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/console-browser';
import { adminClient, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { freePort } from '../support/ports';

const ROOT = resolve(__dirname, '../..');

jest.setTimeout(60_000);

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let pages: Server;
let origin: string;
let browser: Browser;
/** The HTML each path of the page server answers with. */
const html = new Map<string, string>();

/** The two lines README.md gives, between `<!-- snippet-queue -->` and the end of its code block. */
function readmeSnippet(): string {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- snippet-queue -->');
  if (at < 0) throw new Error('README.md has no <!-- snippet-queue --> block');
  const block = /```html\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error('README.md: no html block after <!-- snippet-queue -->');
  return block[1];
}

/** README's snippet with this test's gateway and key in place of its placeholders. */
function snippet(attributes = `data-verigate-key="${site.publishableKey}"`): string {
  const lines = readmeSnippet()
    .replace('https://api.example.com', gw.urls.sandbox)
    .replace(/data-verigate-key="[^"]*"/, attributes);
  expect(lines).toContain(`src="${gw.urls.sandbox}/sdk/v1/verigate.js"`);
  return lines;
}

function identityToken(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
}

/**
 * A page whose inline script runs `calls` (JavaScript) before the SDK's
 * script tag; `window.seen` records every userChange, and `window.before`
 * what the page saw when it made its calls.
 */
function page(path: string, calls: string, snippetHtml = snippet()): string {
  const [definition, scriptTag] = splitSnippet(snippetHtml);
  html.set(
    path,
    `<!doctype html><meta charset="utf-8"><title>snippet</title>
${definition}
<script>
window.seen = [];
window.before = { sdk: typeof window.Verigate };
${calls}
window.before.queued = window.verigate.q.length;
</script>
${scriptTag}`,
  );
  return `${origin}${path}`;
}

/** README's snippet is the definition (an inline script) and the async script tag. */
function splitSnippet(lines: string): [string, string] {
  const at = lines.indexOf('<script async');
  expect(at).toBeGreaterThan(0);
  return [lines.slice(0, at).trim(), lines.slice(at).trim()];
}

async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const p = await context.newPage();
  const errors: string[] = [];
  p.on('pageerror', (err) => errors.push(`uncaught ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${msg.text()} ${msg.location().url}`);
  });
  await p.goto(url);
  return { page: p, errors };
}

const seenUsers = (p: Page, count: number) =>
  p.waitForFunction((n) => (window as unknown as { seen: unknown[] }).seen.length >= n, count, { timeout: 15_000 }).then(() =>
    p.evaluate(() => (window as unknown as { seen: unknown[] }).seen),
  );

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-sdk.js', 'browser', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  gw = await startGateway();
  admin = adminClient(gw, 'sandbox');
  const port = await freePort();
  origin = `http://localhost:${port}`;
  site = await admin.provisionSite({ name: 'Snippet shop', allowedOrigins: [origin] });
  for (const userId of ['ada', 'grace']) await admin.putUser(site.siteId, userId, { name: userId });
  pages = createServer((req, res) => {
    const path = new URL(req.url ?? '/', origin).pathname;
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const body = html.get(path);
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' }).end(body ?? 'not found');
  });
  await new Promise<void>((done) => pages.listen(port, '127.0.0.1', done));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  if (pages) await new Promise((done) => pages.close(done));
  await gw?.close();
});

it('replays calls made before the script tag in order, then calls the SDK directly', async () => {
  const [ada, grace] = [await identityToken({ sub: 'ada' }), await identityToken({ sub: 'grace' })];
  const { page: p, errors } = await open(
    page(
      '/order',
      `verigate('on', 'userChange', function (user) { window.seen.push(user ? user.userId : null); });
       verigate('identify', { token: ${JSON.stringify(ada)} });
       verigate('resetUser');
       verigate('identify', { token: ${JSON.stringify(grace)} });`,
    ),
  );
  // Signed in as Ada, signed out, signed in as Grace: the queue's order, each step seen by the queued listener.
  expect(await seenUsers(p, 3)).toEqual(['ada', null, 'grace']);
  expect(await p.evaluate(() => (window as unknown as { before: unknown }).before)).toEqual({ sdk: 'undefined', queued: 4 });
  expect(await p.evaluate(() => (window as unknown as { Verigate: { user: { userId: string } | null } }).Verigate.user?.userId)).toBe('grace');
  // The resetUser between the two sign-ins ended Ada's session at the gateway.
  const adaSessions = await admin.call('get', `/sites/${site.siteId}/users/ada/sessions`);
  expect(adaSessions.body.sessions).toEqual([]);

  // Loaded: the function is the SDK's (no queue), and a call returns what the SDK method returns.
  const token = await p.evaluate(async () => {
    const verigate = (window as unknown as { verigate: ((command: string) => Promise<string | null>) & { q?: unknown } }).verigate;
    return { q: typeof verigate.q, token: await verigate('getUserVerificationToken') };
  });
  expect(token.q).toBe('undefined');
  const verified = await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: token.token });
  expect(verified.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'grace' } });

  await p.evaluate(() => (window as unknown as { verigate: (command: string) => Promise<void> }).verigate('resetUser'));
  expect(await seenUsers(p, 4)).toEqual(['ada', null, 'grace', null]);
  const ended = await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: token.token });
  expect(ended.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
  expect(errors).toEqual([]);
  await p.context().close();
});

it('a queued call that fails is reported on the console, and the calls after it still run', async () => {
  const ada = await identityToken({ sub: 'ada' });
  const { page: p, errors } = await open(
    page(
      '/failures',
      `verigate('on', 'userChange', function (user) { window.seen.push(user ? user.userId : null); });
       verigate('nonsense', 1);
       verigate('identify', { token: 'not-a-jwt' });
       verigate('identify', { token: ${JSON.stringify(ada)} });`,
    ),
  );
  expect(await seenUsers(p, 1)).toEqual(['ada']);
  expect(errors.filter((e) => e.includes('unknown command "nonsense"'))).toHaveLength(1);
  // The refused token is the SDK's usual non-throwing refusal, then the good one signs in.
  expect(await p.evaluate(() => (window as unknown as { Verigate: { lastError: unknown } }).Verigate.lastError)).toBeNull();
  await expect(
    p.evaluate(() => (window as unknown as { verigate: (command: string) => unknown }).verigate('nonsense')),
  ).rejects.toThrow(/unknown command "nonsense"/);
  await p.context().close();
});

it("a page without data-verigate-key configures the SDK through a queued 'init'", async () => {
  const grace = await identityToken({ sub: 'grace' });
  const { page: p, errors } = await open(
    page(
      '/init',
      `verigate('init', { publishableKey: ${JSON.stringify(site.publishableKey)} });
       verigate('on', 'userChange', function (user) { window.seen.push(user ? user.userId : null); });
       verigate('identify', ${JSON.stringify(grace)});`,
      snippet(''),
    ),
  );
  expect(await seenUsers(p, 1)).toEqual(['grace']);
  // Without data-verigate-base-url, the SDK talks to the gateway it was loaded from.
  expect(await p.evaluate(() => (window as unknown as { Verigate: { baseUrl: string } }).Verigate.baseUrl)).toBe(gw.urls.sandbox);
  expect(errors).toEqual([]);
  await p.context().close();
});
