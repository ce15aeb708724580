import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig } from '../../../src/config/read-config.js';
import { normalizeModelConfig } from '../../../src/config/normalize.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import type { ExecutionTarget, Outcome } from '../../../src/scheduler/scheduler.js';
import { createSequenceBatcher } from '../../../src/scheduler/sequence/create-sequence-batcher.js';
import { loadStateSpecs } from '../../../src/scheduler/sequence/implicit-state.js';
import type { SequenceBatcher } from '../../../src/scheduler/sequence/sequence-batcher.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { CancelToken } from '../../../src/util/cancel-signal.js';
import { FakeClock } from './fake-clock.js';

/**
 * The sequence batcher with an injected clock and instances that compute an accumulator in
 * JavaScript from the tensors the batcher fed them (INPUT, START/END/READY, CORRID, STATE_IN), so
 * each test checks slots, batches, controls and state without sleeping.
 */
const CONTROLS = `
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_INT32 dims: [ 1 ]
            initial_state { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true name: "z" } } ]`;

function config(maxBatchSize: number, strategy: string, idleUs = 1_000_000) {
  const text = `name: "acc" platform: "onnxruntime_onnx" max_batch_size: ${maxBatchSize}
    input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
    output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
    sequence_batching { max_sequence_idle_microseconds: ${idleUs} ${strategy} ${CONTROLS} }`;
  const parsed = parseModelConfig(text, 'config.pbtxt');
  normalizeModelConfig(parsed, { defaultCpuInstanceCount: 1, gpus: [] });
  return parsed;
}

/** One row of what an instance was fed. */
interface Row {
  readonly id: string;
  readonly input: number;
  readonly start: number;
  readonly end: number;
  readonly ready: number;
  readonly corrid: bigint;
  readonly state: number;
}

function tensorOf(request: InferenceRequest, name: string): Tensor {
  const tensor = request.inputs.find((t) => t.name === name);
  assert.ok(tensor, `input ${name} fed`);
  return tensor;
}

