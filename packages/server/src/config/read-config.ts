import { basename, dirname } from 'node:path';
import { printTextProto } from '@nereid/protocol';
import { ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { readModelFile } from './model-file.js';
import { parseTextProto } from './pbtxt/parser.js';

/**
 * Parses config.pbtxt text. Errors are INVALID_ARG `<fileName>:<line>:<column>: <what>`, naming
 * the field path.
 */
export function parseModelConfig(text: string, fileName: string): ModelConfig {
  return parseTextProto(ModelConfigSchema, text, { fileName });
}

/**
 * Reads and parses a config.pbtxt, which must be a regular file inside its folder (links resolved):
 * a missing file is NOT_FOUND, one leading outside the folder INVALID_ARG, other read failures
 * INTERNAL.
 */
export async function readModelConfigFile(path: string): Promise<ModelConfig> {
  const text = await readModelFile(dirname(path), basename(path), 'model configuration file');
  return parseModelConfig(text, path);
}

/** The configuration in protobuf text format, as config.pbtxt would hold it. */
export function printModelConfig(config: ModelConfig): string {
  return printTextProto(ModelConfigSchema, config);
}
