#!/usr/bin/env node
// Builds the packages customers install (npm workspaces, packages/*):
//
//   packages/node     @verigate/node     dist/esm (ESM) + dist/cjs (CommonJS), each with its .d.ts
//   packages/browser  @verigate/browser  the same, plus dist/verigate.js: one minified IIFE that
//                                        defines the global `Verigate`, served by the gateway at
//                                        /sdk/v1/verigate.js
//   packages/react    @verigate/react    dist/esm + dist/cjs, compiled against @verigate/browser's
//                                        built package (as customers resolve it), so after it
//
// Why tsc twice and not a bundler for the modules: the compiler the project
// already pins does it, the output is readable unbundled modules that
// bundlers tree-shake, and the declarations are tsc's own. Each half of the
// dual build gets a one-line package.json ({"type": "module"} /
// {"type": "commonjs"}) so that Node and TypeScript read its `.js` and
// `.d.ts` files in that format. esbuild (already a dev dependency) bundles
// only the IIFE. Default base URLs are baked into the IIFE from
// VERIGATE_LIVE_URL and VERIGATE_SANDBOX_URL (build-time environment variables).
//
//   node scripts/build-sdk.js [node] [browser] [react] [--if-stale]
//
// Without names, all three. --if-stale skips a package whose build is newer than
// its sources (npm test's pretest and npm pack's prepack use it). A build is
// written next to dist/ and swapped in by renames, so a gateway or test
// reading dist/ meanwhile sees the old build or the new one, never half.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { brotliCompressSync, gzipSync, constants: zlib } = require('node:zlib');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc');
const PACKAGES = ['node', 'browser', 'react'];
const STAMP = '.build-stamp';

function baseUrl(name, fallback) {
  const value = (process.env[name] || '').trim() || fallback;
  let url;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    console.error(`build-sdk: ${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return url.href.replace(/\/+$/, '');
}

function newestMtime(path) {
  const stat = fs.statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The inputs of a package's build: its sources, configs, package.json, and this script. */
function inputsMtime(dir) {
  const inputs = ['src', 'package.json', 'tsconfig.json', 'tsconfig.esm.json', 'tsconfig.cjs.json'].map((f) => join(dir, f)).filter((p) => fs.existsSync(p));
  return Math.max(...inputs.map(newestMtime), fs.statSync(__filename).mtimeMs);
}

/** The URLs baked into the IIFE, part of what makes a browser build current. */
const bakedUrls = () => `${baseUrl('VERIGATE_LIVE_URL', 'http://localhost:8080')} ${baseUrl('VERIGATE_SANDBOX_URL', 'http://localhost:8081')}`;

function isFresh(name, dir) {
  const stamp = join(dir, 'dist', STAMP);
  if (!fs.existsSync(stamp)) return false;
  if (fs.statSync(stamp).mtimeMs < inputsMtime(dir)) return false;
  return name !== 'browser' || fs.readFileSync(stamp, 'utf8') === bakedUrls();
}

function run(args, what) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`build-sdk: ${what} failed (exit ${code})`))));
  });
}

const writeJson = (path, value) => fs.writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

async function buildIife(dir, out) {
  const { build } = require('esbuild');
  const live = baseUrl('VERIGATE_LIVE_URL', 'http://localhost:8080');
  const sandbox = baseUrl('VERIGATE_SANDBOX_URL', 'http://localhost:8081');
  const { version } = JSON.parse(fs.readFileSync(join(dir, 'package.json'), 'utf8'));
  const outfile = join(out, 'verigate.js');
  await build({
    entryPoints: [join(dir, 'src/script.ts')],
    outfile,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    tsconfig: join(dir, 'tsconfig.json'),
    define: {
      __VERIGATE_LIVE_URL__: JSON.stringify(live),
      __VERIGATE_SANDBOX_URL__: JSON.stringify(sandbox),
    },
    banner: { js: `/*! @verigate/browser ${version} */` },
    logLevel: 'warning',
  });
  const script = fs.readFileSync(outfile);
  const gzip = gzipSync(script, { level: 9 }).length;
  const br = brotliCompressSync(script, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length;
  // Progress goes to stderr: `npm start` builds, and the gateway's stdout is JSON lines only.
  process.stderr.write(
    `build-sdk: packages/browser/dist/verigate.js ${script.length} B minified, ${gzip} B gzip, ${br} B brotli (live ${live}, sandbox ${sandbox})\n`,
  );
}

async function buildPackage(name) {
  const dir = join(root, 'packages', name);
  const next = join(dir, `dist.next-${process.pid}`);
  fs.rmSync(next, { recursive: true, force: true });
  // The two halves in parallel: each tsc is a process of its own.
  await Promise.all([
    run([tsc, '-p', join(dir, 'tsconfig.esm.json'), '--outDir', join(next, 'esm')], `${name}: tsc (ESM)`),
    run([tsc, '-p', join(dir, 'tsconfig.cjs.json'), '--outDir', join(next, 'cjs')], `${name}: tsc (CommonJS)`),
  ]);
  writeJson(join(next, 'esm', 'package.json'), { type: 'module' });
  writeJson(join(next, 'cjs', 'package.json'), { type: 'commonjs' });
  if (name === 'browser') await buildIife(dir, next);
  fs.writeFileSync(join(next, STAMP), name === 'browser' ? bakedUrls() : '');
  const dist = join(dir, 'dist');
  const old = join(dir, `dist.old-${process.pid}`);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(next, dist);
  fs.rmSync(old, { recursive: true, force: true });
  process.stderr.write(`build-sdk: packages/${name}/dist built\n`);
}

async function main() {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const names = args.filter((a) => !a.startsWith('--'));
  for (const name of names) {
    if (!PACKAGES.includes(name)) {
      console.error(`build-sdk: unknown package ${JSON.stringify(name)} (expected ${PACKAGES.join(', ')})`);
      process.exit(2);
    }
  }
  const wanted = (names.length > 0 ? names : PACKAGES).filter((name) => !(ifStale && isFresh(name, join(root, 'packages', name))));
  await Promise.all(wanted.filter((name) => name !== 'react').map(buildPackage));
  if (wanted.includes('react')) {
    // @verigate/react's build resolves @verigate/browser to its dist/ (its types): that must exist first.
    if (!fs.existsSync(join(root, 'packages/browser/dist/esm/index.d.ts'))) await buildPackage('browser');
    await buildPackage('react');
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