function view(t: Tensor): DataView {
  return new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** An instance computing STATE_OUT = READY ? (START ? INPUT : STATE_IN + INPUT) : STATE_IN; released by the test. */
function accumulator(name: string) {
  const batches: Row[][] = [];
  const gates: Array<() => void> = [];
  const target: ExecutionTarget = {
    name,
    async execute(requests) {
      const rows = requests.map((request) => ({
        id: request.id,
        input: view(tensorOf(request, 'INPUT')).getInt32(0, true),
        start: view(tensorOf(request, 'START')).getInt32(0, true),
        end: view(tensorOf(request, 'END')).getFloat32(0, true),
        ready: tensorOf(request, 'READY').data[0]!,
        corrid: view(tensorOf(request, 'CORRID')).getBigUint64(0, true),
        state: view(tensorOf(request, 'STATE_IN')).getInt32(0, true),
      }));
      for (const request of requests) assert.deepEqual(tensorOf(request, 'START').shape, [1, 1]);
      batches.push(rows);
      await new Promise<void>((resolve) => gates.push(resolve));
      return {
        responses: rows.map((row) => {
          const next = row.ready ? (row.start ? row.input : row.state + row.input) : row.state;
          const data = new Uint8Array(4);
          new DataView(data.buffer).setInt32(0, next, true);
          return [
            { name: 'OUTPUT', datatype: 'INT32', shape: [1, 1], data },
            { name: 'STATE_OUT', datatype: 'INT32', shape: [1, 1], data },
          ] as Tensor[];
        }),
        timings: { computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 },
      };
    },
  };
  return { target, batches, release: () => gates.shift()?.(), pending: () => gates.length };
}

interface Fixture {
  readonly clock: FakeClock;
  readonly batcher: SequenceBatcher;
  readonly outcomes: Map<string, Outcome>;
  readonly executions: number[];
  send(id: string, sequenceId: bigint | string, input: number, flags?: { start?: boolean; end?: boolean; signal?: CancelToken; batchSize?: number }): void;
  value(id: string): number;
  error(id: string): string;
}

async function fixture(
  targets: readonly ExecutionTarget[],
  maxBatchSize: number,
  strategy: string,
  idleUs?: number,
  logger: Logger = silentLogger,
): Promise<Fixture> {
  const clock = new FakeClock();
  const modelConfig = config(maxBatchSize, strategy, idleUs);
  const outcomes = new Map<string, Outcome>();
  const executions: number[] = [];
  const batching = modelConfig.schedulingChoice.case === 'sequenceBatching' ? modelConfig.schedulingChoice.value : undefined;
  const batcher = createSequenceBatcher({
    config: modelConfig,
    batcher: batching!,
    states: await loadStateSpecs(modelConfig, '/nonexistent'),
    targets,
    onExecution: (rows) => executions.push(rows),
    logger,
    clock,
  });
  return {
    clock,
    batcher,
    outcomes,
    executions,
    send(id, sequenceId, input, flags = {}) {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setInt32(0, input, true);
      const request = {
        id,
        modelName: 'acc',
        modelVersion: 1n,
        parameters: {},
        inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data }],
        batchSize: flags.batchSize ?? 1,
        requestedOutputs: [{ name: 'OUTPUT', classificationCount: 0, parameters: {} }],
        priority: 0,
        timeoutMicroseconds: 0,
        sequence: { id: sequenceId, start: flags.start ?? false, end: flags.end ?? false },
      } as InferenceRequest;
      batcher.enqueue({ request, enqueuedNs: clock.nowNs(), signal: flags.signal, complete: (outcome) => outcomes.set(id, outcome) });
    },
    value(id) {
      const outcome = outcomes.get(id);
      assert.ok(outcome?.ok, `request ${id} succeeded: ${outcome && !outcome.ok ? outcome.error.message : 'pending'}`);
      assert.deepEqual(outcome.outputs.map((t) => t.name), ['OUTPUT'], 'state outputs are not returned');
      return view(outcome.outputs[0]!).getInt32(0, true);
    },
    error(id) {
      const outcome = outcomes.get(id);
      assert.ok(outcome && !outcome.ok, `request ${id} failed`);
      return `${outcome.error.code}: ${outcome.error.message}`;
    },
  };
}

test('direct: each sequence keeps a slot; empty slots get null rows with READY false and ID 0', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 4, 'direct { }');
  f.send('a1', 11n, 5, { start: true });
  f.send('b1', 22n, 100, { start: true });
  await f.clock.settle();
  assert.deepEqual(inst.batches[0]!.map((r) => [r.id, r.start, r.ready, r.corrid, r.state]), [
    ['a1', 1, 1, 11n, 0],
    ['b1', 1, 1, 22n, 0],
  ]);
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('a1'), 5);
  assert.equal(f.value('b1'), 100);
  // Only sequence 22 (slot 1) has work: slot 0 gets a null row so 22 stays in its row.
  f.send('b2', 22n, 1);
  await f.clock.settle();
  assert.deepEqual(inst.batches[1]!.map((r) => [r.id, r.ready, r.corrid, r.start]), [
    ['', 0, 0n, 0],
    ['b2', 1, 22n, 0],
  ]);
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('b2'), 101);
  f.send('a2', 11n, 2, { end: true });
  await f.clock.settle();
  assert.deepEqual(inst.batches[2]!.map((r) => [r.id, r.end, r.state]), [['a2', 1, 5]]);
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('a2'), 7);
  assert.deepEqual(f.executions, [2, 2, 1]);
});

test('direct: one request per sequence per batch, in order, each seeing the state the previous left', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 2, 'direct { }');
  f.send('s1', 5n, 1, { start: true });
  f.send('s2', 5n, 2);
  f.send('s3', 5n, 3, { end: true });
  await f.clock.settle();
  for (let i = 0; i < 3; i++) {
    assert.equal(inst.batches.length, i + 1, 'the next request waits for the previous batch');
    inst.release();
    await f.clock.settle();
  }
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['s1'], ['s2'], ['s3']]);
  assert.deepEqual([f.value('s1'), f.value('s2'), f.value('s3')], [1, 3, 6]);
});

