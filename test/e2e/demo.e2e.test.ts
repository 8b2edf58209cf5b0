/**
 * The demo, end to end, in headless Chromium: the built gateway
 * (dist/main.js, embedded store, spawned by startDemo on free ports), the
 * customer app with the Node SDK, and the page with the browser SDK loaded
 * by a script tag from the gateway. Builds first when a build is missing or
 * older than its sources. Needs Debian's chromium (/usr/bin/chromium, or
 * CHROMIUM_PATH); .ci/run installs it.
 * The screenshot lands in test/artifacts/demo.png.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { staleBuild, startDemo, type RunningDemo } from '../../demo/demo';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '../artifacts');

jest.setTimeout(120_000);

/** What `npm run build` does, run only when the build is missing or stale. */
function buildIfStale(): void {
  if (staleBuild() === null) return;
  const root = resolve(__dirname, '../..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/build-sdk.js', '--if-stale'], { cwd: root, stdio: 'inherit' });
}

let demo: RunningDemo;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  buildIfStale();
  demo = await startDemo({ ports: { app: 0, live: 0, sandbox: 0, admin: 0 }, gatewayOutput: 'pipe' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

const text = (testId: string) => page.getByTestId(testId);

async function expectText(testId: string, expected: RegExp): Promise<void> {
  await page.waitForFunction(
    ([id, source]) => new RegExp(source as string).test(document.querySelector(`[data-testid="${id}"]`)?.textContent ?? ''),
    [testId, expected.source],
    { timeout: 10_000 },
  ).catch(async () => {
    throw new Error(`[data-testid=${testId}] is ${JSON.stringify(await text(testId).textContent())}, expected ${expected}\n` +
      `page errors: ${pageErrors.join(' | ')}\ngateway: ${demo.gatewayOutput()}`);
  });
}

it('signs in, calls the protected route, signs out, and is refused', async () => {
  await page.goto(demo.appUrl);
  await expectText('status', /^anonymous$/);
  expect(await page.evaluate(() => typeof (window as unknown as { Verigate?: unknown }).Verigate)).toBe('object');

  await text('sign-in').click();
  await expectText('status', /signed in as Ada Lovelace/);
  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('verigate.session.')));
  expect(stored).toHaveLength(1);

  await text('call-protected').click();
  await expectText('protected-status', /\/api\/reports: 200 verified/);
  await expectText('verified-user', /Ada Lovelace <ada@example\.com> \(userId ada\)/);
  await expectText('product-access', /Product access: reports/);

  await text('call-analytics').click();
  await expectText('protected-status', /\/api\/analytics: 403 refused \(product_access_required\)/);

  // Survives a reload: the session token is in localStorage.
  await page.reload();
  await expectText('status', /signed in as Ada Lovelace/);
  await text('call-protected').click();
  await expectText('protected-status', /200 verified/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, 'demo.png'), fullPage: true });

  await text('sign-out').click();
  await expectText('status', /^anonymous$/);
  expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('verigate.session.')))).toEqual([]);

  await text('call-protected').click();
  await expectText('protected-status', /\/api\/reports: 401 refused \(not_authenticated: missing_token\)/);
  await expectText('verified-user', /^$/);

  // The token held from before sign-out is dead too.
  await text('replay-token').click();
  await expectText('protected-status', /401 refused \(not_authenticated: session_ended\)/);
  await page.screenshot({ path: resolve(ARTIFACTS, 'demo-signed-out.png'), fullPage: true });
  expect(pageErrors.filter((e) => !/401|403/.test(e))).toEqual([]);
});
