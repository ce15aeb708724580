import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { invalidArg } from '../errors/index.js';
import type { Backend } from './backend.js';

/**
 * Custom backends (Triton's backend directory): `backend: "foo"` with no built-in backend of that
 * name is looked up, as Triton looks up `libtriton_foo.so`, in the model's version folder, the model
 * folder, then `<--backend-directory>/foo/`; the first `backend.js` (or `backend.mjs`) found is
 * imported, and its default export (or its `backend` export) is the backend. It implements the same
 * interface as the built-in backends (`Backend` in backend.ts; docs/backends.md).
 */

export const BACKEND_MODULE_FILES = ['backend.js', 'backend.mjs'] as const;

/** Where a custom backend was looked for, in order. */
export function backendSearchPaths(name: string, versionDir: string, modelDir: string, backendDirectory: string): string[] {
  return [versionDir, modelDir, join(backendDirectory, name)];
}

/** Modules already imported, by path: a backend is loaded once however many models use it. */
const loaded = new Map<string, Promise<Backend>>();

/**
 * The custom backend `name` for a model, or an INVALID_ARG naming every place searched (Triton's
 * "unable to find backend library ... searched: ..." text).
 */
export async function loadBackendModule(name: string, modelName: string, searchPaths: readonly string[]): Promise<Backend> {
  for (const dir of searchPaths) {
    for (const file of BACKEND_MODULE_FILES) {
      const path = join(dir, file);
      if (!(await exists(path))) continue;
      let pending = loaded.get(path);
      if (pending === undefined) {
        pending = importBackend(path, name);
        loaded.set(path, pending);
        pending.catch(() => loaded.delete(path));
      }
      return pending;
    }
  }
  throw invalidArg(
    `unable to find backend library '${BACKEND_MODULE_FILES[0]}' for backend '${name}' of model '${modelName}', searched: ` +
      searchPaths.map((dir) => `'${dir}'`).join(' '),
  );
}

async function importBackend(path: string, name: string): Promise<Backend> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw invalidArg(`failed to load backend '${name}' from '${path}': ${(error as Error).message}`);
  }
  const backend = (module['default'] ?? module['backend']) as Partial<Backend> | undefined;
  const problem = shapeProblem(backend);
  if (problem !== undefined) {
    throw invalidArg(`backend module '${path}' does not export a backend (default or 'backend' export): ${problem}`);
  }
  if (backend!.name !== name) {
    throw invalidArg(`backend module '${path}' is named '${String(backend!.name)}', but models name it '${name}'`);
  }
  return backend as Backend;
}

/** What a module's export lacks to be a Backend, if anything. */
function shapeProblem(backend: Partial<Backend> | undefined): string | undefined {
  if (backend === undefined || backend === null || typeof backend !== 'object') return 'no object exported';
  if (typeof backend.name !== 'string' || backend.name === '') return "'name' must be a non-empty string";
  if (typeof backend.loadModel !== 'function') return "'loadModel' must be a function";
  if (!Array.isArray(backend.platforms)) return "'platforms' must be an array of platform names (may be empty)";
  if (typeof backend.defaultPlatform !== 'string') return "'defaultPlatform' must be a string ('' for none)";
  if (typeof backend.defaultModelFilename !== 'string') return "'defaultModelFilename' must be a string";
  if (typeof backend.defaultCpuInstanceCount !== 'number' || backend.defaultCpuInstanceCount < 1) {
    return "'defaultCpuInstanceCount' must be a number >= 1";
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
