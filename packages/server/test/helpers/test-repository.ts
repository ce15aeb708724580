import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEnsemble } from '../../src/config/ensemble-graph.js';
import { parseModelConfig } from '../../src/config/read-config.js';
import { EXAMPLE_MODELS, FIXTURE_MODELS } from './paths.js';

/** Whether a repository's model folder holds a Python model (`backend: "python"`, or `1/model.py` and no config). */
export function isPythonModel(modelDir: string): boolean {
  const file = join(modelDir, 'config.pbtxt');
  if (!existsSync(file)) return existsSync(join(modelDir, '1', 'model.py'));
  return parseModelConfig(readFileSync(file, 'utf8'), file).backend === 'python';
}

/** Whether a repository's model folder holds a JavaScript model (`backend: "javascript"`). */
export function isJavaScriptModel(modelDir: string): boolean {
  const file = join(modelDir, 'config.pbtxt');
  return existsSync(file) && parseModelConfig(readFileSync(file, 'utf8'), file).backend === 'javascript';
}

/** Whether a repository's model folder holds an ensemble (a config.pbtxt and no model file of its own). */
export function isEnsembleModel(modelDir: string): boolean {
  const file = join(modelDir, 'config.pbtxt');
  return existsSync(file) && isEnsemble(parseModelConfig(readFileSync(file, 'utf8'), file));
}

export const DATATYPE_MODELS: Readonly<Record<string, string>> = {
  BOOL: 'identity_bool',
  UINT8: 'identity_uint8',
  UINT16: 'identity_uint16',
  UINT32: 'identity_uint32',
  UINT64: 'identity_uint64',
  INT8: 'identity_int8',
  INT16: 'identity_int16',
  INT32: 'identity_int32',
  INT64: 'identity_int64',
  FP16: 'identity_fp16',
  BF16: 'identity_bf16',
  FP32: 'identity_fp32',
  FP64: 'identity_fp64',
  BYTES: 'identity_bytes',
};

/**
 * Fixtures whose BIAS is an ONNX overridable initializer (OUTPUT0 = INPUT0 + BIAS): served as an
 * optional input by the two that do not batch, left out by the batching one.
 */
export const OPTIONAL_INPUT_MODELS = [
  'optional_initializer',
  'optional_initializer_config',
  'optional_initializer_batching',
] as const;

/**
 * A temporary repository for protocol tests: the example models, an identity model per datatype,
 * the optional-input fixtures, and `simple_labels` (simple with a label file, for classification),
 * linked rather than copied.
 */
export function buildConformanceRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-conformance-'));
  for (const name of ['simple', 'simple_string', 'simple_identity', 'add_sub_no_config']) {
    symlinkSync(join(EXAMPLE_MODELS, name), join(dir, name));
  }
  for (const name of [...Object.values(DATATYPE_MODELS), 'runtime_error', ...OPTIONAL_INPUT_MODELS]) {
    symlinkSync(join(FIXTURE_MODELS, name), join(dir, name));
  }
  const labelled = join(dir, 'simple_labels');
  cpSync(join(EXAMPLE_MODELS, 'simple'), labelled, { recursive: true });
  const config = readFileSync(join(labelled, 'config.pbtxt'), 'utf8')
    .replace('name: "simple"', 'name: "simple_labels"')
    .replace(/(name: "OUTPUT0"\s*\n\s*data_type: TYPE_INT32)/, '$1\n    label_filename: "labels.txt"');
  writeFileSync(join(labelled, 'config.pbtxt'), config);
  writeFileSync(join(labelled, 'labels.txt'), Array.from({ length: 16 }, (_, i) => `label_${i}`).join('\n') + '\n');
  return dir;
}
