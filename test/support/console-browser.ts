/**
 * Drives the admin console in Debian's Chromium (playwright-core), as a
 * person would: by role and accessible name. Collects every console error
 * and page error (a test ends with none), scans pages with axe-core
 * (`@axe-core/playwright`, WCAG 2.1 A and AA; serious or critical findings
 * fail) and keeps a screenshot of each scanned page in
 * test/artifacts/console/ (gitignored; CI keeps it as an artifact).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export { buildConsoleAssets } from './console-assets';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CONSOLE_ARTIFACTS = resolve(__dirname, '../artifacts/console');

/** The flags every headless run uses (the brief's list; no network of Chromium's own). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface AxeFinding {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

export interface ConsoleBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors so far, with the page URL. */
  readonly errors: string[];
  /** A new page in a new context (its own cookies): another person. */
  newPerson(): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
  /** axe-core findings of impact serious or critical on the page as it is now; also saves `<name>.png`. */
  scan(name: string, page?: Page): Promise<AxeFinding[]>;
  close(): Promise<void>;
}

function watch(page: Page, errors: string[]): void {
  page.on('pageerror', (err) => errors.push(`${page.url()}: uncaught ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${page.url()}: console.error ${msg.text()}`);
  });
}

export async function openConsoleBrowser(baseURL: string): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(CONSOLE_ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const person = async () => {
    const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(baseURL).origin });
    const page = await context.newPage();
    const errors: string[] = [];
    watch(page, errors);
    return { context, page, errors };
  };
  const first = await person();
  return {
    browser,
    context: first.context,
    page: first.page,
    errors: first.errors,
    newPerson: person,
    async scan(name, page = first.page) {
      const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      await page.screenshot({ path: join(CONSOLE_ARTIFACTS, `${name}.png`), fullPage: true });
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
    },
    async close() {
      await browser.close();
    },
  };
}
