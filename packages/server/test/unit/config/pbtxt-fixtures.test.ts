// Every config example in Triton's user guide (model_configuration.md, batcher.md,
// ensemble_models.md, ragged_batching.md, optimization.md, implicit_state_management.md,
// model_execution.md, response_cache.md, metrics.md) and the L0_config_json warmup/queue-policy
// configs, rewritten under test/fixtures/configs with the same syntax, parsed and round-tripped.
import { pathToFileURL } from 'node:url';
import { FIXTURE_CONFIGS } from '../../helpers/paths.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { equals } from '@bufbuild/protobuf';
import {
  BatchInput_Kind,
  DataType,
  ModelConfigSchema,
  ModelInstanceGroup_Kind,
  ModelQueuePolicy_TimeoutAction,
  ModelSequenceBatching_Control_Kind,
} from '@nereid/protocol/generated/model_config_pb';
import type {
  ModelConfig,
  ModelDynamicBatching,
  ModelEnsembling,
  ModelSequenceBatching,
} from '@nereid/protocol/generated/model_config_pb';
import { parseModelConfig, printModelConfig } from '../../../src/config/read-config.js';

const FIXTURES = pathToFileURL(FIXTURE_CONFIGS + '/');
const { FP16, FP32, INT32, INT64, STRING, UINT64 } = {
  FP16: DataType.TYPE_FP16, FP32: DataType.TYPE_FP32, INT32: DataType.TYPE_INT32,
  INT64: DataType.TYPE_INT64, STRING: DataType.TYPE_STRING, UINT64: DataType.TYPE_UINT64,
};

function load(file: string): ModelConfig {
  return parseModelConfig(readFileSync(new URL(file, FIXTURES), 'utf8'), file);
}

function dynamic(c: ModelConfig): ModelDynamicBatching {
  assert.equal(c.schedulingChoice.case, 'dynamicBatching');
  return c.schedulingChoice.value as ModelDynamicBatching;
}
function sequence(c: ModelConfig): ModelSequenceBatching {
  assert.equal(c.schedulingChoice.case, 'sequenceBatching');
  return c.schedulingChoice.value as ModelSequenceBatching;
}
function ensemble(c: ModelConfig): ModelEnsembling {
  assert.equal(c.schedulingChoice.case, 'ensembleScheduling');
  return c.schedulingChoice.value as ModelEnsembling;
}
const io = (list: ModelConfig['input'] | ModelConfig['output']) =>
  list.map((t) => [t.name, t.dataType, t.dims.map(Number)]);

