/**
 * In Debian's Chromium (playwright-core), against an in-process gateway on
 * real Redis, the SDK loaded by a script tag from the gateway into a page of
 * another origin (http://localhost:<port>, a secure context):
 * - a login link (`?verigate_identity=<token>`, SPEC §14) signs in and the
 *   token is out of location.href, of what the next script sees, and of the
 *   history entry; the same link in another browser stays anonymous with
 *   reason `replayed` (SPEC §7), and in the same browser keeps its session;
 * - a reload with the same `data-verigate-identity` keeps the session that
 *   token opened and never presents the token again.
 */
import { execFileSync } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/console-browser';
import { adminClient, startGateway, type Provisioned, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

let gw: TestGateway;
let site: Provisioned;
let app: Server;
let appOrigin: string;
let browser: Browser;
/** What `/page` renders into data-verigate-identity. */
let renderedIdentity = '';

const escape = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-sdk.js', 'browser', '--if-stale'], { cwd: resolve(__dirname, '../..'), stdio: 'inherit' });
  app = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const identity = path === '/page' ? ` data-verigate-identity="${escape(renderedIdentity)}"` : '';
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`<!doctype html><html lang="en"><head><title>app</title>
<script src="${gw.urls.live}/sdk/v1/verigate.js" data-verigate-key="${site.publishableKey}" data-verigate-base-url="${gw.urls.live}"${identity}></script>
<script>window.seenByTheNextScript = location.href;</script>
</head><body><a id="next" href="/elsewhere">next</a></body></html>`);
  });
  await new Promise<void>((ok) => app.listen(0, '127.0.0.1', ok));
  appOrigin = `http://localhost:${(app.address() as AddressInfo).port}`;
  gw = await startGateway();
  site = await adminClient(gw, 'live').provisionSite({ allowedOrigins: [appOrigin] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await new Promise((ok) => app?.close(ok));
});

function identityToken(sub: string): Promise<string> {
  const now = Math.floor(gw.clock.now() / 1000);
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(createSecretKey(Buffer.from(site.identitySecret, 'utf8')));
}

/** A browser of its own (its own storage), counting the sign-ins its pages send. */
async function person(): Promise<{ context: BrowserContext; page: Page; signIns: () => number; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let signIns = 0;
  const errors: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/live_api/v1/sessions') signIns++;
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { context, page, signIns: () => signIns, errors };
}

/** The SDK's state once everything it queued is done. */
function sdkState(page: Page) {
  return page.evaluate(async () => {
    const v = (window as unknown as { Verigate: import('@verigate/browser').Verigate }).Verigate;
    await v.ready;
    return { userId: v.user?.userId ?? null, reason: v.lastError?.reason ?? null, code: v.lastError?.code ?? null };
  });
}

describe('login links', () => {
  it('sign in once: the token leaves the address and the history at once; another browser gets replayed', async () => {
    const token = await identityToken('linked');
    const link = `${appOrigin}/welcome?ref=mail&verigate_identity=${encodeURIComponent(token)}&utm=x#top`;

    const first = await person();
    await first.page.goto(link);
    expect(await sdkState(first.page)).toEqual({ userId: 'linked', reason: null, code: null });
    expect(await first.page.evaluate(() => location.href)).toBe(`${appOrigin}/welcome?ref=mail&utm=x#top`);
    // Taken out before the page's next script ran.
    expect(await first.page.evaluate(() => (window as unknown as { seenByTheNextScript: string }).seenByTheNextScript)).not.toContain(token);
    // Replaced, not pushed: the new tab's about:blank, then this page.
    expect(await first.page.evaluate(() => history.length)).toBe(2);
    // The history entry holds the cleaned address: back to it after leaving, no token; one more back, the blank tab.
    await first.page.click('#next');
    await first.page.waitForURL(`${appOrigin}/elsewhere`);
    await first.page.goBack();
    expect(first.page.url()).toBe(`${appOrigin}/welcome?ref=mail&utm=x#top`);
    expect(await sdkState(first.page)).toEqual({ userId: 'linked', reason: null, code: null });
    await first.page.goBack();
    expect(first.page.url()).toBe('about:blank');

    // The same link again in the same browser: the session it opened is kept, the token not sent again.
    await first.page.goto(link);
    expect(await sdkState(first.page)).toEqual({ userId: 'linked', reason: null, code: null });
    expect(first.signIns()).toBe(1);

    // Forwarded to someone else: the token has had its one sign-in.
    const second = await person();
    await second.page.goto(link);
    expect(await sdkState(second.page)).toEqual({ userId: null, reason: 'replayed', code: 'invalid_identity_token' });
    expect(await second.page.evaluate(() => location.href)).not.toContain('verigate_identity');
    expect(first.errors.concat(second.errors)).toEqual([]);
    await first.context.close();
    await second.context.close();
  });
});

describe('data-verigate-identity', () => {
  it('a reload with the same token keeps the session that token opened and never presents it again', async () => {
    renderedIdentity = await identityToken('rendered');
    const { context, page, signIns, errors } = await person();
    await page.goto(`${appOrigin}/page`);
    expect(await sdkState(page)).toEqual({ userId: 'rendered', reason: null, code: null });
    const session = await page.evaluate((key) => localStorage.getItem(key), `verigate.session.${site.publishableKey}`);
    for (let i = 0; i < 3; i++) {
      await page.reload();
      expect(await sdkState(page)).toEqual({ userId: 'rendered', reason: null, code: null });
    }
    expect(signIns()).toBe(1);
    expect(await page.evaluate((key) => localStorage.getItem(key), `verigate.session.${site.publishableKey}`)).toBe(session);
    expect(session).not.toContain(renderedIdentity.split('.')[2]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
