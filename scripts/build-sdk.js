#!/usr/bin/env node
// Builds the browser SDK (src/sdk/browser) into dist/sdk/verigate.js: one
// minified IIFE that defines the global `Verigate`, served by the gateway at
// /sdk/v1/verigate.js. Default base URLs are baked in from VERIGATE_LIVE_URL
// and VERIGATE_SANDBOX_URL (build-time environment variables).
'use strict';
const { build } = require('esbuild');
const { gzipSync } = require('node:zlib');
const { resolve } = require('node:path');

const root = resolve(__dirname, '..');
const outfile = resolve(root, 'dist/sdk/verigate.js');

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

async function main() {
  const live = baseUrl('VERIGATE_LIVE_URL', 'http://localhost:8080');
  const sandbox = baseUrl('VERIGATE_SANDBOX_URL', 'http://localhost:8081');
  const { version } = require(resolve(root, 'package.json'));
  const result = await build({
    entryPoints: [resolve(root, 'src/sdk/browser/index.ts')],
    outfile,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    tsconfig: resolve(root, 'src/sdk/browser/tsconfig.json'),
    define: {
      __VERIGATE_LIVE_URL__: JSON.stringify(live),
      __VERIGATE_SANDBOX_URL__: JSON.stringify(sandbox),
    },
    banner: { js: `/*! verigate browser SDK ${version} */` },
    write: true,
    metafile: true,
    logLevel: 'warning',
  });
  const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].bytes;
  const gzipped = gzipSync(require('node:fs').readFileSync(outfile), { level: 9 }).length;
  console.log(`build-sdk: dist/sdk/verigate.js ${bytes} B minified, ${gzipped} B gzipped (live ${live}, sandbox ${sandbox})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
