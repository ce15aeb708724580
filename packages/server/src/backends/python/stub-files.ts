import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let folder: string | undefined;

/**
 * The folder of the Python files the server package ships (`python/`: the stub and
 * triton_python_backend_utils.py), found from this module in src/ and dist/src/ alike.
 */
export function stubFolder(): string {
  if (folder !== undefined) return folder;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'python', 'nereid_python_stub.py'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the Python backend stub (python/nereid_python_stub.py) is missing from the server package');
    dir = parent;
  }
  folder = join(dir, 'python');
  return folder;
}

export function stubScript(): string {
  return join(stubFolder(), 'nereid_python_stub.py');
}
