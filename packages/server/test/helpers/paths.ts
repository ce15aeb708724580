import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file whether it runs from test/ (tsx) or dist/test/ (compiled). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'examples', 'models'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (examples/models)');
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
export const EXAMPLE_MODELS = join(REPO_ROOT, 'examples', 'models');
export const FIXTURE_MODELS = join(REPO_ROOT, 'packages', 'server', 'test', 'fixtures', 'models');
export const FIXTURE_CONFIGS = join(REPO_ROOT, 'packages', 'server', 'test', 'fixtures', 'configs');
