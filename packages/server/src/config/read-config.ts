import { readFile } from 'node:fs/promises';
import { ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { internal, notFound } from '../errors/index.js';
import { parseTextProto } from './pbtxt/parser.js';
import { printTextProto } from './pbtxt/printer.js';

/**
 * Parses config.pbtxt text. Errors are INVALID_ARG `<fileName>:<line>:<column>: <what>`, naming
 * the field path.
 */
export function parseModelConfig(text: string, fileName: string): ModelConfig {
  return parseTextProto(ModelConfigSchema, text, { fileName });
}

/** Reads and parses a config.pbtxt; a missing file is NOT_FOUND, other read failures INTERNAL. */
export async function readModelConfigFile(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`model configuration file '${path}' does not exist`);
    const reason = error instanceof Error ? error.message : String(error);
    throw internal(`failed to read model configuration file '${path}': ${reason}`, error);
  }
  return parseModelConfig(text, path);
}

/** The configuration in protobuf text format, as config.pbtxt would hold it. */
export function printModelConfig(config: ModelConfig): string {
  return printTextProto(ModelConfigSchema, config);
}
