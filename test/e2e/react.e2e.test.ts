/**
 * `@verigate/react` in a Vite-built page (test/e2e/react-page, React 19 in
 * StrictMode), driven in Chromium against a real gateway on real Redis.
 * The page imports the package by name, so Vite bundles its build
 * (packages/react/dist, built here when stale), as a customer's app would.
 * The page's backend (test/support/react-page.ts) hands out the public values
 * and identity tokens; the test exchanges the page's verification token at
 * the gateway with the site's API key.
 */
import { execFileSync } from 'node:child_process';
import { createSecretKey, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/console-browser';
import { adminClient, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { buildReactPage, REACT_PAGE_DIR, serveReactPages, type ReactPageServer } from '../support/react-page';

const ROOT = resolve(__dirname, '../..');

jest.setTimeout(90_000);

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let out: string;
let pages: ReactPageServer;
let browser: Browser;
/** Who the page's backend says is signed in when the page loads. */
let visitor: string | null = 'ada';
/** Every sign-in request the gateway got from the page. */
let signIns: number;

function identityToken(userId: string): Promise<string> {
  return new SignJWT({ name: userId === 'ada' ? 'Ada' : 'Grace' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
}

beforeAll(async () => {
  // The packages as the page's bundler resolves them: their builds.
  execFileSync(process.execPath, ['scripts/build-sdk.js', 'browser', 'react', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  out = mkdtempSync(join(tmpdir(), 'verigate-react-page-'));
  await buildReactPage({ viteBin: join(ROOT, 'node_modules/vite/bin/vite.js'), root: REACT_PAGE_DIR, outDir: out });

  gw = await startGateway();
  admin = adminClient(gw, 'sandbox');
  pages = await serveReactPages({
    builds: { react19: out },
    config: async () => ({ publishableKey: site.publishableKey, baseUrl: gw.urls.sandbox, identityToken: visitor ? await identityToken(visitor) : null }),
    identityToken,
  });
  site = await admin.provisionSite({ name: 'React shop', allowedOrigins: [pages.origin] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await pages?.close();
  await gw?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

async function open(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  signIns = 0;
  page.on('pageerror', (err) => errors.push(`uncaught ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${msg.text()} ${msg.location().url}`);
  });
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === `${gw.urls.sandbox}/live_api/v1/sessions`) signIns += 1;
  });
  await page.goto(pages.url('react19'));
  return { page, errors };
}

/** Clicks "Get token" and exchanges what the page shows at the gateway. */
async function exchangePageToken(page: Page): Promise<{ token: string; body: Record<string, unknown> }> {
  await page.evaluate(() => ((document.querySelector('#token') as HTMLElement).textContent = ''));
  await page.getByRole('button', { name: 'Get token' }).click();
  await page.waitForFunction(() => (document.querySelector('#token')?.textContent ?? '') !== '', undefined, { timeout: 15_000 });
  const token = (await page.locator('#token').textContent()) ?? '';
  return { token, body: (await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: token })).body };
}

it('signs in with the identity token prop once (StrictMode), renders the user, and its verification token is verified', async () => {
  visitor = 'ada';
  const { page, errors } = await open();
  await page.getByText('Signed in as Ada').waitFor({ timeout: 15_000 });
  expect(await page.locator('#react').textContent()).toMatch(/^React 19\./);
  // StrictMode runs the provider's effects twice: the token was still presented once (a second
  // presentation would be refused as replayed and leave the visitor anonymous).
  expect(signIns).toBe(1);
  const { body } = await exchangePageToken(page);
  expect(body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'ada', name: 'Ada' } });
  // A child that asked for a token as it mounted (before the provider's effects ran) got Ada's too.
  type Early = { calls: number; results: string[] };
  await page.waitForFunction(() => {
    const early = (window as unknown as { early?: Early }).early;
    return early !== undefined && early.results.length === early.calls;
  }, undefined, { timeout: 15_000 });
  const early = await page.evaluate(() => (window as unknown as { early: Early }).early);
  expect(early.calls).toBeGreaterThan(0);
  for (const result of early.results) {
    expect((await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: result })).body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'ada' } });
  }
  expect(errors).toEqual([]);
  await page.context().close();
});

it('re-renders on every userChange: a new identity token switches the user, null signs out', async () => {
  visitor = 'ada';
  const { page, errors } = await open();
  await page.getByText('Signed in as Ada').waitFor({ timeout: 15_000 });
  const ada = await exchangePageToken(page);

  await page.getByRole('button', { name: 'Switch to Grace' }).click();
  await page.getByText('Signed in as Grace').waitFor({ timeout: 15_000 });
  const grace = await exchangePageToken(page);
  expect(grace.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'grace' } });
  // One visitor, one session: Ada's ended when Grace signed in.
  expect((await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: ada.token })).body).toMatchObject({ reason: 'session_ended' });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('Not signed in').waitFor({ timeout: 15_000 });
  expect((await exchange(gw, 'sandbox', site.apiKey, { userVerificationToken: grace.token })).body).toMatchObject({ reason: 'session_ended' });
  // Nobody signed in: the hook's function resolves null.
  await page.getByRole('button', { name: 'Get token' }).click();
  await page.getByText('none', { exact: true }).waitFor({ timeout: 15_000 });
  expect(errors).toEqual([]);
  await page.context().close();
});

it('without an identity token prop, a reload keeps the session this browser has', async () => {
  visitor = 'grace';
  const { page } = await open();
  await page.getByText('Signed in as Grace').waitFor({ timeout: 15_000 });
  visitor = null;
  // The backend now renders no token at all (null would sign out): the page is told nothing...
  await page.route('**/config.json', (route) =>
    route.fulfill({ json: { publishableKey: site.publishableKey, baseUrl: gw.urls.sandbox } }),
  );
  await page.reload();
  // ...and the provider restores the stored session: still Grace, with no new sign-in.
  await page.getByText('Signed in as Grace').waitFor({ timeout: 15_000 });
  expect(signIns).toBe(1);
  const { body } = await exchangePageToken(page);
  expect(body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'grace' } });
  await page.context().close();
});

it("a misconfigured publishable key is thrown to the page's error boundary", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // A secret key where the publishable key belongs: refused before anything is sent.
  await page.route('**/config.json', (route) =>
    route.fulfill({ json: { publishableKey: site.apiKey, baseUrl: gw.urls.sandbox, identityToken: null } }),
  );
  const sent: string[] = [];
  page.on('request', (req) => {
    if (req.url().startsWith(gw.urls.sandbox)) sent.push(req.url());
  });
  await page.goto(pages.url('react19'));
  await page.locator('#boundary').waitFor({ timeout: 15_000 });
  expect(await page.locator('#boundary').textContent()).toBe('invalid_publishable_key');
  expect(sent).toEqual([]);
  await context.close();
});
