/**
 * Every export of @verigate/node, @verigate/node/fastify, @verigate/browser
 * and @verigate/react carries TSDoc with an `@example`: what a customer's
 * editor shows on hover is the documentation. Read with the TypeScript
 * compiler from the packages' entry points.
 */
import { resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '../..');
const ENTRY_POINTS = {
  '@verigate/node': 'packages/node/src/index.ts',
  '@verigate/node/fastify': 'packages/node/src/fastify.ts',
  '@verigate/browser': 'packages/browser/src/index.ts',
  '@verigate/react': 'packages/react/src/index.ts',
};

const program = ts.createProgram(
  Object.values(ENTRY_POINTS).map((f) => resolve(ROOT, f)),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    // @verigate/react re-exports @verigate/browser's types: read them from its sources, as packages/react/tsconfig.json does.
    paths: { '@verigate/browser': [resolve(ROOT, 'packages/browser/src/index.ts')] },
  },
);
const checker = program.getTypeChecker();

function undocumented(entry: string): string[] {
  const source = program.getSourceFile(resolve(ROOT, entry));
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`cannot read ${entry}`);
  const exports = checker.getExportsOfModule(module);
  expect(exports.length).toBeGreaterThan(1);
  return exports
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const tags = target.getJsDocTags(checker);
      const summary = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
      return summary === '' || !tags.some((tag) => tag.name === 'example');
    })
    .map((symbol) => symbol.name);
}

it.each(Object.entries(ENTRY_POINTS))('%s: every export has TSDoc with an @example', (_name, entry) => {
  expect(undocumented(entry)).toEqual([]);
});
