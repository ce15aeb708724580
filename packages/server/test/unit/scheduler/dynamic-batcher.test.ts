import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import {
  ModelDynamicBatchingSchema,
  ModelQueuePolicySchema,
  ModelQueuePolicy_TimeoutAction,
  type ModelDynamicBatching,
} from '@nereid/protocol/generated/model_config_pb';
import { DynamicBatcher, type FormedBatch } from '../../../src/scheduler/dynamic/dynamic-batcher.js';
import { AdaptiveDelay } from '../../../src/scheduler/dynamic/adaptive-delay.js';
import type { ExecutionTarget, Outcome, ScheduledRequest } from '../../../src/scheduler/scheduler.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import { CancelToken } from '../../../src/util/cancel-signal.js';
import { FakeClock } from './fake-clock.js';

/** An instance that records each batch (request ids) and finishes it when the test releases it. */
function gatedTarget(name: string) {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  const target: ExecutionTarget = {
    name,
    async execute(requests) {
      batches.push(requests.map((r) => r.id));
      await new Promise<void>((resolve) => gates.push(resolve));
      return {
        // Each request's "output" names it, so a test can check that responses reach their request.
        responses: requests.map((r) => [{ name: r.id, datatype: 'INT32', shape: [r.batchSize], data: new Uint8Array(0) }]),
        timings: { computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 },
      };
    },
  };
  return { target, batches, release: () => gates.shift()?.(), pending: () => gates.length };
}

interface Fixture {
  readonly clock: FakeClock;
  readonly batcher: DynamicBatcher;
  readonly formed: FormedBatch[];
  readonly executions: number[];
  readonly outcomes: Map<string, Outcome>;
  readonly order: string[];
  submit(id: string, extra?: Partial<InferenceRequest> & { key?: string; signal?: CancelToken }): void;
}

function fixture(
  targets: readonly ExecutionTarget[],
  batching: Partial<Omit<ModelDynamicBatching, '$typeName'>>,
  maxBatchSize: number,
  adaptive?: AdaptiveDelay,
): Fixture {
  const clock = new FakeClock();
  const formed: FormedBatch[] = [];
  const executions: number[] = [];
  const outcomes = new Map<string, Outcome>();
  const order: string[] = [];
  const keys = new Map<string, string>();
  const batcher = new DynamicBatcher(targets, {
    modelName: 'm',
    batching: create(ModelDynamicBatchingSchema, batching),
    maxBatchSize,
    batchKey: (request) => keys.get(request.id) ?? '',
    clock,
    onExecution: (rows) => executions.push(rows),
    adaptive,
    onBatch: (batch) => formed.push(batch),
  });
  return {
    clock,
    batcher,
    formed,
    executions,
    outcomes,
    order,
    submit(id, extra = {}) {
      const { key, signal, ...fields } = extra;
      if (key !== undefined) keys.set(id, key);
      const request = { id, modelName: 'm', batchSize: 1, priority: 0, timeoutMicroseconds: 0, ...fields } as InferenceRequest;
      const work: ScheduledRequest = {
        request,
        enqueuedNs: clock.now,
        signal,
        complete: (outcome) => {
          outcomes.set(id, outcome);
          order.push(id);
        },
      };
      batcher.enqueue(work);
    },
  };
}

function errorOf(outcome: Outcome | undefined): { code: string; message: string } | undefined {
  return outcome && !outcome.ok ? { code: outcome.error.code, message: outcome.error.message } : undefined;
}

test('requests that arrive together form one batch; with no delay, what is queued goes at once', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [8] }, 8);
  for (const id of ['r1', 'r2', 'r3']) f.submit(id);
  await f.clock.settle();
  assert.deepEqual(a.batches, [['r1', 'r2', 'r3']]);
  assert.equal(f.formed[0]?.reason, 'no_delay');
  a.release();
  await f.clock.settle();
  const r2 = f.outcomes.get('r2');
  assert.ok(r2?.ok);
  assert.equal(r2.outputs[0]?.name, 'r2', 'each request gets its own response');
  assert.deepEqual(f.executions, [3]);
  assert.equal(f.batcher.inflightCount(), 0);
});

