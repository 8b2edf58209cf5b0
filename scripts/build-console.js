#!/usr/bin/env node
// Builds the admin console (src/console/client: Preact + uPlot, bundled by
// esbuild) into dist/console/: index.html, and the script, stylesheet and
// icon under assets/ with content hashes in their names (so they can be
// cached for good). No CDN, no inline script: index.html only names files
// the admin listener serves itself (CSP script-src 'self').
//
// Usage: node scripts/build-console.js [--outdir DIR]   (default dist/console)
// Everything it prints goes to stderr: `npm start` runs this build, and the
// gateway's stdout carries JSON log lines only (SPEC §8).
'use strict';
const { build } = require('esbuild');
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { basename, join, relative, resolve } = require('node:path');
const { parseArgs } = require('node:util');
const { gzipSync } = require('node:zlib');

const root = resolve(__dirname, '..');
const client = resolve(root, 'src/console/client');

function hashed(name, content) {
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 10);
  const dot = name.lastIndexOf('.');
  return `${name.slice(0, dot)}-${hash}${name.slice(dot)}`;
}

async function main() {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const outdir = resolve(root, values.outdir ?? 'dist/console');
  const assets = join(outdir, 'assets');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });

  const result = await build({
    entryPoints: { console: join(client, 'main.tsx') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(client, 'tsconfig.json'),
    // Preact, preact-iso and uPlot are MIT: their notices go to a file beside the bundle.
    legalComments: 'linked',
    metafile: true,
    write: true,
    logLevel: 'warning',
  });

  const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(root, p));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (!js || !css) throw new Error(`build-console: expected a .js and a .css output, got ${outputs.join(', ')}`);

  const iconSource = readFileSync(join(client, 'icon.svg'));
  const icon = hashed('icon.svg', iconSource);
  writeFileSync(join(assets, icon), iconSource);

  const html = readFileSync(join(client, 'index.html'), 'utf8')
    .replace('{{js}}', basename(js))
    .replace('{{css}}', basename(css))
    .replace('{{icon}}', icon);
  if (/\{\{\w+\}\}/.test(html)) throw new Error('build-console: index.html has a placeholder left');
  writeFileSync(join(outdir, 'index.html'), html);

  const sizes = [js, css].map((file) => {
    const content = readFileSync(file);
    return `${basename(file)} ${content.length} B (${gzipSync(content, { level: 9 }).length} B gzipped)`;
  });
  process.stderr.write(`build-console: ${relative(root, outdir) || '.'}/: ${sizes.join(', ')}\n`);
}

main().catch((err) => {
  process.stderr.write(`build-console: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
