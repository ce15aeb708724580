import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { modelConfigFromJson } from '../config/model-config-json.js';
import { internal, invalidArg, quoted } from '../errors/index.js';

/** What a load request's parameters ask for (Triton's load API: `config` and `file:<path>`). */
export interface LoadOverrides {
  /** Replaces the model's config.pbtxt (then auto-completed as usual). */
  readonly config: ModelConfig | undefined;
  /** `file:<version>/<path>` contents: the model is loaded from these files only. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export const NO_OVERRIDES: LoadOverrides = { config: undefined, files: new Map() };

const FILE_PREFIX = 'file:';

/** Reads the load parameters as the frontends hand them over (config text, file bytes). */
export function readLoadOverrides(modelName: string, parameters: Readonly<Record<string, unknown>>): LoadOverrides {
  let config: ModelConfig | undefined;
  const files = new Map<string, Uint8Array>();
  for (const [key, value] of Object.entries(parameters)) {
    if (key === 'config') {
      if (typeof value !== 'string') throw invalidArg("Config parameter 'config' must have string type for its value");
      config = parseConfigOverride(modelName, value);
    } else if (key.startsWith(FILE_PREFIX)) {
      if (!(value instanceof Uint8Array)) throw invalidArg(`File parameter '${quoted(key)}' must have bytes type for its value`);
      files.set(confinedPath(key), value);
    } else {
      throw invalidArg(`Unrecognized load parameter '${quoted(key)}'`);
    }
  }
  if (files.size > 0 && config === undefined) {
    throw invalidArg("file overrides ('file:<version>/<path>') need the model's configuration in the 'config' load parameter");
  }
  return { config, files };
}

/**
 * The `config` parameter: ModelConfig as JSON. Triton reads it while polling the model, so a bad one
 * fails as a poll does (INTERNAL, "failed to load ... failed to poll"), with the reason added.
 */
function parseConfigOverride(modelName: string, text: string): ModelConfig {
  try {
    return modelConfigFromJson(JSON.parse(text));
  } catch (error) {
    throw internal(`failed to load '${modelName}', failed to poll from model repository: Invalid config override: ${(error as Error).message}`);
  }
}

/** The file's path inside the model folder; one that leaves it (.., absolute, NUL) is refused. */
function confinedPath(key: string): string {
  const path = key.slice(FILE_PREFIX.length);
  const normalized = normalize(path);
  if (path === '' || path.includes('\0') || isAbsolute(path) || normalized.startsWith('..') || normalized === '.') {
    throw invalidArg(
      `Invalid file parameter '${quoted(key)}' with normalized path '${quoted(normalized)}' must stay within model directory.`,
    );
  }
  return normalized.split(sep).join('/');
}

/** Writes the override files into a new temporary model folder; returns it. */
export async function materializeOverrides(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nereid-override-'));
  try {
    for (const [path, data] of files) {
      const target = join(dir, path);
      const inside = relative(dir, target);
      if (inside.startsWith('..') || isAbsolute(inside)) throw invalidArg(`file override '${quoted(path)}' of model '${name}' leaves its folder`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, data).catch((error: Error) => {
        throw invalidArg(`Invalid file parameter 'file:${quoted(path)}': ${error.message}`);
      });
    }
    return dir;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
