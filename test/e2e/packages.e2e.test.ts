/**
 * The packages as a customer gets them. Both are built and `npm pack`ed, the
 * tarballs installed (with express, fastify, jose and types, once) into a
 * fresh directory outside the repository, and five apps in it — CommonJS,
 * `"type": "module"`, TypeScript with `nodenext` and with `bundler`
 * resolution, and README.md's "first integration" files — each make a round
 * trip against a real gateway process (`src/main.ts` on real Redis): the
 * admin API provisions, a session is opened, the browser endpoint mints a
 * verification token, the app exchanges it through the package. The
 * README app and a page bundled from @verigate/browser's ES module run in
 * Chromium, and so does the React page of test/e2e/react-page, built by
 * Vite against the packed @verigate/react, once on React 19 and once on
 * React 18. The apps live in test/e2e/package-apps/.
 */
import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { endDeployment, httpClient, newDeployment, startGatewayProcess, type Deployment, type GatewayProcess } from '../support/gateway-process';
import { freePort } from '../support/ports';
import { buildReactPage, REACT_PAGE_DIR, serveReactPages, type ReactPageServer } from '../support/react-page';
import { testRedisUrl } from '../support/redis';

const execFile = promisify(execFileCallback);
const ROOT = resolve(__dirname, '../..');
const APPS = resolve(__dirname, 'package-apps');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TSC = require.resolve('typescript/bin/tsc');

jest.setTimeout(180_000);

type Package = 'node' | 'browser' | 'react';
const PACKAGES = ['node', 'browser', 'react'] as const;
/** The last React 18, for the page that proves the peer range's lower half. */
const REACT_18 = '18.3.1';

interface Site {
  siteId: string;
  publishableKey: string;
  identitySecret: string;
  apiKey: string;
}

let scratch: string;
let tarballs: Record<Package, string>;
let gateway: GatewayProcess;
let deployment: Deployment | undefined;
let client: ReturnType<typeof httpClient>;
let site: Site;
let liveKey: string;
let appPort: number;
let readmeApp: ChildProcess | undefined;
let readmeOutput = '';
let browser: Browser | undefined;

/** The version the repository resolved, so the scratch install is served from npm's cache. */
const installed = (name: string): string => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

