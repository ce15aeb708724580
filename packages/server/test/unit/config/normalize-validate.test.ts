import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DataType,
  ModelConfigSchema,
  ModelDynamicBatchingSchema,
  ModelInputSchema,
  ModelInstanceGroupSchema,
  ModelInstanceGroup_Kind,
  ModelResponseCacheSchema,
  ModelSequenceBatchingSchema,
  ModelTransactionPolicySchema,
  ModelTensorReshapeSchema,
  type ModelConfig,
} from '@nereid/protocol/generated/model_config_pb';
import { normalizeModelConfig } from '../../../src/config/normalize.js';
import { validateModelConfig } from '../../../src/config/validate.js';
import { ServerError } from '../../../src/errors/index.js';

const ORT = { defaultCpuInstanceCount: 2, gpus: [] };

function baseConfig(overrides: MessageInitShape<typeof ModelConfigSchema> = {}): ModelConfig {
  return create(ModelConfigSchema, {
    name: 'm',
    backend: 'onnxruntime',
    platform: 'onnxruntime_onnx',
    maxBatchSize: 8,
    input: [create(ModelInputSchema, { name: 'IN', dataType: DataType.TYPE_FP32, dims: [4n] })],
    ...overrides,
  });
}

function assertInvalid(config: ModelConfig, pattern: RegExp): void {
  assert.throws(
    () => validateModelConfig(config, { gpus: [] }),
    (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG' && pattern.test(error.message),
  );
}

test('normalisation adds Triton defaults: latest-1 policy, pinned memory, two CPU instances for ORT', () => {
  const config = baseConfig();
  normalizeModelConfig(config, ORT);
  assert.equal(config.versionPolicy?.policyChoice.case, 'latest');
  assert.equal(config.versionPolicy?.policyChoice.value?.$typeName, 'inference.ModelVersionPolicy.Latest');
  assert.equal(config.optimization?.inputPinnedMemory?.enable, true);
  assert.equal(config.optimization?.outputPinnedMemory?.enable, true);
  assert.equal(config.instanceGroup.length, 1);
  const group = config.instanceGroup[0]!;
  assert.deepEqual([group.name, group.kind, group.count], ['m', ModelInstanceGroup_Kind.CPU, 2]);
});

test('groups without names are named <model>_<index>; counts default per kind', () => {
  const config = baseConfig({
    instanceGroup: [
      create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.CPU, count: 3 }),
      create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.MODEL }),
    ],
  });
  normalizeModelConfig(config, ORT);
  assert.deepEqual(
    config.instanceGroup.map((g) => [g.name, g.count]),
    [
      ['m_0', 3],
      ['m_1', 1],
    ],
  );
});

test('dynamic batching gets preferred_batch_size = max_batch_size when none is given', () => {
  const config = baseConfig({
    schedulingChoice: { case: 'dynamicBatching', value: create(ModelDynamicBatchingSchema) },
  });
  normalizeModelConfig(config, ORT);
  assert.equal(config.schedulingChoice.case, 'dynamicBatching');
  assert.deepEqual(config.schedulingChoice.value?.preferredBatchSize, [8]);
});

test('validation accepts a normalised config and names the field of each failure', () => {
  const ok = baseConfig();
  normalizeModelConfig(ok, ORT);
  validateModelConfig(ok, { gpus: [] });

  const noDims = baseConfig({ input: [create(ModelInputSchema, { name: 'X', dataType: DataType.TYPE_FP32 })] });
  normalizeModelConfig(noDims, ORT);
  assertInvalid(noDims, /model input 'X' must specify 'dims'/);

  const badDim = baseConfig({ input: [create(ModelInputSchema, { name: 'X', dataType: DataType.TYPE_FP32, dims: [0n] })] });
  normalizeModelConfig(badDim, ORT);
  assertInvalid(badDim, /'X' dimension must be integer >= 1, or -1/);

  const noType = baseConfig({ input: [create(ModelInputSchema, { name: 'X', dims: [1n] })] });
  normalizeModelConfig(noType, ORT);
  assertInvalid(noType, /'X' must specify 'data_type'/);

  const duplicate = baseConfig({
    input: [
      create(ModelInputSchema, { name: 'X', dataType: DataType.TYPE_FP32, dims: [1n] }),
      create(ModelInputSchema, { name: 'X', dataType: DataType.TYPE_FP32, dims: [1n] }),
    ],
  });
  normalizeModelConfig(duplicate, ORT);
  assertInvalid(duplicate, /'X' is specified more than once/);

  const negative = baseConfig({ maxBatchSize: -1 });
  normalizeModelConfig(negative, ORT);
  assertInvalid(negative, /'max_batch_size' must be non-negative/);
});

