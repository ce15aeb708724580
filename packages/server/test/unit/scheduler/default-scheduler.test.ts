import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { DefaultScheduler } from '../../../src/scheduler/default-scheduler.js';
import type { ExecutionTarget, Outcome, ScheduledRequest } from '../../../src/scheduler/scheduler.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import { ServerError } from '../../../src/errors/index.js';

/** An instance whose executions finish when the test says so. */
function gatedTarget(name: string, log: string[]) {
  const gates: Array<() => void> = [];
  const target: ExecutionTarget = {
    name,
    async execute(requests) {
      log.push(`${name}:${requests[0]!.id}`);
      await new Promise<void>((resolve) => gates.push(resolve));
      return {
        responses: requests.map((r) => (r.id === 'bad' ? new ServerError('INTERNAL', 'boom') : [])),
        timings: { computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 },
      };
    },
  };
  return { target, release: () => gates.shift()?.() };
}

function work(id: string, outcomes: Map<string, Outcome>, signal?: AbortSignal): ScheduledRequest {
  const request = { id, modelName: 'm', batchSize: 1 } as InferenceRequest;
  return { request, enqueuedNs: 0, signal, complete: (outcome) => outcomes.set(id, outcome) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('each instance runs one request at a time; queued requests go to the next free instance in order', async () => {
  const log: string[] = [];
  const a = gatedTarget('a', log);
  const b = gatedTarget('b', log);
  const executions: number[] = [];
  const scheduler = new DefaultScheduler([a.target, b.target], (size) => executions.push(size));
  const outcomes = new Map<string, Outcome>();
  for (const id of ['r1', 'r2', 'r3', 'bad']) scheduler.enqueue(work(id, outcomes));
  await tick();
  assert.deepEqual(log, ['b:r1', 'a:r2']);
  assert.equal(scheduler.inflightCount(), 4);
  b.release();
  await tick();
  assert.deepEqual(log, ['b:r1', 'a:r2', 'b:r3']);
  a.release();
  b.release();
  await tick();
  a.release();
  await tick();
  assert.equal(outcomes.get('r1')?.ok, true);
  const failed = outcomes.get('bad');
  assert.ok(failed && !failed.ok && failed.error.message === 'boom');
  assert.equal(executions.length, 4);
  assert.equal(scheduler.inflightCount(), 0);
});

test('a queued request whose signal aborts is cancelled without running; stop waits for in-flight work', async () => {
  const log: string[] = [];
  const a = gatedTarget('a', log);
  const scheduler = new DefaultScheduler([a.target], () => {});
  const outcomes = new Map<string, Outcome>();
  const controller = new AbortController();
  scheduler.enqueue(work('r1', outcomes));
  scheduler.enqueue(work('r2', outcomes, controller.signal));
  controller.abort();
  const outcome = outcomes.get('r2');
  assert.ok(outcome && !outcome.ok && outcome.error.code === 'CANCELLED');
  let stopped = false;
  const stopping = scheduler.stop().then(() => (stopped = true));
  await tick();
  assert.equal(stopped, false);
  a.release();
  await stopping;
  assert.deepEqual(log, ['a:r1']);
  scheduler.enqueue(work('late', outcomes));
  const late = outcomes.get('late');
  assert.ok(late && !late.ok && late.error.code === 'UNAVAILABLE');
});

test('a signal shared by requests (one per HTTP connection) loses its listener when a request leaves the queue', async () => {
  const log: string[] = [];
  const a = gatedTarget('a', log);
  const scheduler = new DefaultScheduler([a.target], () => {});
  const outcomes = new Map<string, Outcome>();
  const connection = new AbortController();
  for (const id of ['r1', 'r2', 'r3']) scheduler.enqueue(work(id, outcomes, connection.signal));
  assert.equal(getEventListeners(connection.signal, 'abort').length, 2);
  a.release();
  await tick();
  a.release();
  await tick();
  assert.equal(getEventListeners(connection.signal, 'abort').length, 0);
  connection.abort();
  a.release();
  await tick();
  assert.deepEqual(log, ['a:r1', 'a:r2', 'a:r3']);
  assert.equal(outcomes.get('r3')?.ok, true);
});