async function run(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

const node = (args: string[], cwd: string, env?: Record<string, string>) => run(process.execPath, args, cwd, env);
const npm = (args: string[], cwd: string) => run('npm', args, cwd);

/** The admin API, sandbox environment. */
async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await client.call('admin', method, `/admin/v1/sandbox${path}`, body === undefined ? {} : { body });
  if (res.status >= 300) throw new Error(`admin ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A new session for Ada (the admin API, as a platform's own sign-in would) and a verification token for it (the browser endpoint). */
async function verificationToken(): Promise<string> {
  const { sessionToken } = await admin('POST', `/sites/${site.siteId}/users/ada/sessions`);
  const res = await client.call('sandbox', 'POST', '/live_api/v1/users/verification-token', {
    headers: { Authorization: `Bearer ${String(sessionToken)}` },
  });
  if (res.status !== 200) throw new Error(`verification-token: ${res.status} ${JSON.stringify(res.body)}`);
  return String(res.body.userVerificationToken);
}

/** Runs a scratch app's built entry point with a fresh token; it prints one JSON line. */
async function roundTrip(dir: string, entry: string): Promise<Record<string, unknown>> {
  const stdout = await node([entry], join(scratch, dir), {
    VERIGATE_API_KEY: site.apiKey,
    VERIGATE_BASE_URL: gateway.urls.sandbox,
    OTHER_ENVIRONMENT_KEY: liveKey,
    TOKEN: await verificationToken(),
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? 'null');
}

/** Bundles a page for Chromium with esbuild, its public values baked in as README's build-page.js does. */
async function bundlePage(entry: string, outfile: string, values: Record<string, string>): Promise<void> {
  const { build } = await import('esbuild');
  const define = Object.fromEntries(Object.entries(values).map(([name, value]) => [`process.env.${name}`, JSON.stringify(value)]));
  await build({ entryPoints: [entry], bundle: true, format: 'esm', target: 'es2022', outfile, define, logLevel: 'error' });
}

/** The fenced code block that follows `<!-- first-integration: <file> -->` in README.md. */
function readmeFile(file: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = `<!-- first-integration: ${file} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  if (!block?.[1]) throw new Error(`README.md: no code block after ${marker}`);
  return block[1];
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'verigate-packages-'));
  // What `npm pack` gives: each package's prepack builds it when its build is older than its sources.
  await node(['scripts/build-sdk.js', '--if-stale'], ROOT);
  const packed = JSON.parse(await npm(['pack', ...PACKAGES.flatMap((name) => ['-w', `@verigate/${name}`]), '--pack-destination', scratch, '--json'], ROOT)) as {
    name: string;
    filename: string;
  }[];
  const file = (name: string) => packed.find((p) => p.name === name)?.filename ?? '';
  tarballs = { node: join(scratch, file('@verigate/node')), browser: join(scratch, file('@verigate/browser')), react: join(scratch, file('@verigate/react')) };

  // One install for every app: they resolve these from the parent directory, as in a monorepo.
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({
      private: true,
      dependencies: {
        '@verigate/node': `file:${tarballs.node}`,
        '@verigate/browser': `file:${tarballs.browser}`,
        // Its dependency on @verigate/browser is met by the tarball above, as by the registry's copy.
        '@verigate/react': `file:${tarballs.react}`,
        react: installed('react'),
        'react-dom': installed('react-dom'),
        // React 18 beside it, under other names, for a second build of the React page (aliased in its Vite config).
        'react-18': `npm:react@${REACT_18}`,
        'react-dom-18': `npm:react-dom@${REACT_18}`,
        vite: installed('vite'),
        express: installed('express'),
        fastify: installed('fastify'),
        jose: installed('jose'),
        esbuild: installed('esbuild'),
        '@types/express': installed('@types/express'),
        '@types/node': installed('@types/node'),
      },
    }),
  );
  // --legacy-peer-deps: react-dom-18's peer `react@^18` is met through the alias, which npm's check cannot see.
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--legacy-peer-deps'], scratch);
  for (const dir of ['cjs', 'esm', 'ts-nodenext', 'ts-bundler']) cpSync(join(APPS, dir), join(scratch, dir), { recursive: true });

  deployment = newDeployment({ redisUrl: testRedisUrl() });
  gateway = await startGatewayProcess(deployment, { env: { LOG_LEVEL: 'warn' } });
  client = httpClient(gateway, deployment.adminToken);
  appPort = await freePort();
  const created = await admin('POST', '/sites', { name: 'My shop', allowedOrigins: [`http://localhost:${appPort}`] });
  const key = await admin('POST', `/sites/${String(created.siteId)}/api-keys`, { name: 'my-shop backend' });
  site = {
    siteId: String(created.siteId),
    publishableKey: String(created.publishableKey),
    identitySecret: String(created.identitySecret),
    apiKey: String(key.apiKey),
  };
  await admin('PUT', `/sites/${site.siteId}/users/ada`, { email: 'ada@example.com', name: 'Ada', productAccess: [{ productId: 'reports', expiresAt: null }] });
  const liveSite = await client.call('admin', 'POST', '/admin/v1/live/sites', { body: { name: 'Live shop' } });
  const liveApiKey = await client.call('admin', 'POST', `/admin/v1/live/sites/${String(liveSite.body.siteId)}/api-keys`, { body: { name: 'live' } });
  liveKey = String(liveApiKey.body.apiKey);
});

