import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * Builds the console (scripts/build-console.js, as `npm run build` does)
 * into a fresh temporary directory, for a gateway's `consoleAssetsDir`;
 * `remove()` deletes it.
 */
export function buildConsoleAssets(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'verigate-console-'));
  execFileSync(process.execPath, ['scripts/build-console.js', '--outdir', dir], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
