import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import ts from 'typescript';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';
import { JAVASCRIPT_FIXTURES } from '../../helpers/javascript-repository.js';

// The published model API (`nereid/model`, resolved as a user's editor resolves it: through the
// package's exports) type-checks the example JavaScript models and the test fixtures, strictly.
it('nereid/model types check the TypeScript and JSDoc-typed JavaScript models', () => {
  const files = [
    ...readdirSync(EXAMPLE_MODELS)
      .filter((name) => name.endsWith('_js'))
      .flatMap((name) => readdirSync(join(EXAMPLE_MODELS, name, '1')).map((file) => join(EXAMPLE_MODELS, name, '1', file))),
    join(JAVASCRIPT_FIXTURES, 'behaviours.ts'),
  ];
  assert.ok(files.some((file) => file.endsWith('.ts')) && files.some((file) => file.endsWith('.js')));
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    allowImportingTsExtensions: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
  assert.deepEqual(problems, []);
});
