/**
 * The admin console in Debian's Chromium (playwright-core), driven as a
 * person would: by role and accessible name. A real in-process gateway on
 * real Redis serves it (the build of scripts/build-console.js); what the
 * console does is checked against the gateway itself (exchanges, sign-ins).
 * Every page is scanned with axe-core (no serious or critical finding), no
 * page logs an error beyond the refusals a step provokes on purpose, and a
 * screenshot of each page is kept in test/artifacts/console/.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { buildConsoleAssets, openConsoleBrowser, type ConsoleBrowser } from '../support/console-browser';
import { pollUntil } from '../support/poll';

jest.setTimeout(120_000);

let gw: TestGateway;
let assets: ReturnType<typeof buildConsoleAssets>;
let browser: ConsoleBrowser;

beforeAll(async () => {
  assets = buildConsoleAssets();
  gw = await startGateway({ consoleAssetsDir: assets.dir });
  browser = await openConsoleBrowser(gw.urls.admin);
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  assets?.remove();
});

/** Refusals a step provokes on purpose: Chromium logs each failed fetch as a console error. */
const FAILED_FETCH = /Failed to load resource: the server responded with a status of (\d{3})/;

function unexpectedErrors(errors: readonly string[], allowedStatuses: readonly number[]): string[] {
  return errors.filter((e) => {
    const m = FAILED_FETCH.exec(e);
    return !(m && allowedStatuses.includes(Number(m[1])));
  });
}

