import { createHash } from 'node:crypto';
import { lstat, readdir, stat } from 'node:fs/promises';
import { create } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { readModelFile } from '../config/model-file.js';
import { parseModelConfig } from '../config/read-config.js';
import { join } from 'node:path';
import { invalidArg } from '../errors/index.js';
import { listVersions } from './model-dir.js';

/** Where a model's files are and which config file applies (`--model-config-name`). */
export interface ModelSource {
  readonly name: string;
  readonly dir: string;
  /** The config file in use, relative to `dir`; undefined when there is none (auto-complete fills it). */
  readonly configFile: string | undefined;
}

/**
 * A model's content as the repository manager compares it between loads and polls: the config
 * file's text and, per version folder, a digest of every file's path, size and mtime.
 */
export interface ModelFingerprint {
  readonly config: string;
  readonly versions: ReadonlyMap<bigint, string>;
  /** Bytes of each version folder's files (what the memory budget counts). */
  readonly bytes: ReadonlyMap<bigint, number>;
}

/** Triton's `configs/<name>.pbtxt` when `--model-config-name` names one that exists, else config.pbtxt. */
export async function resolveSource(name: string, dir: string, configName: string): Promise<ModelSource> {
  if (configName !== '') {
    const custom = `configs/${configName}.pbtxt`;
    if (await exists(join(dir, custom))) return { name, dir, configFile: custom };
  }
  return { name, dir, configFile: (await exists(join(dir, 'config.pbtxt'))) ? 'config.pbtxt' : undefined };
}

/**
 * The config a model loads with: its config file parsed, or an empty one for auto-complete to fill
 * when it has none (refused with `--disable-auto-complete-config`). `text`: the file's text as read.
 */
export function readSourceConfig(source: ModelSource, text: string, autoCompleteConfig: boolean): ModelConfig {
  if (source.configFile !== undefined) return parseModelConfig(text, join(source.dir, source.configFile));
  if (!autoCompleteConfig) {
    throw invalidArg(`model '${source.name}' has no config.pbtxt and auto-complete is disabled (--disable-auto-complete-config)`);
  }
  return create(ModelConfigSchema);
}

/** Files a model folder may hold before fingerprinting refuses it (a runaway folder, not a model). */
const MAX_FILES = 100_000;

/**
 * Reads the config (confined to the model folder, see readModelFile) and digests the version
 * folders; `warn` hears of version folders that are skipped.
 */
export async function fingerprintOf(source: ModelSource, warn: (message: string) => void = () => {}): Promise<ModelFingerprint> {
  const config = source.configFile === undefined ? '' : await readModelFile(source.dir, source.configFile, 'model configuration file');
  const versions = new Map<bigint, string>();
  const bytes = new Map<bigint, number>();
  const budget = { files: MAX_FILES, bytes: 0 };
  for (const version of await listVersions(source.dir, warn)) {
    const hash = createHash('sha256');
    budget.bytes = 0;
    await digestFolder(join(source.dir, String(version)), '', hash, budget);
    versions.set(version, hash.digest('hex'));
    bytes.set(version, budget.bytes);
  }
  // Files beside the versions (labels, initial_state/, warmup/) change every version's result. The
  // config files are left out: the manager compares configs itself (an instance-count-only edit
  // must not look like new files).
  const shared = createHash('sha256');
  const beside = (entry: string): boolean => !/^[1-9][0-9]*$/.test(entry) && entry !== 'config.pbtxt' && entry !== 'configs';
  await digestFolder(source.dir, '', shared, budget, beside);
  const sharedDigest = shared.digest('hex');
  for (const [version, digest] of versions) versions.set(version, `${digest}:${sharedDigest}`);
  return { config, versions, bytes };
}

/** A fingerprint as one string, to tell whether the files changed since a load attempt ('unreadable' when they could not be read). */
export function fingerprintDigest(fingerprint: ModelFingerprint | undefined): string {
  if (fingerprint === undefined) return 'unreadable';
  return `${fingerprint.config}\u0000${[...fingerprint.versions].map(([version, hash]) => `${version}=${hash}`).join(',')}`;
}

async function digestFolder(
  dir: string,
  prefix: string,
  hash: ReturnType<typeof createHash>,
  budget: { files: number; bytes: number },
  include: (entry: string) => boolean = () => true,
): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true }).catch(() => [])).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    if (!include(entry.name)) continue;
    if (--budget.files < 0) throw invalidArg(`model folder '${dir}' holds more than ${MAX_FILES} files`);
    const path = join(dir, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (info.isDirectory()) {
      hash.update(`d:${prefix}${entry.name}\n`);
      await digestFolder(path, `${prefix}${entry.name}/`, hash, budget);
    } else {
      hash.update(`f:${prefix}${entry.name}:${info.size}:${info.mtimeMs}:${info.ino}\n`);
      budget.bytes += info.size;
    }
  }
}

/** Present, as a file or a link (readModelFile then decides whether it may be read). */
async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