test('slots spread across instances first; with every slot taken a new sequence waits in the backlog', async () => {
  const a = accumulator('a');
  const b = accumulator('b');
  const f = await fixture([a.target, b.target], 1, 'direct { }');
  f.send('x1', 1n, 1, { start: true });
  f.send('y1', 2n, 10, { start: true });
  f.send('z1', 3n, 100, { start: true });
  f.send('z2', 3n, 100, { end: true });
  await f.clock.settle();
  assert.deepEqual(a.batches.map((batch) => batch.map((r) => r.id)), [['x1']]);
  assert.deepEqual(b.batches.map((batch) => batch.map((r) => r.id)), [['y1']]);
  assert.equal(f.batcher.inflightCount(), 4);
  f.send('x2', 1n, 1, { end: true });
  a.release();
  await f.clock.settle();
  assert.deepEqual(a.batches.map((batch) => batch.map((r) => r.id)), [['x1'], ['x2']]);
  a.release();
  await f.clock.settle();
  // Sequence 1 ended: its slot goes to the backlogged sequence 3, whose requests run in order.
  assert.deepEqual(a.batches.map((batch) => batch.map((r) => r.id)), [['x1'], ['x2'], ['z1']]);
  a.release();
  await f.clock.settle();
  a.release();
  await f.clock.settle();
  assert.deepEqual([f.value('x2'), f.value('z1'), f.value('z2')], [2, 100, 200]);
  assert.equal(f.outcomes.has('y1'), false);
  b.release();
  await f.clock.settle();
  assert.equal(f.value('y1'), 10);
  assert.equal(f.batcher.inflightCount(), 0);
});

test("Triton's errors: no ID, never started, wrong ID type, batch size > 1; other sequences keep going", async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 2, 'direct { }');
  f.send('ok', 9n, 4, { start: true });
  f.send('noid', 0n, 1);
  f.send('unknown', 77n, 1);
  f.send('string', 'abc', 1, { start: true });
  f.send('batch', 10n, 1, { start: true, batchSize: 2 });
  await f.clock.settle();
  assert.equal(f.error('noid'), "INVALID_ARG: inference request to model 'acc' must specify a non-zero or non-empty correlation ID");
  assert.equal(
    f.error('unknown'),
    "INVALID_ARG: inference request for sequence 77 to model 'acc' must specify the START flag on the first request of the sequence",
  );
  assert.equal(
    f.error('string'),
    "INVALID_ARG: [request id: string] sequence batching control 'CORRID' data-type is 'BYTES', but model 'acc' expects 'UINT64'",
  );
  assert.equal(f.error('batch'), "INVALID_ARG: inference request to model 'acc' must specify batch-size 1 due to requirements of sequence batcher");
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('ok'), 4);
});

test('a START for an active ID restarts its state in the same slot (Triton warns and goes on)', async () => {
  const inst = accumulator('i0');
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
  const f = await fixture([inst.target], 2, 'direct { }', undefined, logger);
  f.send('a', 4n, 5, { start: true });
  await f.clock.settle();
  inst.release();
  await f.clock.settle();
  f.send('b', 4n, 7, { start: true });
  await f.clock.settle();
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('b'), 7);
  assert.match(warnings[0] ?? '', /sequence 4 for model 'acc' has a conflict/);
});

test('an idle sequence loses its slot after max_sequence_idle_microseconds; its next request fails, a waiting sequence takes the slot', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 1, 'direct { }', 1000);
  f.send('a1', 1n, 1, { start: true });
  f.send('b1', 2n, 5, { start: true });
  await f.clock.settle();
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('a1'), 1);
  assert.equal(inst.batches.length, 1, 'sequence 2 waits: the only slot is held by sequence 1');
  await f.clock.advanceUs(999);
  assert.equal(inst.batches.length, 1);
  await f.clock.advanceUs(2);
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1'], ['b1']]);
  f.send('a2', 1n, 1);
  await f.clock.settle();
  assert.match(f.error('a2'), /sequence 1 to model 'acc' must specify the START flag/);
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('b1'), 5);
});

