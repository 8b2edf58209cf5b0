#!/usr/bin/env node
// Generates the protocol types of both packages from openapi.yaml with
// openapi-typescript: packages/node/src/generated/openapi.ts and
// packages/browser/src/generated/openapi.ts (committed; the packages' named
// types in src/protocol.ts are aliases of these). `--check` writes nothing
// and exits 1 when a committed file differs from what openapi.yaml gives
// (test/unit/protocol-types.test.ts runs it), so the types cannot drift.
//
//   npm run generate:protocol            # after every change to openapi.yaml
//   node scripts/generate-protocol.mjs --check
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targets = ['packages/node/src/generated/openapi.ts', 'packages/browser/src/generated/openapi.ts'];
const check = process.argv.includes('--check');

const HEADER = `/**
 * Generated from openapi.yaml by openapi-typescript (scripts/generate-protocol.mjs).
 * Do not edit: run \`npm run generate:protocol\` after changing openapi.yaml.
 * test/unit/protocol-types.test.ts fails when this file and openapi.yaml disagree.
 *
 * @packageDocumentation
 */
`;

function generate() {
  // The package's exports map `./*.js` to `.mjs`, so find the bin from its package.json.
  const cli = join(dirname(createRequire(import.meta.url).resolve('openapi-typescript/package.json')), 'bin/cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'verigate-protocol-'));
  try {
    const out = join(dir, 'openapi.ts');
    execFileSync(
      process.execPath,
      [cli, join(root, 'openapi.yaml'), '--redocly', join(root, 'scripts/openapi-typescript.redocly.yaml'), '--immutable', '-o', out],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: root },
    );
    return HEADER + readFileSync(out, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const wanted = generate();
const stale = [];
for (const target of targets) {
  const path = join(root, target);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (current === wanted) continue;
  if (check) stale.push(relative(root, path));
  else writeFileSync(path, wanted);
}
if (stale.length > 0) {
  process.stderr.write(
    `generate-protocol: ${stale.join(', ')} ${stale.length === 1 ? 'does' : 'do'} not match openapi.yaml: run \`npm run generate:protocol\` and commit the result\n`,
  );
  process.exit(1);
}
if (!check) process.stdout.write(`generate-protocol: ${targets.join(', ')} up to date with openapi.yaml\n`);