const CHECKS: Record<string, (c: ModelConfig) => void> = {
  'mc-minimal.pbtxt': (c) => {
    assert.equal(c.platform, 'onnxruntime_onnx');
    assert.equal(c.maxBatchSize, 4);
    assert.deepEqual(io(c.input), [['left', FP32, [12]], ['right', FP32, [12]]]);
    assert.deepEqual(io(c.output), [['sum', FP32, [12]]]);
  },
  'mc-batched-shapes.pbtxt': (c) => {
    assert.equal(c.maxBatchSize, 32);
    assert.deepEqual([io(c.input), io(c.output)], [[['features', FP32, [24]]], [['scores', FP32, [6]]]]);
  },
  'mc-unbatched-shapes.pbtxt': (c) => {
    assert.equal(c.maxBatchSize, 0);
    assert.deepEqual(io(c.output), [['scores', FP32, [6]]]);
  },
  'mc-variable-dims.pbtxt': (c) => {
    assert.equal(c.backend, 'onnxruntime');
    assert.deepEqual(io(c.input), [['grid', INT64, [5, -1]]]);
  },
  'mc-reshape-input.pbtxt': (c) => {
    assert.deepEqual(c.input[0]?.dims, [1n]);
    assert.deepEqual(c.input[0]?.reshape?.shape, []);
    assert.equal(c.input[0]?.dataType, DataType.TYPE_INVALID);
  },
  'mc-reshape-output.pbtxt': (c) => {
    assert.equal(c.output[0]?.name, 'score');
    assert.ok(c.output[0]?.reshape !== undefined);
  },
  'mc-shape-tensor.pbtxt': (c) => {
    assert.equal(c.name, 'shape_demo');
    assert.deepEqual(io(c.input), [['values', FP32, [2, 5]], ['target_shape', INT32, [3]]]);
    assert.deepEqual(c.input.map((i) => i.isShapeTensor), [false, true]);
  },
  'mc-non-linear-io.pbtxt': (c) => {
    assert.deepEqual(c.input.map((i) => [i.dataType, i.isNonLinearFormatIo]), [[FP16, true], [FP16, true]]);
    assert.deepEqual(io(c.output), [['MASK', FP16, [2, 7]]]);
  },
  'mc-version-all-inline.pbtxt': (c) => assert.equal(c.versionPolicy?.policyChoice.case, 'all'),
  'mc-version-latest-inline.pbtxt': (c) => {
    const choice = c.versionPolicy?.policyChoice;
    assert.equal(choice?.case === 'latest' && choice.value.numVersions, 3);
  },
  'mc-version-specific-inline.pbtxt': (c) => {
    const choice = c.versionPolicy?.policyChoice;
    assert.deepEqual(choice?.case === 'specific' && choice.value.versions, [2n, 5n]);
  },
  'mc-version-all.pbtxt': (c) => {
    assert.equal(c.versionPolicy?.policyChoice.case, 'all');
    assert.equal(c.input.length, 2);
  },
  'mc-instance-gpu-count.pbtxt': (c) => {
    assert.deepEqual(c.instanceGroup.map((g) => [g.count, g.kind]), [[3, ModelInstanceGroup_Kind.GPU]]);
  },
  'mc-instance-gpu-groups.pbtxt': (c) => {
    assert.deepEqual(c.instanceGroup.map((g) => [g.count, g.gpus]), [[2, [1]], [4, [0, 3]]]);
  },
  'mc-instance-cpu.pbtxt': (c) => {
    assert.deepEqual(c.instanceGroup.map((g) => [g.count, g.kind]), [[3, ModelInstanceGroup_Kind.CPU]]);
  },
  'mc-instance-host-policy.pbtxt': (c) => assert.equal(c.instanceGroup[0]?.hostPolicy, 'numa_1'),
  'mc-rate-limiter.pbtxt': (c) => {
    const limiter = c.instanceGroup[0]?.rateLimiter;
    assert.equal(limiter?.priority, 4);
    assert.deepEqual(limiter?.resources.map((r) => [r.name, r.global, r.count]), [['scratch', false, 3], ['dma', true, 1]]);
    assert.deepEqual(c.instanceGroup[0]?.gpus, [1, 2]);
  },
  'mc-cc-model-filenames.pbtxt': (c) => {
    assert.deepEqual(c.ccModelFilenames, { '8.6': 'detector_A10.plan', '9.0': 'detector_H100.plan' });
  },
  'mc-response-cache.pbtxt': (c) => assert.equal(c.responseCache?.enable, true),
  'response-cache-comment.pbtxt': (c) => assert.equal(c.responseCache?.enable, true),
  'batcher-dynamic-empty.pbtxt': (c) => assert.deepEqual(dynamic(c).preferredBatchSize, []),
  'batcher-preferred.pbtxt': (c) => assert.deepEqual(dynamic(c).preferredBatchSize, [2, 6]),
  'batcher-queue-delay.pbtxt': (c) => assert.equal(dynamic(c).maxQueueDelayMicroseconds, 250n),
  'batcher-iterative-sequence.pbtxt': (c) => assert.equal(sequence(c).iterativeSequence, true),
  'ensemble-pipeline.pbtxt': (c) => {
    assert.deepEqual([c.name, c.platform, c.maxBatchSize], ['doc_pipeline', 'ensemble', 2]);
    assert.deepEqual(io(c.input), [['DOCUMENT', STRING, [1]]]);
    const steps = ensemble(c).step;
    assert.deepEqual(steps.map((s) => [s.modelName, s.modelVersion]), [['tokenizer', -1n], ['topic_model', -1n], ['encoder', 3n]]);
    assert.deepEqual([steps[2]?.inputMap, steps[2]?.outputMap], [{ IDS: 'tokens' }, { HIDDEN: 'EMBEDDING' }]);
  },
  'ensemble-inflight.pbtxt': (c) => {
    const e = ensemble(c);
    assert.equal(e.maxInflightRequests, 8);
    assert.deepEqual(e.step.map((s) => [s.inputMap, s.outputMap]), [
      [{ WAV: 'AUDIO' }, { PCM: 'samples' }],
      [{ SAMPLES: 'samples' }, { TEXT: 'TRANSCRIPT' }],
    ]);
  },
  'ensemble-list-maps.pbtxt': (c) => {
    const steps = ensemble(c).step;
    assert.deepEqual(steps[0]?.inputMap, { X: 'A', Y: 'B' });
    assert.deepEqual(steps.map((s) => s.modelVersion), [2n, -1n]);
  },
  'ragged-allow.pbtxt': (c) => assert.deepEqual(c.input.map((i) => i.allowRaggedBatch), [true]),
  'ragged-variable.pbtxt': (c) => {
    assert.equal(c.maxBatchSize, 12);
    assert.deepEqual(io(c.input), [['SIGNAL', FP32, [-1]]]);
  },
  'ragged-batch-input.pbtxt': (c) => {
    assert.equal(c.input[0]?.allowRaggedBatch, true);
    const bi = c.batchInput[0];
    assert.deepEqual([bi?.kind, bi?.targetName, bi?.dataType, bi?.sourceInput], [
      BatchInput_Kind.BATCH_ACCUMULATED_ELEMENT_COUNT, ['OFFSETS'], FP32, ['SIGNAL'],
    ]);
  },
  'opt-instances.pbtxt': (c) => {
    assert.deepEqual(c.instanceGroup.map((g) => [g.count, g.kind]), [[3, ModelInstanceGroup_Kind.AUTO]]);
    assert.equal(c.schedulingChoice.case, undefined);
  },
  'opt-batching-and-instances.pbtxt': (c) => {
    assert.deepEqual(dynamic(c).preferredBatchSize, []);
    assert.equal(c.instanceGroup[0]?.count, 4);
  },
  'opt-gpu-accelerator.pbtxt': (c) => {
    const acc = c.optimization?.executionAccelerators?.gpuExecutionAccelerator ?? [];
    assert.deepEqual(acc.map((a) => [a.name, a.parameters]), [
      ['tensorrt', { precision_mode: 'INT8', max_workspace_size_bytes: '2147483648' }],
    ]);
  },
  'opt-cpu-accelerator.pbtxt': (c) => {
    const acc = c.optimization?.executionAccelerators?.cpuExecutionAccelerator ?? [];
    assert.deepEqual(acc.map((a) => [a.name, a.parameters]), [['openvino', {}]]);
  },
  'state-basic.pbtxt': (c) => {
    const s = sequence(c).state[0];
    assert.deepEqual([s?.inputName, s?.outputName, s?.dataType, s?.dims], ['CACHE_IN', 'CACHE_OUT', FP32, [-1n]]);
    assert.deepEqual(s?.initialState, []);
  },
  'state-zero-init.pbtxt': (c) => {
    const init = sequence(c).state[0]?.initialState[0];
    assert.deepEqual([init?.name, init?.dims, init?.stateData], ['empty cache', [4n], { case: 'zeroData', value: true }]);
  },
  'state-file-init.pbtxt': (c) => {
    const init = sequence(c).state[0]?.initialState[0];
    assert.deepEqual(init?.stateData, { case: 'dataFile', value: 'cache_seed.bin' });
  },
  'state-direct-model.pbtxt': (c) => {
    const s = sequence(c);
    assert.equal(s.maxSequenceIdleMicroseconds, 2500000n);
    assert.equal(s.strategyChoice.case, 'direct');
    assert.deepEqual(s.controlInput.map((ci) => [ci.name, ci.control[0]?.kind, ci.control[0]?.fp32FalseTrue]), [
      ['BEGIN', ModelSequenceBatching_Control_Kind.CONTROL_SEQUENCE_START, [0, 1]],
      ['VALID', ModelSequenceBatching_Control_Kind.CONTROL_SEQUENCE_READY, [0, 1]],
    ]);
    assert.equal(c.instanceGroup[0]?.count, 3);
  },
  'state-oldest-model.pbtxt': (c) => {
    const s = sequence(c);
    const oldest = s.strategyChoice.case === 'oldest' ? s.strategyChoice.value : undefined;
    assert.equal(oldest?.maxCandidateSequences, 6);
    assert.deepEqual(s.controlInput.map((ci) => ci.name), ['FIRST', 'LAST', 'SEQ_ID']);
    assert.equal(s.controlInput[2]?.control[0]?.dataType, UINT64);
    assert.deepEqual(io(c.output), [['TRACKS', FP32, [20]]]);
  },
  'sequence-controls.pbtxt': (c) => {
    const controls = sequence(c).controlInput.map((ci) => ci.control[0]);
    assert.deepEqual(controls[0]?.int32FalseTrue, [0, 1]);
    assert.deepEqual(controls[2]?.boolFalseTrue, [false, true]);
    assert.equal(controls[3]?.dataType, STRING);
  },
  'metrics-histogram.pbtxt': (c) => {
    const control = c.modelMetrics?.metricControl[0];
    assert.equal(control?.metricIdentifier?.family, 'nv_inference_first_response_histogram_ms');
    const options = control?.metricOptions;
    assert.deepEqual(options?.case === 'histogramOptions' && options.value.buckets, [0.5, 2, 10, 50.25]);
  },
  'warmup.pbtxt': (c) => {
    assert.deepEqual(c.modelWarmup.map((w) => [w.name, w.batchSize, w.count]), [['zeros then noise', 1, 0], ['from file', 1, 5]]);
    const inputs = c.modelWarmup[0]?.inputs ?? {};
    assert.deepEqual([inputs['IN_A']?.dims, inputs['IN_A']?.inputDataType.case, inputs['IN_B']?.inputDataType.case], [[6n], 'zeroData', 'randomData']);
    assert.deepEqual(c.modelWarmup[1]?.inputs['IN_A']?.inputDataType, { case: 'inputDataFile', value: 'raw_in_a' });
  },
  'queue-policy.pbtxt': (c) => {
    const db = dynamic(c);
    assert.equal(db.maxQueueDelayMicroseconds, 64n);
    assert.equal(db.defaultQueuePolicy?.defaultTimeoutMicroseconds, 900n);
    assert.deepEqual(Object.keys(db.priorityQueuePolicy), ['1', '3']);
    const p3 = db.priorityQueuePolicy['3'];
    assert.deepEqual([p3?.timeoutAction, p3?.defaultTimeoutMicroseconds, p3?.allowTimeoutOverride], [ModelQueuePolicy_TimeoutAction.DELAY, 700n, true]);
  },
  'priority-max.pbtxt': (c) => {
    const db = dynamic(c);
    assert.equal(db.priorityLevels, 2n ** 64n - 1n);
    assert.equal(db.defaultPriorityLevel, 4294967295n);
    const policy = db.priorityQueuePolicy['4294967296'];
    assert.deepEqual([policy?.defaultTimeoutMicroseconds, policy?.maxQueueSize], [2n ** 64n - 1n, 7]);
  },
};

describe('Triton documentation config examples', () => {
  it('has a check for every fixture file and a fixture for every check', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.pbtxt')).sort();
    assert.deepEqual(files, Object.keys(CHECKS).sort());
  });

  for (const [file, check] of Object.entries(CHECKS)) {
    it(`${file}: parses, has the expected fields and round-trips through the printer`, () => {
      const config = load(file);
      check(config);
      const printed = printModelConfig(config);
      const again = parseModelConfig(printed, `printed ${file}`);
      assert.ok(equals(ModelConfigSchema, config, again), printed);
      assert.equal(printModelConfig(again), printed);
    });
  }
});