test('requests that arrive while the instance is busy gather; batches stop at max_batch_size; a multi-row request stays whole', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [4] }, 4);
  f.submit('first');
  await f.clock.settle();
  for (let i = 0; i < 5; i++) f.submit(`r${i}`);
  f.submit('three', { batchSize: 3 });
  await f.clock.settle();
  assert.deepEqual(a.batches, [['first']]);
  a.release();
  await f.clock.settle();
  assert.deepEqual(a.batches[1], ['r0', 'r1', 'r2', 'r3']);
  assert.equal(f.formed[1]?.reason, 'preferred_batch_size');
  a.release();
  await f.clock.settle();
  // r4 (1 row) + three (3 rows) = 4 rows.
  assert.deepEqual(a.batches[2], ['r4', 'three']);
  a.release();
  await f.clock.settle();
  assert.deepEqual(f.executions, [1, 4, 4]);
  assert.equal(f.outcomes.size, 7);
});

test('max_queue_delay holds a lone request until it expires; a preferred size goes at once', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [2, 4], maxQueueDelayMicroseconds: 500n }, 4);
  f.submit('r1');
  await f.clock.settle();
  await f.clock.advanceUs(499);
  assert.equal(a.batches.length, 0, 'still inside the delay');
  await f.clock.advanceUs(1);
  assert.deepEqual(a.batches, [['r1']]);
  assert.equal(f.formed[0]?.reason, 'queue_delay');
  a.release();
  await f.clock.settle();
  for (const id of ['p1', 'p2', 'p3']) f.submit(id);
  await f.clock.settle();
  assert.deepEqual(a.batches[1], ['p1', 'p2'], 'the largest preferred size formable goes without waiting');
  assert.equal(f.formed[1]?.reason, 'preferred_batch_size');
  a.release();
  await f.clock.settle();
  await f.clock.advanceUs(100);
  assert.equal(a.batches.length, 2, 'p3 alone waits for its own delay');
  await f.clock.advanceUs(400);
  assert.deepEqual(a.batches[2], ['p3']);
});

test('requests whose shapes differ never share a batch, and none skips ahead of another', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [8] }, 8);
  f.submit('x1', { key: 'x' });
  f.submit('x2', { key: 'x' });
  f.submit('y1', { key: 'y' });
  f.submit('x3', { key: 'x' });
  await f.clock.settle();
  assert.deepEqual(a.batches, [['x1', 'x2']]);
  assert.equal(f.formed[0]?.reason, 'shape_mismatch');
  a.release();
  await f.clock.settle();
  assert.deepEqual(a.batches[1], ['y1']);
  a.release();
  await f.clock.settle();
  assert.deepEqual(a.batches[2], ['x3']);
});

test('priority levels: a higher level (lower number) goes first; priority 0 or out of range takes the default level', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [1], priorityLevels: 3n, defaultPriorityLevel: 2n }, 1);
  f.submit('busy');
  await f.clock.settle();
  f.submit('low', { priority: 3 });
  f.submit('default', { priority: 0 });
  f.submit('outOfRange', { priority: 9 });
  f.submit('high', { priority: 1 });
  await f.clock.settle();
  for (let i = 0; i < 5; i++) {
    a.release();
    await f.clock.settle();
  }
  assert.deepEqual(a.batches.flat(), ['busy', 'high', 'default', 'outOfRange', 'low']);
});

test('queue policy REJECT: a request past its timeout is refused with UNAVAILABLE "Request timeout expired"', async () => {
  const a = gatedTarget('a');
  const policy = create(ModelQueuePolicySchema, { defaultTimeoutMicroseconds: 100n });
  const f = fixture([a.target], { preferredBatchSize: [4], defaultQueuePolicy: policy }, 4);
  f.submit('busy');
  await f.clock.settle();
  f.submit('late');
  await f.clock.advanceUs(150);
  f.submit('fresh');
  a.release();
  await f.clock.settle();
  assert.deepEqual(errorOf(f.outcomes.get('late')), { code: 'UNAVAILABLE', message: 'Request timeout expired' });
  assert.deepEqual(a.batches[1], ['fresh']);
  assert.equal(f.batcher.statistics().rejected_timeout, 1);
});