test('direct with minimum_slot_utilization waits for more sequences up to max_queue_delay_microseconds', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 4, 'direct { max_queue_delay_microseconds: 500 minimum_slot_utilization: 0.5 }');
  f.send('a', 1n, 1, { start: true });
  await f.clock.settle();
  assert.equal(inst.batches.length, 0, '1 of 4 slots ready: below the utilization, so it waits');
  await f.clock.advanceUs(200);
  f.send('b', 2n, 1, { start: true });
  await f.clock.settle();
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a', 'b']], '2 of 4 reach 0.5: sent at once');
  inst.release();
  await f.clock.settle();
  f.send('c', 1n, 1);
  await f.clock.settle();
  assert.equal(inst.batches.length, 1);
  await f.clock.advanceUs(501);
  assert.equal(inst.batches.length, 2, 'the delay expired');
});

test('oldest: batches hold the oldest request of each candidate sequence, compact (no null rows), one per sequence', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 4, 'oldest { max_candidate_sequences: 4 }');
  f.send('a1', 1n, 1, { start: true });
  f.send('a2', 1n, 2);
  f.send('b1', 2n, 10, { start: true });
  f.send('c1', 3n, 100, { start: true, end: true });
  await f.clock.settle();
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1', 'b1', 'c1']]);
  assert.deepEqual(inst.batches[0]!.map((r) => r.end), [0, 0, 1]);
  inst.release();
  await f.clock.settle();
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1', 'b1', 'c1'], ['a2']]);
  inst.release();
  await f.clock.settle();
  assert.deepEqual([f.value('a1'), f.value('a2'), f.value('b1'), f.value('c1')], [1, 3, 10, 100]);
});

test('oldest: more sequences than candidates wait in the backlog', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 4, 'oldest { max_candidate_sequences: 1 }');
  f.send('a1', 1n, 1, { start: true, end: true });
  f.send('b1', 2n, 2, { start: true, end: true });
  await f.clock.settle();
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1']]);
  inst.release();
  await f.clock.settle();
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1'], ['b1']]);
  inst.release();
  await f.clock.settle();
  assert.equal(f.value('b1'), 2);
});

test('a cancelled queued request is dropped and answered CANCELLED; its sequence goes on', async () => {
  const inst = accumulator('i0');
  const f = await fixture([inst.target], 1, 'direct { }');
  const token = new CancelToken();
  f.send('a1', 1n, 1, { start: true });
  f.send('a2', 1n, 5, { signal: token });
  f.send('a3', 1n, 7, { end: true });
  await f.clock.settle();
  token.cancel();
  inst.release();
  await f.clock.settle();
  inst.release();
  await f.clock.settle();
  assert.equal(f.error('a2'), 'CANCELLED: request cancelled');
  assert.deepEqual(inst.batches.map((b) => b.map((r) => r.id)), [['a1'], ['a3']]);
  assert.equal(f.value('a3'), 8);
});

test('load errors name the control and the model', async () => {
  const bad = (controls: string) =>
    parseModelConfig(
      `name: "m" max_batch_size: 2 input [ { name: "I" data_type: TYPE_INT32 dims: [1] } ] output [ { name: "O" data_type: TYPE_INT32 dims: [1] } ]
       sequence_batching { control_input [ ${controls} ] }`,
      'config.pbtxt',
    );
  const build = (controls: string) => {
    const c = bad(controls);
    return () =>
      createSequenceBatcher({
        config: c,
        batcher: c.schedulingChoice.value as never,
        states: [],
        targets: [],
        onExecution: () => {},
        logger: silentLogger,
        clock: new FakeClock(),
      });
  };
  assert.throws(build('{ name: "S" control [ { kind: CONTROL_SEQUENCE_START } ] }'), {
    message: "sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for CONTROL_SEQUENCE_START for m",
  });
  assert.throws(build('{ name: "S" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0 ] } ] }'), {
    message: "sequence batching control 'int32_false_true' must have exactly 2 entries for CONTROL_SEQUENCE_START for m",
  });
  assert.throws(
    build('{ name: "S" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] }, { name: "S" control [ { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] }'),
    { message: "sequence batching control tensor 'S' is specified for multiple control kinds for m" },
  );
  assert.throws(build('{ name: "C" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32 } ] }'), /unexpected data_type TYPE_FP32/);
});