async function scanned(name: string, page: Page = browser.page): Promise<void> {
  const findings = await browser.scan(name, page);
  expect([name, findings]).toEqual([name, []]);
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/console/');
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

async function identityToken(secret: string, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(gw.clock.now() / 1000);
  return new SignJWT({ jti: randomUUID(), ...claims, iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(createSecretKey(Buffer.from(secret, 'utf8')));
}

it('a person administers a sandbox site end to end, then sees none of it in live', async () => {
  const page = browser.page;
  await page.goto('/console/');
  await page.getByRole('heading', { name: 'Sign in to the verigate console' }).waitFor();
  await scanned('sign-in');

  // A wrong token is refused, in words and with the code.
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').textContent()).resolves.toMatch(/Sign-in refused: .*unauthorized/);

  await page.getByLabel('Admin token').fill(gw.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview of sandbox', level: 1 }).waitFor();
  expect(await page.getByRole('radio', { name: 'Sandbox' }).isChecked()).toBe(true);
  // The token is in no storage the page can read.
  const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  expect(stored).not.toContain(gw.adminToken);
  expect(stored).not.toContain('vg_console');
  await scanned('overview');

  // Create a site.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sites' }).click();
  await page.getByRole('heading', { name: 'Sites', level: 1 }).waitFor();
  await page.getByLabel('Name').fill('Console Shop');
  await page.getByLabel('Allowed origins').fill('https://shop.example');
  await page.getByRole('button', { name: 'Create site' }).click();
  await page.getByRole('heading', { name: 'Console Shop', level: 1 }).waitFor();
  const siteId = (await page.locator('dt:text("Site id") + dd').textContent())?.trim() as string;
  expect(siteId).toMatch(/^site_/);
  await scanned('site');

  // Create an API key: shown once, in a dialog with Copy; it works at once.
  await page.getByLabel('Key name').fill('backend');
  await page.getByRole('button', { name: 'Create API key' }).click();
  const created = page.getByRole('dialog', { name: 'API key backend created' });
  const apiKey = await created.getByLabel('API key').inputValue();
  expect(apiKey).toMatch(/^vg_sandbox_sk_[0-9A-Za-z]{38}$/);
  await created.getByRole('button', { name: 'Copy' }).click();
  await created.getByText('Copied to the clipboard').waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(apiKey);
  await scanned('api-key-created');
  await created.getByRole('button', { name: 'Done' }).click();
  expect(await page.getByRole('button', { name: 'Create API key' }).evaluate((el) => el === document.activeElement)).toBe(true);
  expect(await page.content()).not.toContain(apiKey);
  const works = async (key: string) => (await exchange(gw, 'sandbox', key, { userVerificationToken: 'x' })).status;
  expect(await works(apiKey)).toBe(200);

  // Roll it (the old key keeps working for an hour), then revoke the new one.
  const row = page.getByRole('row', { name: /backend/ });
  await row.getByRole('button', { name: 'Roll' }).click();
  const roll = page.getByRole('dialog', { name: 'Roll API key backend' });
  await roll.getByLabel('The old key keeps working for').selectOption({ label: '1 hour' });
  await roll.getByRole('button', { name: 'Roll' }).click();
  const rolledDialog = page.getByRole('dialog', { name: 'API key backend rolled' });
  const rolled = await rolledDialog.getByLabel('New API key').inputValue();
  expect(rolled).not.toBe(apiKey);
  await rolledDialog.getByRole('button', { name: 'Done' }).click();
  expect([await works(apiKey), await works(rolled)]).toEqual([200, 200]);
  await expect(page.getByRole('row', { name: /backend/ }).count()).resolves.toBe(2);
  const newRow = page.getByRole('row', { name: new RegExp(`backend .*${rolled.slice(-4)}`) });
  await newRow.getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('alertdialog', { name: 'Revoke API key backend?' }).getByRole('button', { name: 'Revoke' }).click();
  await newRow.getByText(/^Revoked/).waitFor();
  expect(await works(rolled)).toBe(401);

  // Reveal the identity secret, then rotate it without grace: the old one signs nobody in any more.
  await page.getByRole('button', { name: 'Reveal identity secret' }).click();
  const revealed = page.getByRole('dialog', { name: 'Identity secret' });
  const oldSecret = await revealed.getByLabel('Identity secret').inputValue();
  expect(oldSecret).toMatch(/^vg_sandbox_is_[0-9A-Za-z]{43}$/);
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Rotate identity secret' }).click();
  const rotate = page.getByRole('alertdialog', { name: 'Rotate the identity secret?' });
  expect(await rotate.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement)).toBe(true);
  await scanned('rotate-identity-secret');
  await rotate.getByRole('button', { name: 'Rotate identity secret' }).click();
  const rotatedDialog = page.getByRole('dialog', { name: 'Identity secret rotated' });
  const newSecret = await rotatedDialog.getByLabel('New identity secret').inputValue();
  expect(newSecret).not.toBe(oldSecret);
  await rotatedDialog.getByRole('button', { name: 'Done' }).click();
  const site = checked(await gw.http('admin').get(`/admin/v1/sandbox/sites/${siteId}`).set('Authorization', `Bearer ${gw.adminToken}`));
  const signInWith = async (secret: string, claims: Record<string, unknown>) =>
    checked(
      await gw
        .http('sandbox')
        .post('/live_api/v1/sessions')
        .set('Origin', 'https://shop.example')
        .send({ publishableKey: site.body.publishableKey, identityToken: await identityToken(secret, claims) }),
    );
  expect((await signInWith(oldSecret, { sub: 'ada-lovelace' })).status).toBe(401);
  const signedIn = await signInWith(newSecret, { sub: 'ada-lovelace', email: 'ada@example.com', name: 'Ada' });
  expect(signedIn.status).toBe(201);
  await signInWith(newSecret, { sub: 'grace', email: 'grace@example.com' });
  const verificationToken = await verificationTokenFor(gw, 'sandbox', signedIn.body.sessionToken);
  const exchangeFor = async (productId?: string) =>
    (await exchange(gw, 'sandbox', apiKey, { userVerificationToken: verificationToken, ...(productId && { productId }) })).body;
  expect((await exchangeFor()).isAuthenticated).toBe(true);

  // Find the user by the start of their email.
  await page.getByRole('link', { name: 'Users of Console Shop' }).click();
  await page.getByLabel('Find users').fill('ada@');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'Users matching “ada@”' }).waitFor();
  await page.getByRole('link', { name: 'grace' }).waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'ada-lovelace' }).waitFor();
  await expect(page.getByRole('row').count()).resolves.toBe(2); // header and Ada
  await scanned('users');
  await page.getByRole('link', { name: 'ada-lovelace' }).click();
  await page.getByRole('heading', { name: 'User ada-lovelace', level: 1 }).waitFor();

  // Grant a product, see the exchange say so; revoke it.
  await page.getByLabel('Product id').fill('reports');
  await page.getByRole('button', { name: 'Grant product' }).click();
  await page.getByRole('row', { name: /reports/ }).waitFor();
  expect((await exchangeFor('reports')).hasProductAccess).toBe(true);
  await scanned('user');
  await page.getByRole('row', { name: /reports/ }).getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('alertdialog', { name: 'Revoke reports from ada-lovelace?' }).getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('No product access.').waitFor();
  expect((await exchangeFor('reports')).hasProductAccess).toBe(false);

  // A grant that has already run out is refused, with the code.
  await page.getByLabel('Product id').fill('old');
  await page.getByLabel('Expires (UTC, optional)').fill('2001-01-01T00:00');
  await page.getByRole('button', { name: 'Grant product' }).click();
  await expect(page.getByRole('alert').textContent()).resolves.toMatch(/Not granted: .*in the past.*invalid_request/);

  // Sign the user out everywhere: the verification token is refused as session_ended.
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.getByRole('alertdialog', { name: 'Sign this user out everywhere?' }).getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.getByText('No active sessions.').waitFor();
  expect(await exchangeFor()).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });

  // The chart counts those exchanges.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  const verifiedRow = page.getByRole('row', { name: /^verified/ });
  await verifiedRow.waitFor();
  expect(Number(await verifiedRow.getByRole('cell').first().textContent())).toBeGreaterThanOrEqual(3);
  await page.getByRole('img', { name: /exchanges in the last 15 minutes/ }).waitFor();
  await scanned('overview-with-exchanges');

  // Signing keys, audit log, admin tokens: each page scanned.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Signing keys' }).click();
  await page.getByRole('cell', { name: 'Signs new tokens' }).waitFor();
  await scanned('signing-keys');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  // This person's changes, newest first (SPEC §11's audit log).
  await page.getByRole('table', { name: 'Audit events' }).getByRole('rowheader', { name: 'site.created' }).first().waitFor();
  await scanned('audit-log');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin tokens' }).click();
  await page.getByRole('heading', { name: 'Admin tokens', level: 1 }).waitFor();
  await scanned('admin-tokens');

  // Live: none of the sandbox data.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sites' }).click();
  await page.getByRole('link', { name: 'Console Shop' }).waitFor();
  await page.getByRole('radio', { name: 'Live' }).check();
  await page.getByRole('heading', { name: 'Sites in live' }).waitFor();
  await page.getByText('No sites in live yet.').waitFor();
  expect(await page.getByText('Console Shop').count()).toBe(0);
  await scanned('live-sites');

  // 401: the wrong token at sign-in; 400: the grant in the past; 404: what the pages look up that is gone.
  expect(unexpectedErrors(browser.errors, [400, 401, 404])).toEqual([]);
});

