import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The arrows of docs/architecture.md: the domain depends on nothing of the
 * layers around it (it declares its storage as ports, src/domain/ports.ts),
 * and the store and HTTP layers know each other only through the domain;
 * src/gateway.ts wires them. (Import cycles anywhere in src/ are checked by
 * `npm run check:cycles`, madge.)
 */

const SRC = resolve(__dirname, '../../src');

/** Packages of the layers around the domain: storage, HTTP, logs, metrics, rate limiting. */
const INFRASTRUCTURE_PACKAGES = ['express', 'ioredis', 'pino', 'prom-client', 'rate-limiter-flexible', 'helmet'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return path.endsWith('.ts') || path.endsWith('.tsx') ? [path] : [];
  });
}

/** Every module a file imports or re-exports (static, type-only and dynamic imports, require). */
function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** `src/`-relative path of a relative import, or the package name of a bare one. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier.startsWith('node:') ? specifier : (specifier.split('/')[0] as string);
  return relative(SRC, resolve(dirname(file), specifier));
}

/** Every import of the files under `src/<layer>`, as `file -> target`. */
function edges(layer: string): { from: string; to: string }[] {
  return filesUnder(join(SRC, layer)).flatMap((file) =>
    importsOf(file).map((specifier) => ({ from: relative(SRC, file), to: target(file, specifier) })),
  );
}

const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

describe('layers', () => {
  it('finds the imports it checks', () => {
    expect(edges('domain').length).toBeGreaterThan(40);
    expect(edges('domain')).toContainEqual({ from: 'domain/index.ts', to: 'domain/ports' });
    // The checker sees type-only imports too.
    expect(importsOf(join(SRC, 'domain/ports.ts'))).toContain('./records');
  });

  it('src/domain imports nothing outside src/domain, and no storage, HTTP, log or metrics package', () => {
    const stray = edges('domain').filter(
      ({ to }) => (!to.startsWith('node:') && to.includes('/') && !isUnder(to, 'domain')) || INFRASTRUCTURE_PACKAGES.includes(to),
    );
    expect(stray).toEqual([]);
  });

  it('src/store imports nothing of src/http, and src/http nothing of src/store (the domain is between them)', () => {
    const wiring = (to: string): boolean => to === 'gateway' || to === 'main' || isUnder(to, 'process');
    expect(edges('store').filter(({ to }) => isUnder(to, 'http') || wiring(to))).toEqual([]);
    expect(edges('http').filter(({ to }) => isUnder(to, 'store') || wiring(to))).toEqual([]);
  });

  it('the CLI is a client of the admin HTTP API only, and the console page of nothing but its own code', () => {
    expect(edges('cli').length).toBeGreaterThan(3);
    expect(edges('console/client').length).toBeGreaterThan(20);
    const outside = (layer: string, packages: readonly string[]) =>
      edges(layer).filter(({ to }) => (to.includes('/') ? !isUnder(to, layer) : !packages.includes(to)));
    expect(outside('cli', ['node:util'])).toEqual([]);
    expect(outside('console/client', ['preact', 'wouter-preact', 'uplot'])).toEqual([]);
  });
});
