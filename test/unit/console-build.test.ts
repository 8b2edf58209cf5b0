/**
 * scripts/build-console.js, as `npm run build` runs it: the console's
 * static files, nothing on stdout (SPEC §8: `npm start` runs the build, and
 * stdout is JSON lines only), no inline script and nothing from another
 * origin in index.html (the admin listener's CSP is script-src 'self').
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
let outdir: string;
let build: ReturnType<typeof spawnSync>;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'verigate-console-build-'));
  build = spawnSync(process.execPath, ['scripts/build-console.js', '--outdir', outdir], { cwd: ROOT, encoding: 'utf8' });
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

it('builds, printing to stderr only', () => {
  expect(build.status).toBe(0);
  expect(build.stdout).toBe('');
  expect(build.stderr).toMatch(/^build-console: .*console-\w+\.js \d+ B \(\d+ B gzipped\)/);
});

it('writes an index.html that loads only its own hashed assets, with no inline script or style', () => {
  const html = readFileSync(join(outdir, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  expect(refs).toHaveLength(3);
  for (const ref of refs) {
    expect(ref).toMatch(/^\/console\/assets\/[\w-]+\.(js|css|svg)$/);
    expect(existsSync(join(outdir, 'assets', ref.replace('/console/assets/', '')))).toBe(true);
  }
  // Every <script> has a src (nothing inline), and there is no <style> or style="" at all.
  expect([...html.matchAll(/<script\b[^>]*>/g)].every((m) => /\bsrc=/.test(m[0]))).toBe(true);
  expect(html).not.toMatch(/<style\b|\sstyle=|javascript:|\son\w+=/i);
  expect(html).not.toMatch(/https?:\/\//);
});

it('bundles every library into the assets: no import of another URL at run time', () => {
  const js = readdirSync(join(outdir, 'assets')).filter((f) => f.endsWith('.js'));
  expect(js).toHaveLength(1);
  const source = readFileSync(join(outdir, 'assets', js[0] as string), 'utf8');
  expect(source).not.toMatch(/\bimport\s*\(|from\s*["']|importScripts/);
  expect(source).not.toMatch(/localStorage|sessionStorage/);
});
