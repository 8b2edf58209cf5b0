/**
 * The protocol types cannot drift from openapi.yaml: the packages' types are
 * generated from it (scripts/generate-protocol.mjs) and committed, and
 * regenerating must give exactly what is committed; the gateway's own
 * registry of error codes must be openapi.yaml's enum. (The same equalities
 * for the not-verified and identity-token reasons, which exist only as
 * types, are test/types/protocol.types.ts, checked by npm run typecheck.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ERROR_STATUS } from '../../src/domain/errors';
import { SDK_VERSION } from '../../packages/node/src/version';
import { openApiDocument } from '../support/openapi';

const ROOT = resolve(__dirname, '../..');

const enumOf = (schema: string): string[] => {
  const schemas = (openApiDocument().components as { schemas: Record<string, { enum?: string[] }> }).schemas;
  const values = schemas[schema]?.enum;
  if (!values) throw new Error(`openapi.yaml has no enum ${schema}`);
  return [...values].sort();
};

it('the committed generated types are what openapi.yaml gives today', () => {
  const run = () =>
    execFileSync(process.execPath, ['scripts/generate-protocol.mjs', '--check'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  expect(run).not.toThrow();
});

it("the gateway's ErrorCode registry is openapi.yaml's ErrorCode enum", () => {
  expect(Object.keys(ERROR_STATUS).sort()).toEqual(enumOf('ErrorCode'));
});

it('the generated types narrow isAuthenticated as a boolean, not as the strings of a discriminator', () => {
  const generated = readFileSync(resolve(ROOT, 'packages/node/src/generated/openapi.ts'), 'utf8');
  expect(generated).toMatch(/readonly isAuthenticated: true;/);
  expect(generated).toMatch(/readonly isAuthenticated: false;/);
  expect(generated).not.toMatch(/isAuthenticated: "(true|false)"/);
});

it.each(['node', 'browser'])('@verigate/%s: both packages carry the same generated file', (name) => {
  expect(readFileSync(resolve(ROOT, `packages/${name}/src/generated/openapi.ts`), 'utf8')).toBe(
    readFileSync(resolve(ROOT, 'packages/node/src/generated/openapi.ts'), 'utf8'),
  );
});

it("the User-Agent version is the package's version", () => {
  expect(SDK_VERSION).toBe(JSON.parse(readFileSync(resolve(ROOT, 'packages/node/package.json'), 'utf8')).version);
});