test('queue policy DELAY: an expired request moves behind its level; allow_timeout_override only lowers the timeout', async () => {
  const a = gatedTarget('a');
  const policy = create(ModelQueuePolicySchema, {
    timeoutAction: ModelQueuePolicy_TimeoutAction.DELAY,
    defaultTimeoutMicroseconds: 1000n,
    allowTimeoutOverride: true,
  });
  const f = fixture([a.target], { preferredBatchSize: [1], defaultQueuePolicy: policy }, 1);
  f.submit('busy');
  await f.clock.settle();
  f.submit('short', { timeoutMicroseconds: 50 });
  f.submit('long', { timeoutMicroseconds: 5000 }); // above the default: the default (1000 µs) applies
  f.submit('normal');
  await f.clock.advanceUs(100);
  for (let i = 0; i < 4; i++) {
    a.release();
    await f.clock.settle();
  }
  assert.deepEqual(a.batches.flat(), ['busy', 'long', 'normal', 'short'], 'only the 50 µs request was delayed');
  assert.ok(f.outcomes.get('short')?.ok, 'a delayed request still runs');
});

test('max_queue_size refuses at once with UNAVAILABLE, naming the request id', async () => {
  const a = gatedTarget('a');
  const policy = create(ModelQueuePolicySchema, { maxQueueSize: 2 });
  const f = fixture([a.target], { preferredBatchSize: [1], defaultQueuePolicy: policy }, 1);
  f.submit('busy');
  await f.clock.settle();
  f.submit('q1');
  f.submit('q2');
  f.submit('q3');
  assert.deepEqual(errorOf(f.outcomes.get('q3')), { code: 'UNAVAILABLE', message: '[request id: q3] Exceeds maximum queue size' });
  assert.equal(f.outcomes.has('q1'), false);
  assert.equal(f.batcher.statistics().rejected_queue_full, 1);
});

test('a request cancelled while queued is dropped, counted, and never executed', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [4] }, 4);
  f.submit('busy');
  await f.clock.settle();
  const token = new CancelToken();
  f.submit('gone', { signal: token });
  f.submit('stays');
  token.cancel();
  assert.deepEqual(errorOf(f.outcomes.get('gone')), { code: 'CANCELLED', message: 'request cancelled' });
  a.release();
  await f.clock.settle();
  assert.deepEqual(a.batches[1], ['stays']);
  assert.equal(f.batcher.statistics().cancelled, 1);
});

test('preserve_ordering: a later batch that finishes first waits for the earlier one', async () => {
  const a = gatedTarget('a');
  const b = gatedTarget('b');
  const f = fixture([a.target, b.target], { preferredBatchSize: [2], preserveOrdering: true }, 2);
  for (const id of ['r1', 'r2', 'r3', 'r4']) f.submit(id);
  await f.clock.settle();
  assert.deepEqual([...b.batches, ...a.batches], [['r1', 'r2'], ['r3', 'r4']]);
  a.release(); // r3, r4 finish first
  await f.clock.settle();
  assert.deepEqual(f.order, [], 'held back until r1 and r2 complete');
  b.release();
  await f.clock.settle();
  assert.deepEqual(f.order, ['r1', 'r2', 'r3', 'r4']);
});

test('without preserve_ordering, responses complete as their batches finish', async () => {
  const a = gatedTarget('a');
  const b = gatedTarget('b');
  const f = fixture([a.target, b.target], { preferredBatchSize: [2] }, 2);
  for (const id of ['r1', 'r2', 'r3', 'r4']) f.submit(id);
  await f.clock.settle();
  a.release();
  await f.clock.settle();
  assert.deepEqual(f.order, ['r3', 'r4']);
  b.release();
  await f.clock.settle();
});

