/**
 * The repository of the ensemble benchmark (ensemble-bench.ts), written to a temporary folder:
 *   - `simple` (examples/models, ~10 µs a run: what an ensemble costs the server) and
 *     `simple_ensemble`, a one-step ensemble over it;
 *   - `mlp` (bench/models, ~1 ms a run at batch 1: the compute-bound model) and `mlp_ensemble`;
 *   - `branch_fast` and `branch_slow`: MatMul chains (engine-model.ts) applying one 2048×2048 weight
 *     FAST_REPEAT and SLOW_REPEAT times, one intra-op thread and one instance each, and
 *     `two_branch`, an ensemble running both on the same input at once.
 * The members keep the configs they are committed with (so `simple` and `mlp` get dynamic batching
 * from auto-complete, as a user's would); the ensembles are written as a user would write them.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WIDTH, engineInput, matmulChainModel, writeModel } from './engine-model.js';
import { inputValues } from './batching-models.js';
import { binaryCall } from './infer-calls.js';
import type { HttpCall } from './load.js';
import { REPO_ROOT } from './servers.js';

export const FAST_REPEAT = 2;
export const SLOW_REPEAT = 5;

interface TensorSpec {
  readonly name: string;
  readonly type: string;
  readonly dims: readonly number[];
}

interface StepSpec {
  readonly model: string;
  /** Member tensor → ensemble tensor. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
}

const tensors = (kind: string, list: readonly TensorSpec[]): string =>
  `${kind} [\n${list.map((t) => `  { name: "${t.name}" data_type: ${t.type} dims: [ ${t.dims.join(', ')} ] }`).join(',\n')}\n]`;

const maps = (kind: string, map: Readonly<Record<string, string>>): string =>
  Object.entries(map)
    .map(([key, value]) => `      ${kind} { key: "${key}" value: "${value}" }`)
    .join('\n');

/** An ensemble's config.pbtxt. */
export function ensembleConfig(name: string, comment: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], steps: readonly StepSpec[]): string {
  const stepText = steps
    .map((step) => [`    {`, `      model_name: "${step.model}"`, `      model_version: -1`, maps('input_map', step.inputs), maps('output_map', step.outputs), `    }`].join('\n'))
    .join(',\n');
  return [
    `# ${comment}`,
    `name: "${name}"`,
    'platform: "ensemble"',
    'max_batch_size: 8',
    tensors('input', inputs),
    tensors('output', outputs),
    `ensemble_scheduling {\n  step [\n${stepText}\n  ]\n}`,
    '',
  ].join('\n');
}

function writeEnsemble(repository: string, name: string, config: string): void {
  mkdirSync(join(repository, name, '1'), { recursive: true });
  writeFileSync(join(repository, name, 'config.pbtxt'), config);
}

/** A committed model folder, linked into the repository. */
function linkModel(repository: string, folder: readonly string[]): void {
  symlinkSync(join(REPO_ROOT, ...folder), join(repository, folder[folder.length - 1]!));
}

const SIMPLE_IO = {
  inputs: [
    { name: 'INPUT0', type: 'TYPE_INT32', dims: [16] },
    { name: 'INPUT1', type: 'TYPE_INT32', dims: [16] },
  ],
  outputs: [
    { name: 'OUTPUT0', type: 'TYPE_INT32', dims: [16] },
    { name: 'OUTPUT1', type: 'TYPE_INT32', dims: [16] },
  ],
};
const identityMap = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, n]));

function chainConfig(name: string, repeat: number): string {
  return [
    `# ${repeat} applications of one 2048x2048 FP32 weight: a branch of known cost.`,
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 8',
    'instance_group [ { kind: KIND_CPU count: 1 } ]',
    'parameters { key: "intra_op_thread_count" value { string_value: "1" } }',
    '',
  ].join('\n');
}

/** Writes every model of the benchmark into `repository`. */
export function writeEnsembleRepository(repository: string): void {
  linkModel(repository, ['examples', 'models', 'simple']);
  writeEnsemble(
    repository,
    'simple_ensemble',
    ensembleConfig('simple_ensemble', 'One step: `simple` as an ensemble.', SIMPLE_IO.inputs, SIMPLE_IO.outputs, [
      { model: 'simple', inputs: identityMap(['INPUT0', 'INPUT1']), outputs: identityMap(['OUTPUT0', 'OUTPUT1']) },
    ]),
  );
  linkModel(repository, ['bench', 'models', 'mlp']);
  writeEnsemble(
    repository,
    'mlp_ensemble',
    ensembleConfig(
      'mlp_ensemble',
      'One step: `mlp` as an ensemble.',
      [{ name: 'INPUT0', type: 'TYPE_FP32', dims: [256] }],
      [{ name: 'OUTPUT0', type: 'TYPE_FP32', dims: [10] }],
      [{ model: 'mlp', inputs: { INPUT0: 'INPUT0' }, outputs: { OUTPUT0: 'OUTPUT0' } }],
    ),
  );
  for (const [name, repeat] of [
    ['branch_fast', FAST_REPEAT],
    ['branch_slow', SLOW_REPEAT],
  ] as const) {
    writeModel(repository, name, matmulChainModel(1, repeat), chainConfig(name, repeat));
  }
  writeEnsemble(
    repository,
    'two_branch',
    ensembleConfig(
      'two_branch',
      'Two branches of different cost on the same input, run at once.',
      [{ name: 'INPUT0', type: 'TYPE_FP32', dims: [WIDTH] }],
      [
        { name: 'FAST', type: 'TYPE_FP32', dims: [WIDTH] },
        { name: 'SLOW', type: 'TYPE_FP32', dims: [WIDTH] },
      ],
      [
        { model: 'branch_fast', inputs: { INPUT0: 'INPUT0' }, outputs: { OUTPUT0: 'FAST' } },
        { model: 'branch_slow', inputs: { INPUT0: 'INPUT0' }, outputs: { OUTPUT0: 'SLOW' } },
      ],
    ),
  );
}

const bytes = (values: Int32Array | Float32Array): Buffer => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

/** The batch-1 binary-extension request of each served model. */
export function benchCall(model: string): HttpCall {
  if (model === 'simple' || model === 'simple_ensemble') {
    const spec = { datatype: 'INT32', dims: [16] } as const;
    return binaryCall(
      model,
      ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: bytes(inputValues({ name, ...spec }, 1)) })),
      ['OUTPUT0', 'OUTPUT1'],
    );
  }
  if (model === 'mlp' || model === 'mlp_ensemble') {
    const data = bytes(inputValues({ name: 'INPUT0', datatype: 'FP32', dims: [256] }, 1));
    return binaryCall(model, [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data }], ['OUTPUT0']);
  }
  const input = [{ name: 'INPUT0', datatype: 'FP32', shape: [1, WIDTH], data: bytes(engineInput(1)) }];
  return binaryCall(model, input, model === 'two_branch' ? ['FAST', 'SLOW'] : ['OUTPUT0']);
}
