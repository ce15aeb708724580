import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { ensembleSteps, validateEnsembleMembers, validateEnsembleScheduling } from '../../../src/config/ensemble-graph.js';
import { parseModelConfig } from '../../../src/config/read-config.js';
import { ServerError } from '../../../src/errors/index.js';

const IO = `
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]`;

function step(model: string, inputs: Record<string, string>, outputs: Record<string, string>): string {
  const maps = [
    ...Object.entries(inputs).map(([key, value]) => `input_map { key: "${key}" value: "${value}" }`),
    ...Object.entries(outputs).map(([key, value]) => `output_map { key: "${key}" value: "${value}" }`),
  ];
  return `{ model_name: "${model}" model_version: -1 ${maps.join(' ')} }`;
}

function ensemble(steps: string[], extra = '', io = IO): ModelConfig {
  return parseModelConfig(`name: "ens"\nplatform: "ensemble"\nmax_batch_size: 8\n${io}\n${extra}\nensemble_scheduling { step [ ${steps.join(', ')} ] }`, 'ens/config.pbtxt');
}

function rejects(config: ModelConfig, message: string): void {
  assert.throws(
    () => validateEnsembleScheduling(config),
    (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG' && error.message === message,
    message,
  );
}

test('a chain and parallel branches are valid; the steps come out in order', () => {
  const chain = ensemble([step('a', { X: 'IN' }, { Y: 'mid' }), step('b', { X: 'mid' }, { Y: 'OUT' })]);
  validateEnsembleScheduling(chain);
  const branches = ensemble(
    [step('pre', { X: 'IN' }, { Y: 'p' }), step('left', { X: 'p' }, { Y: 'l' }), step('right', { X: 'p' }, { Y: 'r' }), step('join', { L: 'l', R: 'r' }, { Y: 'OUT' })],
  );
  validateEnsembleScheduling(branches);
  assert.deepEqual(ensembleSteps(branches).map((s) => [s.index, s.modelName, [...s.inputMap], [...s.outputMap]]), [
    [0, 'pre', [['X', 'IN']], [['Y', 'p']]],
    [1, 'left', [['X', 'p']], [['Y', 'l']]],
    [2, 'right', [['X', 'p']], [['Y', 'r']]],
    [3, 'join', [['L', 'l'], ['R', 'r']], [['Y', 'OUT']]],
  ]);
});

test("graph errors name the tensor, step and ensemble with Triton's texts", () => {
  rejects(ensemble([]), "must specify 'step' for ensemble 'ens'");
  rejects(ensemble([step('', { X: 'IN' }, { Y: 'OUT' })]), "must specify 'model_name' in step 0 of ensemble 'ens'");
  rejects(ensemble([step('a', {}, { Y: 'OUT' })]), "must specify 'input_map' in step 0 of ensemble 'ens'");
  rejects(ensemble([step('a', { X: 'IN' }, {})]), "must specify 'output_map' in step 0 of ensemble 'ens'");
  rejects(
    ensemble([step('a', { X: 'IN' }, { Y: 'OUT' }), step('b', { X: 'IN' }, { Y: 'OUT' })]),
    "ensemble tensor 'OUT' can appear in an output map only once for ensemble 'ens' step 1",
  );
  // An input no step reads; an output no step writes.
  rejects(ensemble([step('a', { X: 'other' }, { Y: 'OUT' })]), "ensemble input 'IN' for ensemble ens' is not used");
  rejects(ensemble([step('a', { X: 'IN' }, { Y: 'elsewhere' })]), "ensemble output 'OUT' for ensemble ens' is not used");
  // A consumed tensor nothing produces.
  rejects(
    ensemble([step('a', { X: 'IN', Z: 'ghost' }, { Y: 'OUT' })]),
    "output 'OUT' for ensemble 'ens' is not written: at least one of its depending tensors, 'ghost', is not connected",
  );
  // A produced tensor nothing reads.
  rejects(ensemble([step('a', { X: 'IN' }, { Y: 'OUT', W: 'spare' })]), "ensemble tensor 'spare' is unused in ensemble 'ens'");
});

test('a cycle between steps never becomes ready and is refused', () => {
  const cycle = ensemble([step('a', { X: 'IN', L: 'loop2' }, { Y: 'loop1' }), step('b', { X: 'loop1' }, { Y: 'loop2', Z: 'OUT' })]);
  assert.throws(
    () => validateEnsembleScheduling(cycle),
    (error: unknown) => error instanceof ServerError && /^output 'OUT' for ensemble 'ens' is not written: at least one of its depending tensors, 'loop[12]', is not connected$/.test(error.message),
  );
});

test('ensemble-level settings Triton refuses', () => {
  rejects(ensemble([step('a', { X: 'IN' }, { Y: 'OUT' })], 'instance_group [ { count: 1 } ]'), "instance group should not be specified for ensemble 'ens'");
  rejects(ensemble([step('a', { X: 'IN' }, { Y: 'OUT' })], 'optimization { }'), "optimization should not be specified for ensemble 'ens'");
  rejects(
    ensemble([step('a', { X: 'IN' }, { Y: 'OUT' })], 'model_warmup [ { name: "w" batch_size: 1 } ]'),
    "model_warmup can not be specified for ensemble 'ens'",
  );
  rejects(ensemble([step('a', { X: 'IN' }, { Y: 'OUT' })], 'backend: "onnxruntime"'), "Ensemble model 'ens' must have platform type 'ensemble' and empty backend type");
  rejects(parseModelConfig('name: "e"\nplatform: "ensemble"\n', 'e/config.pbtxt'), 'ensemble scheduling must be set for ensemble e whose platform is ensemble');
  rejects(
    parseModelConfig(`name: "m"\nplatform: "onnxruntime_onnx"\n${IO}\nensemble_scheduling { step [ ${step('a', { X: 'IN' }, { Y: 'OUT' })} ] }`, 'm/config.pbtxt'),
    "ensemble scheduling cannot be set for model 'm' whose platform is not ensemble",
  );
});

function member(name: string, text: string): ModelConfig {
  return parseModelConfig(`name: "${name}"\nplatform: "onnxruntime_onnx"\n${text}`, `${name}/config.pbtxt`);
}

function membersReject(config: ModelConfig, members: Record<string, ModelConfig>, message: string): void {
  assert.throws(
    () => validateEnsembleMembers(config, (s) => members[s.modelName]!),
    (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG' && error.message === message,
    message,
  );
}

test("member checks: batch sizes, mapped names, datatypes and shapes, with Triton's texts", () => {
  const config = ensemble([step('m', { X: 'IN' }, { Y: 'OUT' })]);
  const good = member('m', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]');
  validateEnsembleMembers(config, () => good);
  membersReject(
    config,
    { m: member('m', 'max_batch_size: 4\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]') },
    'ensemble ens allows maximum batch size 8, but it contains model m which only allows maximum batch size to be 4',
  );
  membersReject(
    config,
    { m: member('m', 'max_batch_size: 8\ninput [ { name: "X2" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]') },
    'in ensemble ens, ensemble tensor IN is mapping to non-existing input X in model m',
  );
  membersReject(
    config,
    {
      m: member(
        'm',
        'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "EXTRA" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]',
      ),
    },
    'in ensemble ens, input EXTRA in model m is not mapped to any ensemble tensors',
  );
  validateEnsembleMembers(config, () =>
    member(
      'm',
      'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "EXTRA" data_type: TYPE_FP32 dims: [ 4 ] optional: true } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]',
    ),
  );
  membersReject(
    config,
    { m: member('m', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y2" data_type: TYPE_FP32 dims: [ 4 ] } ]') },
    'in ensemble ens, ensemble tensor OUT is mapped from non-existing output Y in model m',
  );
  membersReject(
    config,
    { m: member('m', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_INT32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]') },
    'in ensemble ens, ensemble tensor IN: inconsistent data type: TYPE_FP32 is inferred from model ens while TYPE_INT32 is inferred from model m',
  );
  membersReject(
    config,
    { m: member('m', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 5 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]') },
    'in ensemble ens, ensemble tensor IN: inconsistent shape: [-1,4] is inferred from model ens while [-1,5] is inferred from model m',
  );
  // A non-batching member whose dims spell out the batch dimension matches a batching ensemble.
  validateEnsembleMembers(config, () =>
    member('m', 'max_batch_size: 0\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]'),
  );
  // Between two steps: producer and consumer disagree.
  const chain = ensemble([step('a', { X: 'IN' }, { Y: 'mid' }), step('b', { X: 'mid' }, { Y: 'OUT' })]);
  membersReject(
    chain,
    {
      a: member('a', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 2, 2 ] } ]'),
      b: member('b', 'max_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]'),
    },
    'in ensemble ens, ensemble tensor mid: inconsistent shape: [-1,2,2] is inferred from model a while [-1,4] is inferred from model b',
  );
});