afterAll(async () => {
  // The pages are bundled in this process: esbuild's service child would otherwise keep Jest alive.
  (await import('esbuild')).stop();
  await browser?.close();
  if (readmeApp && readmeApp.exitCode === null) {
    readmeApp.kill('SIGTERM');
    await new Promise((done) => readmeApp?.once('exit', done));
  }
  await gateway?.stop();
  // Closes the ACL users' admin connection and checks that Redis refused them nothing.
  if (deployment) await endDeployment(deployment);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the tarballs', () => {
  it.each(PACKAGES)('@verigate/%s ships its builds, its README and types, no sources, no dependencies but its own', async (name) => {
    const files = (await run('tar', ['-tzf', tarballs[name]], scratch)).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/package.json', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json']));
    if (name === 'browser') expect(files).toContain('dist/verigate.js');
    if (name === 'node') expect(files).toEqual(expect.arrayContaining(['dist/esm/fastify.js', 'dist/cjs/fastify.d.ts', 'fastify/package.json']));
    expect(files.filter((f) => f.startsWith('src/') || f.endsWith('.ts') && !f.endsWith('.d.ts') || f.includes('.build-stamp'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(scratch, 'node_modules', '@verigate', name, 'package.json'), 'utf8'));
    // @verigate/react's one dependency is the browser SDK it wraps; React is the page's (a peer).
    expect(manifest.dependencies).toEqual(name === 'react' ? { '@verigate/browser': '^0.1.0' } : undefined);
    if (name === 'react') expect(manifest.peerDependencies).toEqual({ react: '^18.0.0 || ^19.0.0' });
    if (name === 'node') {
      expect(manifest.peerDependenciesMeta).toEqual({ express: { optional: true }, fastify: { optional: true } });
    }
    // The compiled code names nothing of the gateway's.
    const code = readFileSync(join(scratch, 'node_modules', '@verigate', name, 'dist/cjs/index.js'), 'utf8');
    expect(code).not.toMatch(/\.\.\/\.\.\/src|domain\/|require\("(?!\.)/);
    if (name === 'react') {
      const provider = readFileSync(join(scratch, 'node_modules/@verigate/react/dist/cjs/provider.js'), 'utf8');
      expect([...provider.matchAll(/require\("([^".][^"]*)"\)/g)].map((m) => m[1]).sort()).toEqual(['@verigate/browser', 'react']);
    }
  });

  it.each(PACKAGES)('@verigate/%s: Are the Types Wrong finds nothing (node10, node16 CJS and ESM, bundler)', async (name) => {
    const attw = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    // verigate.js is a classic script for <script src>, not a module: it has no types to check.
    const exclude = name === 'browser' ? ['--exclude-entrypoints', './verigate.js'] : [];
    // Exits non-zero on any problem, which fails `run`; the report says which.
    const out = await node([attw, tarballs[name], '--format', 'json', ...exclude], scratch);
    const report = JSON.parse(out) as { problems?: Record<string, unknown> };
    expect(report.problems).toEqual({});
  });

  it('importing the packages starts nothing: no server, no timer, no global; the process ends by itself', async () => {
    // What keeps a process alive or listens: sockets, servers, timers (not a file read still closing).
    const report = "console.log(JSON.stringify({ global: typeof globalThis.Verigate, alive: process.getActiveResourcesInfo().filter((r) => /TCP|UDP|Pipe(Server|Connect)|Timeout|Immediate/.test(r)) }))";
    const cjs = await node(['-e', `require('@verigate/node'); require('@verigate/node/fastify'); require('@verigate/browser'); require('@verigate/react'); ${report}`], scratch);
    expect(JSON.parse(cjs)).toEqual({ global: 'undefined', alive: [] });
    const esm = await node(['--input-type=module', '-e', `await import('@verigate/node'); await import('@verigate/node/fastify'); await import('@verigate/browser'); await import('@verigate/react'); ${report}`], scratch);
    expect(JSON.parse(esm)).toEqual({ global: 'undefined', alive: [] });
  });
});

