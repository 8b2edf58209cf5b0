import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** The console's built files (scripts/build-console.js), read once at start-up. */
export interface ConsoleAssets {
  readonly index: Buffer;
  /** By file name (content-hashed: `console-AB12CD34.js`). */
  readonly files: ReadonlyMap<string, { readonly body: Buffer; readonly contentType: string }>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The build in `dir` (index.html and assets/), or null when the console has not been built. */
export function loadConsoleAssets(dir: string): ConsoleAssets | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const files = new Map<string, { body: Buffer; contentType: string }>();
  const assets = join(dir, 'assets');
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) {
      const contentType = TYPES[extname(name)];
      if (contentType) files.set(name, { body: readFileSync(join(assets, name)), contentType });
    }
  }
  return { index: readFileSync(indexPath), files };
}
