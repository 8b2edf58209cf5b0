import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project root (the directory of verigate's package.json), wherever the compiled bench runs from. */
export const ROOT = ((): string => {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'verigate') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the verigate project root');
    dir = up;
  }
})();