test('reshape must keep the element count, and an empty reshape needs batching', () => {
  const mismatch = baseConfig({
    input: [
      create(ModelInputSchema, {
        name: 'X',
        dataType: DataType.TYPE_FP32,
        dims: [2n, 3n],
        reshape: create(ModelTensorReshapeSchema, { shape: [5n] }),
      }),
    ],
  });
  normalizeModelConfig(mismatch, ORT);
  assertInvalid(mismatch, /'X' has different size for dims and reshape/);

  const scalar = baseConfig({
    maxBatchSize: 0,
    input: [
      create(ModelInputSchema, {
        name: 'X',
        dataType: DataType.TYPE_FP32,
        dims: [1n],
        reshape: create(ModelTensorReshapeSchema, { shape: [] }),
      }),
    ],
  });
  normalizeModelConfig(scalar, ORT);
  assertInvalid(scalar, /cannot have empty reshape for non-batching model/);

  const ok = baseConfig({
    input: [
      create(ModelInputSchema, {
        name: 'X',
        dataType: DataType.TYPE_FP32,
        dims: [1n],
        reshape: create(ModelTensorReshapeSchema, { shape: [] }),
      }),
    ],
  });
  normalizeModelConfig(ok, ORT);
  validateModelConfig(ok, { gpus: [] });
});

test('preferred batch sizes above max_batch_size and KIND_GPU without GPUs are rejected', () => {
  const preferred = baseConfig({
    schedulingChoice: {
      case: 'dynamicBatching',
      value: create(ModelDynamicBatchingSchema, { preferredBatchSize: [16] }),
    },
  });
  normalizeModelConfig(preferred, ORT);
  assertInvalid(preferred, /preferred size must be <= max batch size for m/);

  const gpu = baseConfig({ instanceGroup: [create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.GPU })] });
  normalizeModelConfig(gpu, ORT);
  assertInvalid(gpu, /instance group m_0 of model m has kind KIND_GPU but no GPUs are available/);
});

test('the response cache is refused with the sequence batcher and with decoupled models, as in Triton', () => {
  const responseCache = create(ModelResponseCacheSchema, { enable: true });
  const plain = baseConfig({ responseCache });
  normalizeModelConfig(plain, ORT);
  validateModelConfig(plain, { gpus: [] });
  const sequence = baseConfig({
    responseCache,
    schedulingChoice: { case: 'sequenceBatching', value: create(ModelSequenceBatchingSchema) },
  });
  normalizeModelConfig(sequence, ORT);
  assertInvalid(sequence, /^Response Cache does not currently support model m with sequence batching scheduler/);
  const decoupled = baseConfig({ responseCache, modelTransactionPolicy: create(ModelTransactionPolicySchema, { decoupled: true }) });
  normalizeModelConfig(decoupled, ORT);
  assertInvalid(decoupled, /^Response Cache does not currently support model m with 'decoupled' transaction policy/);
  const off = baseConfig({ modelTransactionPolicy: create(ModelTransactionPolicySchema, { decoupled: true }) });
  normalizeModelConfig(off, ORT);
  validateModelConfig(off, { gpus: [] });
});