it('a scoped token sees only its sites, and gets forbidden elsewhere', async () => {
  const admin = adminClient(gw, 'sandbox');
  const mine = await admin.provisionSite({ name: 'Mine' });
  const theirs = await admin.provisionSite({ name: 'Theirs' });
  const token = checked(
    await gw.http('admin').post('/admin/v1/admin-tokens').set('Authorization', `Bearer ${gw.adminToken}`).send({
      name: 'Agency',
      environments: ['sandbox'],
      siteIds: [mine.siteId],
      role: 'read',
    }),
  ).body.token as string;
  const person = await browser.newPerson();
  const page = person.page;
  try {
    await signIn(page, token);
    await page.getByText('Signed in as').filter({ hasText: 'Agency' }).waitFor();
    expect(await page.getByRole('radio', { name: 'Live' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Admin tokens' }).count()).toBe(0);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sites' }).click();
    await page.getByRole('link', { name: 'Mine' }).waitFor();
    expect(await page.getByRole('link', { name: 'Theirs' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Create site' }).count()).toBe(0);
    await scanned('scoped-sites', page);
    await page.getByRole('link', { name: 'Mine' }).click();
    await page.getByRole('heading', { name: 'Mine', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: 'Create API key' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Rotate identity secret' }).count()).toBe(0);

    // Guessing the other site's id gets `forbidden`.
    await page.goto(`/console/#/sandbox/sites/${theirs.siteId}`);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/does not cover that site.*forbidden/);
    await scanned('scoped-forbidden', page);
    await page.goto('/console/#/live/sites');
    await page.getByRole('heading', { name: 'No access to live', level: 1 }).waitFor();
    expect(unexpectedErrors(person.errors, [403, 404])).toEqual([]);
  } finally {
    await person.context.close();
  }
});

it('refuses a cross-site form post to a console action, and nothing is made', async () => {
  const person = await browser.newPerson();
  const page = person.page;
  await signIn(page, gw.adminToken);
  const target = `${gw.urls.admin}/admin/v1/sandbox/sites`;
  // Another site (localhost is another site than 127.0.0.1) whose page posts a "JSON" body as a form.
  const evil: Server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(
      `<!doctype html><title>win a prize</title><form method="post" action="${target}" enctype="text/plain">` +
        `<input name='{"name":"forged","x":"' value='"}'><button>Claim</button></form>`,
    );
  });
  await new Promise<void>((ok) => evil.listen(0, '127.0.0.1', ok));
  try {
    await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
    const [answer] = await Promise.all([page.waitForResponse(target), page.getByRole('button', { name: 'Claim' }).click()]);
    expect([401, 403]).toContain(answer.status());
    expect((await answer.json()).code).toMatch(/^(unauthorized|forbidden)$/);
    const sites = checked(await gw.http('admin').get('/admin/v1/sandbox/sites').set('Authorization', `Bearer ${gw.adminToken}`));
    expect(sites.body.sites.map((s: { name: string }) => s.name)).not.toContain('forged');
    // The session itself is intact: back on the console, still signed in.
    await page.goto('/console/');
    await pollUntil(async () => page.getByRole('navigation', { name: 'Main' }).count(), (n) => n === 1, { what: 'the console signed in' });
  } finally {
    await new Promise<void>((ok) => evil.close(() => ok()));
    await person.context.close();
  }
});
