import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArg, quoted } from '../errors/index.js';
import { compareNames } from '../util/compare.js';

/** A model folder found in one of the repositories. */
export interface ModelDirectory {
  readonly name: string;
  readonly path: string;
}

/** Models found across repositories; a name in more than one repository is reported apart. */
export interface RepositoryScan {
  readonly models: ReadonlyMap<string, ModelDirectory>;
  /** Names that appear in two or more repositories, with every folder they appear in. */
  readonly duplicates: ReadonlyMap<string, readonly string[]>;
}

/** Lists the model folders of every repository (hidden entries and plain files are skipped). */
export async function scanRepositories(repositories: readonly string[]): Promise<RepositoryScan> {
  const found = new Map<string, string[]>();
  for (const repository of repositories) {
    const entries = await readdir(repository, { withFileTypes: true }).catch((error: unknown) => {
      throw invalidArg(`failed to open model repository '${repository}': ${(error as Error).message}`);
    });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(repository, entry.name);
      if (!entry.isDirectory() && !(entry.isSymbolicLink() && (await isDirectory(path)))) continue;
      const paths = found.get(entry.name) ?? [];
      paths.push(path);
      found.set(entry.name, paths);
    }
  }
  const models = new Map<string, ModelDirectory>();
  const duplicates = new Map<string, string[]>();
  for (const [name, paths] of [...found].sort(([a], [b]) => compareNames(a, b))) {
    if (paths.length > 1) duplicates.set(name, paths);
    else models.set(name, { name, path: paths[0]! });
  }
  return { models, duplicates };
}

/** Triton's ValidateModelName, plus NUL (a name is a folder name). */
export function validateModelName(name: string): void {
  const trimmed = name.trim();
  if (trimmed === '') throw invalidArg('Model name cannot be empty. Please enter a valid name to deploy.');
  if (trimmed === '..' || trimmed === '.' || trimmed.includes('/') || trimmed.includes('\\') || trimmed.includes('\0')) {
    throw invalidArg(`invalid model name '${quoted(name)}', model name must not contain path traversal characters`);
  }
}

/** Versions are int64 in Triton (model_config.proto, std::stoll on folder names). */
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Version folders of a model: names made only of digits, not starting with 0 (Triton ignores the
 * rest), ascending. Versions are bigints so that every int64 stays exact and distinct (a JS number
 * would merge 9007199254740992 and 9007199254740993); a folder past int64 is skipped and reported
 * to `skip`, and the model's other versions still load.
 */
export async function listVersions(
  modelDir: string,
  skip: (message: string) => void = () => {},
): Promise<bigint[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  const versions: bigint[] = [];
  for (const entry of entries) {
    if (!/^[1-9][0-9]*$/.test(entry.name)) continue;
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(join(modelDir, entry.name))))) {
      const version = BigInt(entry.name);
      if (version > INT64_MAX) {
        skip(`ignore version directory '${entry.name}' which fails to convert to integral number (it does not fit int64)`);
        continue;
      }
      versions.push(version);
    }
  }
  return versions.sort(compareVersions);
}

/** Ascending order of versions, for Array.prototype.sort. */
export function compareVersions(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