describe('round trips from fresh apps', () => {
  const anonymous = { status: 401, body: expect.objectContaining({ code: 'not_authenticated', reason: 'missing_token' }) };

  it('CommonJS: require(), Express requireVerifiedUser', async () => {
    expect(await roundTrip('cjs', 'app.js')).toEqual({
      verified: { isAuthenticated: true, userId: 'ada', hasProductAccess: true },
      guarded: { status: 200, body: { userId: 'ada' } },
      anonymous,
      localRefusal: { isVerigateError: true, code: 'invalid_api_key' },
      browserExports: ['DEFAULT_BASE_URLS', 'LOGIN_LINK_PARAMETER', 'SCRIPT_PATH', 'TOKEN_REUSE_MARGIN_MS', 'VerigateError', 'createVerigate', 'loadVerigate', 'takeLoginLinkToken'],
    });
  });

  it('"type": "module": import, the Fastify plugin and authenticateRequest', async () => {
    expect(await roundTrip('esm', 'app.js')).toEqual({
      verified: { isAuthenticated: true, userId: 'ada', hasProductAccess: true },
      guarded: { status: 200, body: { userId: 'ada' } },
      anonymous,
      unguarded: 200,
      fetchHelper: { ok: true, userId: 'ada' },
      fetchHelperAnonymous: anonymous,
      browserModule: 'function',
    });
  });

  it('TypeScript, moduleResolution nodenext: compiles with tsc (library checks on) and runs', async () => {
    await node([TSC, '-p', '.'], join(scratch, 'ts-nodenext'));
    expect(await roundTrip('ts-nodenext', 'dist/app.js')).toEqual({
      verified: { userId: 'ada', hasProductAccess: true },
      guarded: { status: 200, body: { userId: 'ada' } },
      anonymous,
      // The live key against the sandbox listener: the gateway names the mix-up.
      wrongKey: { code: 'api_key_wrong_environment', httpStatus: 401 },
    });
  });

  it('TypeScript, moduleResolution bundler: checks with tsc, bundles with esbuild and runs', async () => {
    const dir = join(scratch, 'ts-bundler');
    await node([TSC, '-p', '.'], dir);
    const { build } = await import('esbuild');
    await build({ entryPoints: [join(dir, 'server.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: join(dir, 'dist/server.mjs'), logLevel: 'error' });
    expect(await roundTrip('ts-bundler', 'dist/server.mjs')).toEqual({
      verified: { userId: 'ada', hasProductAccess: null },
      guarded: { status: 200, body: { userId: 'ada', hasProductAccess: true } },
      anonymous,
    });
  });
});

describe("README's first integration, in Chromium", () => {
  let page: Page;
  const appUrl = () => `http://localhost:${appPort}`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    const dir = join(scratch, 'readme-app');
    mkdirSync(join(dir, 'src'), { recursive: true });
    mkdirSync(join(dir, 'public'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    for (const file of ['server.js', 'src/page.js', 'public/index.html', 'build-page.js']) writeFileSync(join(dir, file), readmeFile(file));
    // README's .env, with this gateway's values in place of the placeholders.
    const values: Record<string, string> = {
      VERIGATE_API_KEY: site.apiKey,
      VERIGATE_IDENTITY_SECRET: site.identitySecret,
      VERIGATE_PUBLISHABLE_KEY: site.publishableKey,
      VERIGATE_BASE_URL: gateway.urls.sandbox,
      PORT: String(appPort),
    };
    const env = readmeFile('.env').replace(/^([A-Z_]+)=.*$/gm, (line, name: string) => (name in values ? `${name}=${values[name]}` : line));
    expect(Object.keys(values).every((name) => env.includes(`${name}=${values[name]}`))).toBe(true);
    writeFileSync(join(dir, '.env'), env);

    // README's "node --env-file=.env build-page.js".
    await node(['--env-file=.env', 'build-page.js'], dir);
    // The pages of the bundler app (@verigate/browser's ES module; the loader's failures), served by the same app.
    const pageValues = { VERIGATE_PUBLISHABLE_KEY: site.publishableKey, VERIGATE_BASE_URL: gateway.urls.sandbox };
    await bundlePage(join(scratch, 'ts-bundler/page.ts'), join(dir, 'public/module.js'), pageValues);
    await bundlePage(join(scratch, 'ts-bundler/loader-errors.ts'), join(dir, 'public/loader-errors.js'), {
      ...pageValues,
      UNREACHABLE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    for (const name of ['module', 'loader-errors']) {
      writeFileSync(join(dir, `public/${name}.html`), `<!doctype html><meta charset="utf-8"><title>${name}</title><script type="module" src="/${name}.js"></script>`);
    }

    readmeApp = spawn(process.execPath, ['--env-file=.env', 'server.js'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    readmeApp.stdout?.on('data', (chunk: Buffer) => (readmeOutput += chunk.toString()));
    readmeApp.stderr?.on('data', (chunk: Buffer) => (readmeOutput += chunk.toString()));
    await new Promise<void>((ok, fail) => {
      readmeApp?.once('exit', (code) => fail(new Error(`README server.js exited (${code}):\n${readmeOutput}`)));
      readmeApp?.stdout?.on('data', () => {
        if (readmeOutput.includes(`my-shop on http://localhost:${appPort}`)) ok();
      });
    });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
  });

  const out = () => page.locator('#out');
  async function expectOut(expected: RegExp): Promise<void> {
    await page
      .waitForFunction((source) => new RegExp(source).test(document.querySelector('#out')?.textContent ?? ''), expected.source, { timeout: 15_000 })
      .catch(async () => {
        throw new Error(`#out is ${JSON.stringify(await out().textContent())}, expected ${expected}\napp: ${readmeOutput}\ngateway: ${gateway.stderr()}`);
      });
  }

  it('signs in through the loader, calls the protected route, signs out and is refused', async () => {
    const sdk: { status: number; encoding: string | undefined; etag: string | undefined }[] = [];
    page.on('response', (res) => {
      if (res.url() === `${gateway.urls.sandbox}/sdk/v1/verigate.js`) {
        sdk.push({ status: res.status(), encoding: res.headers()['content-encoding'], etag: res.headers()['etag'] });
      }
    });
    await page.goto(appUrl());
    await expectOut(/^Ready$/);
    expect(await page.evaluate(() => typeof (window as unknown as { Verigate?: unknown }).Verigate)).toBe('object');
    // The loader fetched the gateway's script; Chromium asks for br, and gets it.
    expect(sdk).toEqual([{ status: 200, encoding: 'br', etag: expect.stringMatching(/^"[\w-]+-br"$/) }]);

    await page.click('#sign-in');
    await expectOut(/^Signed in as Ada$/);
    await page.click('#reports');
    await expectOut(/^200 \{"report":"Hello Ada, here are your reports"\}$/);
    await page.click('#sign-out');
    await expectOut(/^Signed out$/);
    await page.click('#reports');
    await expectOut(/^401 .*"code":"not_authenticated".*"reason":"missing_token"/);
  });

  it("@verigate/browser's ES module, bundled by esbuild, signs in and is verified, with no global", async () => {
    await page.goto(`${appUrl()}/module.html`);
    await page.waitForFunction(() => document.body?.dataset.result !== undefined, undefined, { timeout: 15_000 });
    expect(JSON.parse((await page.evaluate(() => document.body.dataset.result)) ?? 'null')).toEqual({
      user: 'ada',
      error: null,
      status: 200,
      body: { report: 'Hello Ada, here are your reports' },
      global: 'undefined',
    });
  });

  it("loadVerigate refuses a misconfiguration before loading, reports network_error for an unreachable gateway, and loads once it can", async () => {
    await page.goto(`${appUrl()}/loader-errors.html`);
    await page.waitForFunction(() => document.body?.dataset.result !== undefined, undefined, { timeout: 15_000 });
    expect(JSON.parse((await page.evaluate(() => document.body.dataset.result)) ?? 'null')).toEqual({
      malformedKey: 'invalid_publishable_key',
      otherEnvironment: 'publishable_key_wrong_environment',
      unreachable: 'network_error',
      unreachableAgain: 'network_error',
      globalAfterFailures: 'undefined',
      gateway: 'loaded sandbox',
      scripts: 1,
    });
  });

  it.each([
    ['verified_with_access', 200, { report: 'Hello Test User, here are your reports' }],
    ['verified_without_access', 403, expect.objectContaining({ code: 'product_access_required', productId: 'reports' })],
    ['session_ended', 401, expect.objectContaining({ code: 'not_authenticated', reason: 'session_ended' })],
    ['token_expired', 401, expect.objectContaining({ code: 'not_authenticated', reason: 'token_expired' })],
  ])("README's backend answers the sandbox fixture vg_sandbox_test_%s without a browser", async (outcome, status, body) => {
    const res = await fetch(`${appUrl()}/api/reports`, { headers: { Authorization: `Bearer vg_sandbox_test_${outcome}` } });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(body);
  });
});

describe('@verigate/react from its tarball', () => {
  let pages: ReactPageServer;
  let reactSite: Site;
  /** Sign-in requests the page made, counted per test. */
  let signIns = 0;

  const sign = (userId: string, secret: string) =>
    new SignJWT({ name: userId === 'ada' ? 'Ada' : userId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret));

  beforeAll(async () => {
    const dir = join(scratch, 'react-page');
    mkdirSync(dir, { recursive: true });
    for (const file of ['index.html', 'main.tsx']) cpSync(join(REACT_PAGE_DIR, file), join(dir, file));
    // The React 18 build: the same page, with `react` and `react-dom` resolved to the 18 install.
    const react18Config = join(scratch, 'vite.react18.config.mjs');
    writeFileSync(
      react18Config,
      `export default { resolve: { alias: { react: ${JSON.stringify(join(scratch, 'node_modules/react-18'))}, 'react-dom': ${JSON.stringify(join(scratch, 'node_modules/react-dom-18'))} } } };\n`,
    );
    const viteBin = join(scratch, 'node_modules/vite/bin/vite.js');
    await buildReactPage({ viteBin, root: dir, outDir: join(scratch, 'react19') });
    await buildReactPage({ viteBin, root: dir, outDir: join(scratch, 'react18'), configFile: react18Config });

    pages = await serveReactPages({
      builds: { react19: join(scratch, 'react19'), react18: join(scratch, 'react18') },
      config: async () => ({ publishableKey: reactSite.publishableKey, baseUrl: gateway.urls.sandbox, identityToken: await sign('ada', reactSite.identitySecret) }),
      identityToken: (userId) => sign(userId, reactSite.identitySecret),
    });
    const created = await admin('POST', '/sites', { name: 'React shop', allowedOrigins: [pages.origin] });
    const key = await admin('POST', `/sites/${String(created.siteId)}/api-keys`, { name: 'react shop backend' });
    reactSite = {
      siteId: String(created.siteId),
      publishableKey: String(created.publishableKey),
      identitySecret: String(created.identitySecret),
      apiKey: String(key.apiKey),
    };
    browser ??= await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(() => pages?.close());

  it('renders on the server, in CommonJS and as an ES module, as an anonymous visitor, without starting the SDK', async () => {
    const render = (load: string) =>
      `${load} const { createElement: h } = React; ` +
      "const User = () => h('p', null, useVerigateUser()?.userId ?? 'anonymous'); " +
      "console.log(renderToString(h(VerigateProvider, { publishableKey: 'vg_sandbox_pk_unused', identityToken: 'unused' }, h(User))));";
    const cjs = await node(
      ['-e', render("const React = require('react'); const { renderToString } = require('react-dom/server'); const { VerigateProvider, useVerigateUser } = require('@verigate/react');")],
      scratch,
    );
    expect(cjs.trim()).toBe('<p>anonymous</p>');
    const esm = await node(
      ['--input-type=module', '-e', render("import React from 'react'; import { renderToString } from 'react-dom/server'; import { VerigateProvider, useVerigateUser } from '@verigate/react';")],
      scratch,
    );
    expect(esm.trim()).toBe('<p>anonymous</p>');
  });

  it.each([
    ['react19', /^React 19\./],
    ['react18', new RegExp(`^React ${REACT_18.replace(/\./g, '\\.')}$`)],
  ])('the Vite-built page (%s) signs in with the identityToken prop, renders the user, and its token is verified', async (build, version) => {
    const context = await (browser as Browser).newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    signIns = 0;
    page.on('pageerror', (err) => errors.push(`uncaught ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('request', (req) => {
      if (req.method() === 'POST' && req.url() === `${gateway.urls.sandbox}/live_api/v1/sessions`) signIns += 1;
    });
    await page.goto(pages.url(build));
    await page.getByText('Signed in as Ada').waitFor({ timeout: 15_000 });
    expect(await page.locator('#react').textContent()).toMatch(version);
    expect(signIns).toBe(1); // StrictMode: still presented once

    await page.getByRole('button', { name: 'Get token' }).click();
    await page.waitForFunction(() => (document.querySelector('#token')?.textContent ?? '') !== '', undefined, { timeout: 15_000 });
    const token = (await page.locator('#token').textContent()) ?? '';
    const verified = await client.call('sandbox', 'POST', '/live_api/s2s/v1/users/verification', {
      headers: { 'X-API-KEY': reactSite.apiKey },
      body: { userVerificationToken: token },
    });
    expect(verified.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'ada', name: 'Ada' } });

    // A new identity token through the prop: the hook re-renders with the new user.
    await page.getByRole('button', { name: 'Switch to Grace' }).click();
    await page.getByText('Signed in as grace').waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await context.close();
  });
});
