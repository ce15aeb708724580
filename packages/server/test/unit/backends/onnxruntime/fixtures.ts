import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `packages/server/test/fixtures/models`, found from this file whether it runs from sources (tsx)
 * or from the compiled `dist/` tree.
 */
export function fixtureModelsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'fixtures', 'models');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('test/fixtures/models not found above this test');
    dir = parent;
  }
}

/** `<fixtures>/<name>/1/model.onnx` */
export function fixtureModelFile(name: string): string {
  return path.join(fixtureModelsDir(), name, '1', 'model.onnx');
}