test('implicit state may change shape between steps (-1 dims); states of different shapes never share a batch', async () => {
  const text = `name: "grow" max_batch_size: 4
    input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
    output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
    sequence_batching { direct { }
      control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ]
      state [ { input_name: "HIST_IN" output_name: "HIST_OUT" data_type: TYPE_INT32 dims: [ -1 ]
                initial_state { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true name: "z" } } ] }`;
  const modelConfig = parseModelConfig(text, 'config.pbtxt');
  normalizeModelConfig(modelConfig, { defaultCpuInstanceCount: 1, gpus: [] });
  const batches: Array<Array<{ id: string; history: number[] }>> = [];
  const gates: Array<() => void> = [];
  // Appends INPUT to the history it was given: the state grows by one element per step.
  const target: ExecutionTarget = {
    name: 'i0',
    async execute(requests) {
      const rows = requests.map((request) => {
        const hist = tensorOf(request, 'HIST_IN');
        const history = Array.from({ length: hist.shape[1]! }, (_, i) => view(hist).getInt32(i * 4, true));
        return { id: request.id, history, input: view(tensorOf(request, 'INPUT')).getInt32(0, true) };
      });
      batches.push(rows.map(({ id, history }) => ({ id, history })));
      await new Promise<void>((resolve) => gates.push(resolve));
      return {
        responses: rows.map((row) => {
          const next = Int32Array.from([...row.history, row.input]);
          const data = new Uint8Array(next.buffer);
          return [
            { name: 'OUTPUT', datatype: 'INT32', shape: [1, 1], data: data.subarray(data.length - 4) },
            { name: 'HIST_OUT', datatype: 'INT32', shape: [1, next.length], data },
          ] as Tensor[];
        }),
        timings: { computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 },
      };
    },
  };
  const clock = new FakeClock();
  const outcomes = new Map<string, Outcome>();
  const batcher = createSequenceBatcher({
    config: modelConfig,
    batcher: modelConfig.schedulingChoice.value as never,
    states: await loadStateSpecs(modelConfig, '/nonexistent'),
    targets: [target],
    onExecution: () => {},
    logger: silentLogger,
    clock,
  });
  const send = (id: string, sequence: bigint, input: number, start = false) => {
    const data = new Uint8Array(Int32Array.of(input).buffer);
    const request = {
      id,
      modelName: 'grow',
      modelVersion: 1n,
      parameters: {},
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data }],
      batchSize: 1,
      requestedOutputs: [{ name: 'OUTPUT', classificationCount: 0, parameters: {} }],
      priority: 0,
      timeoutMicroseconds: 0,
      sequence: { id: sequence, start, end: false },
    } as InferenceRequest;
    batcher.enqueue({ request, enqueuedNs: clock.nowNs(), signal: undefined, complete: (outcome) => outcomes.set(id, outcome) });
  };
  const step = async () => {
    await clock.settle();
    gates.shift()?.();
    await clock.settle();
  };
  send('a1', 1n, 5, true);
  await step();
  send('a2', 1n, 6);
  send('b1', 2n, 9, true);
  await clock.settle();
  // a's history has 2 elements, b's initial state 1: different shapes, so b's slot is a null row.
  assert.deepEqual(batches[1], [{ id: 'a2', history: [0, 5] }, { id: '', history: [0, 0] }]);
  await step();
  // Slot 0 has nothing queued: its null row copies this batch's shapes (b's).
  assert.deepEqual(batches[2], [{ id: '', history: [0] }, { id: 'b1', history: [0] }]);
  await step();
  send('a3', 1n, 7);
  await step();
  assert.deepEqual(batches[3], [{ id: 'a3', history: [0, 5, 6] }]);
  const last = outcomes.get('a3');
  assert.ok(last?.ok);
  assert.equal(view(last.outputs[0]!).getInt32(0, true), 7);
});