test('adaptive delay waits while arrivals come fast compared with a run\'s fixed cost, and sends when they pause', async () => {
  const a = gatedTarget('a');
  // Fixed cost 100 µs per run; arrivals every 10 µs: waiting for the next one pays while n·10 < 100.
  const adaptive = new AdaptiveDelay(1_000_000, 16);
  for (const rows of [1, 2, 4]) adaptive.recordExecution(rows, 100_000 + rows * 1000);
  const f = fixture([a.target], { preferredBatchSize: [16], maxQueueDelayMicroseconds: 1000n }, 16, adaptive);
  // Earlier traffic taught it the 10 µs gap.
  for (let i = 4; i > 0; i--) adaptive.recordArrival(f.clock.now - i * 10_000);
  for (let i = 0; i < 4; i++) {
    f.submit(`r${i}`);
    await f.clock.settle();
    if (i < 3) await f.clock.advanceUs(10);
  }
  assert.equal(a.batches.length, 0, 'still gathering: arrivals are 10 µs apart');
  // No arrival for two gaps: the clients are all waiting; the batch goes.
  await f.clock.advanceUs(25);
  assert.deepEqual(a.batches, [['r0', 'r1', 'r2', 'r3']]);
  assert.equal(f.formed[0]?.reason, 'adaptive');
});

test('stop waits for queued and executing requests; later requests are refused', async () => {
  const a = gatedTarget('a');
  const f = fixture([a.target], { preferredBatchSize: [1] }, 1);
  f.submit('r1');
  f.submit('r2');
  await f.clock.settle();
  let stopped = false;
  const stopping = f.batcher.stop().then(() => (stopped = true));
  f.submit('after');
  assert.equal(errorOf(f.outcomes.get('after'))?.code, 'UNAVAILABLE');
  a.release();
  await f.clock.settle();
  assert.equal(stopped, false);
  a.release();
  await f.clock.settle();
  await stopping;
  assert.equal(stopped, true);
});

test('with the adaptive delay, a free instance takes its share of the queue and leaves the rest to the busy one', async () => {
  const a = gatedTarget('a');
  const b = gatedTarget('b');
  const adaptive = new AdaptiveDelay(1_000_000, 32);
  for (const rows of [1, 2, 4]) adaptive.recordExecution(rows, rows * 13_000_000);
  const f = fixture([a.target, b.target], { maxQueueDelayMicroseconds: 1000n }, 32, adaptive);
  f.submit('first');
  await f.clock.settle();
  assert.equal(a.batches.length + b.batches.length, 1, 'one instance busy');
  for (let i = 0; i < 6; i++) f.submit(`r${i}`);
  await f.clock.settle();
  // The arrivals have paused, so the delay sends now; the free instance takes 3 of the 6, not all.
  await f.clock.advanceUs(1000);
  const second = [...a.batches, ...b.batches].find((batch) => batch[0] === 'r0');
  assert.deepEqual(second, ['r0', 'r1', 'r2']);
  assert.ok(f.formed.some((batch) => batch.reason === 'instance_balance' && batch.requests === 3));
  const busy = a.batches[0]?.[0] === 'first' ? a : b;
  busy.release();
  await f.clock.settle();
  await f.clock.advanceUs(1000);
  // Its share of the 3 left over the 2 instances; the last goes to whichever frees next.
  assert.deepEqual([...a.batches, ...b.batches].find((batch) => batch[0] === 'r3'), ['r3', 'r4']);
  while (a.pending() + b.pending() > 0) {
    a.release();
    b.release();
    await f.clock.settle();
  }
  assert.equal(f.batcher.inflightCount(), 0);
  assert.equal([...f.outcomes.values()].filter((outcome) => outcome.ok).length, 7, 'every request ran once');
  assert.equal([...a.batches, ...b.batches].flat().length, 7);
});
