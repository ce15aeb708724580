/**
 * `--output-model-repository-path`: the chosen configs as a model repository, as model_analyzer
 * lays it out: `<model>_config_default/` and `<model>_config_<n>/` per recommended variant, each
 * with a config.pbtxt named after its folder and, when the source repository is local, a copy of
 * the model's version folders and other files, so the folder loads as is.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigResult } from '../types.js';
import { configPbtxt } from './config-pbtxt.js';

export interface OutputRepositoryOptions {
  readonly path: string;
  /** The profiled repository, when it is a local folder (its model files are copied). */
  readonly sourceRepository?: string;
  /** Replace folders that already exist (`--override-output-model-repository`). */
  readonly override: boolean;
}

/** Writes one folder per result; returns the folders written. */
export function writeOutputRepository(results: readonly ConfigResult[], options: OutputRepositoryOptions): string[] {
  mkdirSync(options.path, { recursive: true });
  const written: string[] = [];
  for (const result of results) {
    const name = result.variant.name;
    const folder = join(options.path, name);
    if (existsSync(folder)) {
      if (!options.override) throw new Error(`${folder} exists; pass --override-output-model-repository to replace it`);
      rmSync(folder, { recursive: true, force: true });
    }
    mkdirSync(folder, { recursive: true });
    const source = options.sourceRepository === undefined ? undefined : join(options.sourceRepository, result.variant.model);
    if (source !== undefined && existsSync(source)) {
      for (const entry of readdirSync(source)) {
        if (entry === 'config.pbtxt') continue;
        cpSync(join(source, entry), join(folder, entry), { recursive: true, dereference: true });
      }
    }
    writeFileSync(join(folder, 'config.pbtxt'), configPbtxt(result.config, name));
    written.push(folder);
  }
  return written;
}
