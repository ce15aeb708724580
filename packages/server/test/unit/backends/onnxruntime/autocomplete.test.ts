import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  BatchInputSchema,
  DataType,
  ModelConfigSchema,
  ModelDynamicBatchingSchema,
  ModelInputSchema,
  ModelOutputSchema,
  ModelSequenceBatchingSchema,
  type ModelConfig,
} from '@nereid/protocol/generated/model_config_pb';
import {
  autoCompleteConfig,
  defaultMaxBatchSizeOf,
  supportsBatching,
} from '../../../../src/backends/onnxruntime/autocomplete.js';
import type { ModelIo, TensorInfo } from '../../../../src/backends/onnxruntime/tensor-info.js';
import { ServerError } from '../../../../src/errors/server-error.js';
import type { Logger } from '../../../../src/observability/logger.js';
import { silentLogger } from '../../../../src/observability/logger.js';

const t = (name: string, type: string, shape: number[]): TensorInfo => ({ name, type, shape });

/** Like `simple`: [batch, 16] INT32 in and out. */
const BATCHABLE: ModelIo = {
  inputs: [t('INPUT0', 'int32', [-1, 16]), t('INPUT1', 'int32', [-1, 16])],
  outputs: [t('OUTPUT0', 'int32', [-1, 16]), t('OUTPUT1', 'float32', [-1, -1, 3])],
};
const FIXED: ModelIo = { inputs: [t('X', 'float32', [2, 3])], outputs: [t('Y', 'float32', [2, 3])] };
const SCALAR_BATCH: ModelIo = { inputs: [t('X', 'float32', [-1])], outputs: [t('Y', 'float32', [-1])] };
const RANK0: ModelIo = { inputs: [t('X', 'string', [])], outputs: [t('Y', 'string', [])] };
/** Like the `optional_initializer` fixtures: BIAS is an overridable initializer (optional). */
const BIAS = (shape: number[]): TensorInfo => ({ ...t('BIAS', 'float32', shape), optional: true });
const OPTIONAL_FIXED: ModelIo = {
  inputs: [t('INPUT0', 'float32', [3]), BIAS([3])],
  outputs: [t('OUTPUT0', 'float32', [3])],
};
const OPTIONAL_BATCHABLE: ModelIo = {
  inputs: [t('INPUT0', 'float32', [-1, 3]), BIAS([3])],
  outputs: [t('OUTPUT0', 'float32', [-1, 3])],
};

function config(init: MessageInitShape<typeof ModelConfigSchema> = {}): ModelConfig {
  return create(ModelConfigSchema, { name: 'm', ...init });
}

function complete(cfg: ModelConfig, io: ModelIo, defaultMaxBatchSize = 4, logger: Logger = silentLogger): ModelConfig {
  autoCompleteConfig(cfg, io, { defaultMaxBatchSize, logger });
  return cfg;
}

const optionals = (cfg: ModelConfig): unknown =>
  cfg.input.map((io) => [io.name, DataType[io.dataType], io.dims.map(Number), io.optional]);

const summary = (cfg: ModelConfig): unknown => ({
  maxBatchSize: cfg.maxBatchSize,
  scheduling: cfg.schedulingChoice.case,
  input: cfg.input.map((io) => [io.name, DataType[io.dataType], io.dims.map(Number), io.reshape?.shape.map(Number)]),
  output: cfg.output.map((io) => [io.name, DataType[io.dataType], io.dims.map(Number), io.reshape?.shape.map(Number)]),
});

