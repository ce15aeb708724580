import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import {
  ModelConfigSchema,
  ModelDynamicBatchingSchema,
  ModelInputSchema,
  ModelParameterSchema,
  DataType,
} from '@nereid/protocol/generated/model_config_pb';
import { createScheduler } from '../../../src/scheduler/create-scheduler.js';
import { DefaultScheduler } from '../../../src/scheduler/default-scheduler.js';
import { DynamicBatcher } from '../../../src/scheduler/dynamic/dynamic-batcher.js';
import { batchKeyOf } from '../../../src/scheduler/dynamic/batch-key.js';
import type { ExecutionTarget } from '../../../src/scheduler/scheduler.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import type { Logger } from '../../../src/observability/logger.js';
import { FakeClock } from './fake-clock.js';

const target: ExecutionTarget = {
  name: 'm_0',
  execute: async (requests) => ({
    responses: requests.map(() => []),
    timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 },
  }),
};

function verboseLogger(lines: string[]): Logger {
  return {
    settings: { info: true, warning: true, error: true, verboseLevel: 1, format: 'default' },
    file: '',
    close: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    verbose: (_level, message) => lines.push(message),
  };
}

function config(fields: Parameters<typeof create<typeof ModelConfigSchema>>[1] = {}) {
  return create(ModelConfigSchema, { name: 'm', maxBatchSize: 8, ...fields });
}

const batching = (fields: Parameters<typeof create<typeof ModelDynamicBatchingSchema>>[1] = {}) => ({
  case: 'dynamicBatching' as const,
  value: create(ModelDynamicBatchingSchema, { preferredBatchSize: [8], ...fields }),
});

test('no scheduling block → the default scheduler; dynamic_batching → the batcher, which logs each batch at verbose level', async () => {
  const lines: string[] = [];
  const logger = verboseLogger(lines);
  assert.ok(createScheduler({ config: config(), targets: [target], onExecution: () => {}, logger }) instanceof DefaultScheduler);
  const clock = new FakeClock();
  const scheduler = createScheduler({
    config: config({ schedulingChoice: batching() }),
    targets: [target],
    onExecution: () => {},
    logger,
    clock,
  });
  assert.ok(scheduler instanceof DynamicBatcher);
  let done = 0;
  for (const id of ['a', 'b']) {
    scheduler.enqueue({
      request: { id, modelName: 'm', batchSize: 1, priority: 0, timeoutMicroseconds: 0, inputs: [] } as unknown as InferenceRequest,
      enqueuedNs: clock.now,
      signal: undefined,
      complete: () => (done += 1),
    });
  }
  await clock.settle();
  assert.equal(done, 2);
  assert.deepEqual(lines, ["model 'm': batch of 2 (2 requests, priority 0) to m_0, closed by no_delay"]);
});

test('the adaptive delay parameter needs a ceiling and a boolean value; ragged batching is refused at load', () => {
  const make = (fields: Parameters<typeof config>[0]) => () =>
    createScheduler({ config: config(fields), targets: [target], onExecution: () => {}, logger: verboseLogger([]) });
  const adaptive = (value: string) => ({
    dynamic_batching_adaptive_delay: create(ModelParameterSchema, { stringValue: value }),
  });
  assert.throws(make({ schedulingChoice: batching(), parameters: adaptive('true') }), /needs dynamic_batching.max_queue_delay_microseconds > 0/);
  assert.throws(make({ schedulingChoice: batching({ maxQueueDelayMicroseconds: 100n }), parameters: adaptive('yes') }), /must be "true" or "false"/);
  assert.doesNotThrow(make({ schedulingChoice: batching({ maxQueueDelayMicroseconds: 100n }), parameters: adaptive('true') }));
  const ragged = create(ModelInputSchema, { name: 'X', dataType: DataType.TYPE_FP32, dims: [-1n], allowRaggedBatch: true });
  assert.throws(make({ schedulingChoice: batching(), input: [ragged] }), /input 'X' sets allow_ragged_batch, but ragged batching is not supported/);
});

test('batch keys: variable-dim inputs must agree on shape, fixed ones need no check, optional inputs must match in presence', () => {
  const input = (name: string, dims: bigint[], extra = {}) => create(ModelInputSchema, { name, dataType: DataType.TYPE_FP32, dims, ...extra });
  const tensor = (name: string, shape: number[]) => ({ name, datatype: 'FP32', shape, data: new Uint8Array(0) });
  const request = (...inputs: ReturnType<typeof tensor>[]) => ({ inputs }) as unknown as InferenceRequest;

  const fixed = batchKeyOf(config({ input: [input('A', [4n])] }));
  assert.equal(fixed(request(tensor('A', [1, 4]))), fixed(request(tensor('A', [3, 4]))));

  const variable = batchKeyOf(config({ input: [input('A', [-1n]), input('B', [2n])] }));
  assert.equal(variable(request(tensor('A', [1, 5]), tensor('B', [1, 2]))), variable(request(tensor('A', [4, 5]), tensor('B', [4, 2]))));
  assert.notEqual(variable(request(tensor('A', [1, 5]))), variable(request(tensor('A', [1, 6]))));

  const optional = batchKeyOf(config({ input: [input('A', [2n]), input('O', [2n], { optional: true })] }));
  assert.notEqual(optional(request(tensor('A', [1, 2]))), optional(request(tensor('A', [1, 2]), tensor('O', [1, 2]))));
});
