/**
 * The models of the oracle test (onnxruntime-oracle.test.ts): discovery in examples/models/ and the
 * test fixtures, SPECIAL (the models the generic check cannot take as they are), and
 * withoutInitializers (a model's bytes minus some initializers, for onnxruntime-node).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  encodeBytesField,
  findField,
  payload,
  readFields,
  stringValue,
} from '../../../src/backends/onnxruntime/protobuf-wire.js';
import { isEnsembleModel, isJavaScriptModel, isPythonModel } from '../../helpers/test-repository.js';
import { EXAMPLES, FIXTURES } from './onnxruntime-harness.js';
import type { Prng } from './oracle-tensors.js';

// ---------------------------------------------------------------------------------------------
// Models

export interface ModelCase {
  /** `examples/<name>` or `fixtures/<name>` (plus `@<version>` for versions other than 1). */
  readonly label: string;
  readonly repository: string;
  readonly name: string;
  /** `<version>/model.onnx`: a file, or a folder holding model.onnx and its external data. */
  readonly modelPath: string;
  /** The file onnxruntime-node opens (external data is found next to it). */
  readonly modelFile: string;
  readonly hasConfig: boolean;
}

export const REPOSITORIES = [
  { prefix: 'examples', dir: EXAMPLES },
  { prefix: 'fixtures', dir: FIXTURES },
] as const;

/**
 * Every `<repo>/<name>/<version>/model.onnx`; models laid out otherwise are listed as problems.
 * Ensembles have no model file (their members are tested here).
 */
export function discoverModels(): { cases: ModelCase[]; problems: string[] } {
  const cases: ModelCase[] = [];
  const problems: string[] = [];
  for (const { prefix, dir } of REPOSITORIES) {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      const modelDir = path.join(dir, entry.name);
      if (isEnsembleModel(modelDir) || isPythonModel(modelDir) || isJavaScriptModel(modelDir)) continue;
      const versions = readdirSync(modelDir, { withFileTypes: true })
        .filter((version) => version.isDirectory() && /^\d+$/.test(version.name))
        .map((version) => version.name)
        .sort((a, b) => Number(a) - Number(b));
      let found = 0;
      for (const version of versions) {
        const modelPath = path.join(modelDir, version, 'model.onnx');
        if (!existsSync(modelPath)) continue;
        found += 1;
        const modelFile = statSync(modelPath).isDirectory() ? path.join(modelPath, 'model.onnx') : modelPath;
        cases.push({
          label: `${prefix}/${entry.name}${version === '1' ? '' : `@${version}`}`,
          repository: dir,
          name: entry.name,
          modelPath,
          modelFile,
          hasConfig: existsSync(path.join(modelDir, 'config.pbtxt')),
        });
      }
      if (found === 0) problems.push(`${prefix}/${entry.name}: no <version>/model.onnx to test`);
    }
  }
  return { cases, problems };
}

/** What a model needs beyond the generic check, and why. */
export interface Special {
  readonly why: string;
  /**
   * onnxruntime-node cannot open the model ("Unsupported data type: 16" for bfloat16 inputs and
   * outputs); the model is an identity, so each output must equal the input of the same position.
   */
  readonly identityInsteadOfOracle?: true;
  /** Text of the BYTES elements when the model reads them (default: random printable ASCII). */
  readonly text?: (rng: Prng) => string;
  /** Inputs the model is built to fail on: both the engine and onnxruntime-node must fail. */
  readonly failing?: { readonly why: string; readonly dynamicDim?: number; readonly text?: (rng: Prng) => string };
}

export const SPECIAL: Readonly<Record<string, Special>> = {
  'fixtures/identity_bf16': {
    why:
      'onnxruntime-node refuses bfloat16 graph inputs/outputs ("Unsupported data type: 16"): ' +
      'compared with its input instead (the model is Identity)',
    identityInsteadOfOracle: true,
  },
  'examples/simple_string': {
    why: 'parses its strings as int32 (ONNX Cast): fed decimal numbers; a non-number must fail on both sides',
    text: (rng) => String(rng.int(-1_000_000, 1_000_000)),
    failing: { why: 'a string that is not a number', text: (rng) => `n${rng.int(0, 99)}x` },
  },
  'examples/simple_string_dyna_sequence': {
    why: 'parses its STRING correlation ID as an integer on END rows (ONNX Cast): fed decimal IDs; a non-number must fail on both sides',
    text: (rng) => String(rng.int(-1_000_000, 1_000_000)),
    failing: { why: 'a correlation ID that is not a number', text: (rng) => `id${rng.int(0, 99)}` },
  },
  'fixtures/runtime_error': {
    why: 'Reshape to [-1, 3]: rows of 3 run (oracle), rows of 4 must fail on both sides',
    failing: { why: 'an element count not divisible by 3', dynamicDim: 4 },
  },
};

/**
 * The model bytes without the initializers named: they stay graph inputs, so the model then takes
 * them as ordinary required inputs. onnxruntime-node cannot override an initializer (it drops feeds
 * that are not among its input names: overridable initializers are not), so runs that feed one are
 * checked against this variant, which computes the same graph with the fed value.
 */
export function withoutInitializers(model: Uint8Array, names: ReadonlySet<string>): Uint8Array {
  const MODEL_GRAPH = 7;
  const GRAPH_INITIALIZER = 5;
  const TENSOR_NAME = 8;
  let removed = 0;
  const parts = readFields(model).map((field) => {
    if (field.number !== MODEL_GRAPH) return model.subarray(field.start, field.end);
    const graph = payload(model, field);
    const kept = readFields(graph).filter((graphField) => {
      if (graphField.number !== GRAPH_INITIALIZER) return true;
      const initializer = payload(graph, graphField);
      const name = findField(readFields(initializer), TENSOR_NAME);
      const drop = name !== undefined && names.has(stringValue(initializer, name));
      if (drop) removed += 1;
      return !drop;
    });
    return encodeBytesField(MODEL_GRAPH, Buffer.concat(kept.map((f) => graph.subarray(f.start, f.end))));
  });
  assert.equal(removed, names.size, `found ${removed} of the initializers ${[...names].join(', ')}`);
  return Buffer.concat(parts);
}