describe('onnxruntime auto-complete', () => {
  it('fills a batchable model: max_batch_size 4, dynamic_batching, dims without the batch dim', () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => warnings.push(message) };
    const cfg = complete(config(), BATCHABLE, 4, logger);
    assert.deepEqual(summary(cfg), {
      maxBatchSize: 4,
      scheduling: 'dynamicBatching',
      input: [
        ['INPUT0', 'TYPE_INT32', [16], undefined],
        ['INPUT1', 'TYPE_INT32', [16], undefined],
      ],
      output: [
        ['OUTPUT0', 'TYPE_INT32', [16], undefined],
        ['OUTPUT1', 'TYPE_FP32', [-1, 3], undefined],
      ],
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /autofilled max_batch_size to 4 for model 'm'/);
  });

  it('uses default-max-batch-size from the backend config', () => {
    assert.equal(defaultMaxBatchSizeOf(new Map()), 4);
    assert.equal(defaultMaxBatchSizeOf(new Map([['default-max-batch-size', '16']])), 16);
    assert.equal(defaultMaxBatchSizeOf(new Map([['default-max-batch-size', '-2']])), 0);
    assert.throws(() => defaultMaxBatchSizeOf(new Map([['default-max-batch-size', 'x']])), ServerError);
    assert.equal(complete(config(), BATCHABLE, 16).maxBatchSize, 16);
  });

  it('adds no dynamic_batching when max_batch_size ends up 1 or a scheduler is set', () => {
    const one = complete(config(), BATCHABLE, 1);
    assert.equal(one.maxBatchSize, 1);
    assert.equal(one.schedulingChoice.case, undefined);
    const sequence = complete(
      config({ schedulingChoice: { case: 'sequenceBatching', value: create(ModelSequenceBatchingSchema) } }),
      BATCHABLE,
    );
    assert.equal(sequence.schedulingChoice.case, 'sequenceBatching');
    const dynamic = create(ModelDynamicBatchingSchema, { maxQueueDelayMicroseconds: 100n });
    const kept = complete(config({ schedulingChoice: { case: 'dynamicBatching', value: dynamic } }), BATCHABLE);
    assert.equal(kept.schedulingChoice.value, dynamic);
  });

  it('keeps a configured max_batch_size and still adds dynamic_batching', () => {
    const cfg = complete(config({ maxBatchSize: 8 }), BATCHABLE);
    assert.equal(cfg.maxBatchSize, 8);
    assert.equal(cfg.schedulingChoice.case, 'dynamicBatching');
  });

  it('keeps full shapes and max_batch_size 0 when the first dim is fixed', () => {
    assert.equal(supportsBatching(FIXED), false);
    assert.deepEqual(summary(complete(config(), FIXED)), {
      maxBatchSize: 0,
      scheduling: undefined,
      input: [['X', 'TYPE_FP32', [2, 3], undefined]],
      output: [['Y', 'TYPE_FP32', [2, 3], undefined]],
    });
  });

  it('refuses a non-zero max_batch_size for a model that cannot batch', () => {
    assert.throws(
      () => complete(config({ maxBatchSize: 2 }), FIXED),
      (error) =>
        error instanceof ServerError &&
        error.code === 'INVALID_ARG' &&
        error.message ===
          "autofill failed for model 'm': model does not support batching while non-zero max_batch_size is specified",
    );
  });

  it('needs a dynamic first dim in every input and output to batch', () => {
    const mixed: ModelIo = { inputs: [t('X', 'float32', [-1, 4])], outputs: [t('Y', 'float32', [4])] };
    assert.equal(supportsBatching(mixed), false);
    assert.equal(supportsBatching(RANK0), false);
    assert.equal(supportsBatching(SCALAR_BATCH), true);
  });

  it('turns [batch] tensors into dims [1] with an empty reshape', () => {
    assert.deepEqual(summary(complete(config(), SCALAR_BATCH)), {
      maxBatchSize: 4,
      scheduling: 'dynamicBatching',
      input: [['X', 'TYPE_FP32', [1], []]],
      output: [['Y', 'TYPE_FP32', [1], []]],
    });
  });

  it('gives rank-0 tensors dims [1] and no reshape when not batching', () => {
    assert.deepEqual(summary(complete(config(), RANK0)), {
      maxBatchSize: 0,
      scheduling: undefined,
      input: [['X', 'TYPE_STRING', [1], undefined]],
      output: [['Y', 'TYPE_STRING', [1], undefined]],
    });
  });

  it('skips everything when inputs and outputs are both given', () => {
    const cfg = complete(
      config({
        input: [create(ModelInputSchema, { name: 'INPUT0', dataType: DataType.TYPE_INT32, dims: [16n] })],
        output: [create(ModelOutputSchema, { name: 'OUTPUT0', dataType: DataType.TYPE_INT32, dims: [16n] })],
      }),
      BATCHABLE,
    );
    assert.equal(cfg.maxBatchSize, 0);
    assert.equal(cfg.schedulingChoice.case, undefined);
    assert.equal(cfg.input.length, 1);
  });

  it('fills only what is missing; batch_input counts as an input', () => {
    const given = create(ModelOutputSchema, { name: 'OUTPUT0', dataType: DataType.TYPE_INT32, dims: [16n] });
    const cfg = complete(config({ maxBatchSize: 2, output: [given] }), BATCHABLE);
    assert.deepEqual(cfg.output, [given]);
    assert.deepEqual(cfg.input.map((io) => io.name), ['INPUT0', 'INPUT1']);

    const withBatchInput = complete(
      config({ maxBatchSize: 2, batchInput: [create(BatchInputSchema, { targetName: ['B'] })] }),
      BATCHABLE,
    );
    assert.equal(withBatchInput.input.length, 0);
    assert.equal(withBatchInput.output.length, 2);
  });

  it('lists an initializer-backed input as optional, after the inputs, when the model cannot batch', () => {
    const cfg = complete(config(), OPTIONAL_FIXED);
    assert.equal(cfg.maxBatchSize, 0);
    assert.equal(cfg.schedulingChoice.case, undefined);
    assert.deepEqual(optionals(cfg), [
      ['INPUT0', 'TYPE_FP32', [3], false],
      ['BIAS', 'TYPE_FP32', [3], true],
    ]);
  });

  it('leaves initializer-backed inputs out of batching, and out of a batching model', () => {
    // BIAS is [3], not [-1, ...]: counting it would make the model unbatchable.
    assert.equal(supportsBatching(OPTIONAL_BATCHABLE), true);
    assert.equal(supportsBatching({ ...OPTIONAL_BATCHABLE, inputs: [t('INPUT0', 'float32', [-1, 3]), t('BIAS', 'float32', [3])] }), false);
    const cfg = complete(config(), OPTIONAL_BATCHABLE);
    assert.equal(cfg.maxBatchSize, 4);
    assert.equal(cfg.schedulingChoice.case, 'dynamicBatching');
    assert.deepEqual(optionals(cfg), [['INPUT0', 'TYPE_FP32', [3], false]]);
    const configured = complete(config({ maxBatchSize: 2 }), OPTIONAL_BATCHABLE);
    assert.deepEqual(optionals(configured), [['INPUT0', 'TYPE_FP32', [3], false]]);
  });

  it('keeps an initializer-backed input (optional) when default-max-batch-size 0 turns batching off', () => {
    const cfg = complete(config(), OPTIONAL_BATCHABLE, 0);
    assert.equal(cfg.maxBatchSize, 0);
    assert.deepEqual(optionals(cfg), [
      ['INPUT0', 'TYPE_FP32', [-1, 3], false],
      ['BIAS', 'TYPE_FP32', [3], true],
    ]);
  });

  it('adds no optional input when the config already names its inputs', () => {
    const given = create(ModelInputSchema, { name: 'INPUT0', dataType: DataType.TYPE_FP32, dims: [3n] });
    const cfg = complete(config({ input: [given] }), OPTIONAL_FIXED);
    assert.deepEqual(optionals(cfg), [['INPUT0', 'TYPE_FP32', [3], false]]);
    assert.deepEqual(cfg.output.map((io) => io.name), ['OUTPUT0']);
  });

  it('writes TYPE_INVALID for element types Triton cannot name', () => {
    const io: ModelIo = { inputs: [t('X', 'int4', [2])], outputs: [t('Y', '', [])] };
    const cfg = complete(config(), io);
    assert.equal(cfg.input[0]?.dataType, DataType.TYPE_INVALID);
    assert.equal(cfg.output[0]?.dataType, DataType.TYPE_INVALID);
  });
});
