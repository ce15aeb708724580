import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnsembleStep } from '../../../src/config/ensemble-graph.js';
import { ServerError, invalidArg } from '../../../src/errors/index.js';
import type { InferRequestInit } from '../../../src/request/infer-request-init.js';
import type { InferResponse } from '../../../src/request/infer-response.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import { EnsembleScheduler, type StepRunner } from '../../../src/scheduler/ensemble/ensemble-scheduler.js';
import type { Outcome } from '../../../src/scheduler/scheduler.js';
import { CancelToken } from '../../../src/util/cancel-signal.js';

/** `model(X) -> Y` steps; tensors named by the maps. */
function step(index: number, model: string, inputs: Record<string, string>, outputs: Record<string, string>): EnsembleStep {
  return { index, modelName: model, modelVersion: -1n, inputMap: new Map(Object.entries(inputs)), outputMap: new Map(Object.entries(outputs)) };
}

/** pre -> (left, right) -> join: the diamond the issue describes. */
const DIAMOND = [
  step(0, 'pre', { X: 'IN' }, { Y: 'p' }),
  step(1, 'left', { X: 'p' }, { Y: 'l' }),
  step(2, 'right', { X: 'p' }, { Y: 'r' }),
  step(3, 'join', { A: 'l', B: 'r' }, { Y: 'OUT' }),
];

interface Call {
  readonly request: InferRequestInit;
  finish(error?: ServerError): void;
}

/** A member's answer: its output is its model's name plus the inputs' bytes. */
function stepResponse(request: InferRequestInit): InferResponse {
  const data = Buffer.concat([Buffer.from(request.modelName), ...request.inputs.map((input) => Buffer.from(input.data))]);
  return { modelName: request.modelName, modelVersion: '1', id: request.id, parameters: {}, outputs: [{ name: 'Y', datatype: 'BYTES', shape: [data.length], data, parameters: {} }] };
}

/** A runStep whose calls finish when the test says so. */
function gatedSteps() {
  const calls: Call[] = [];
  const log: string[] = [];
  const runStep: StepRunner = (request, _signal, _trace, resolve, reject) => {
    log.push(`start ${request.modelName}`);
    calls.push({
      request,
      finish(error?: ServerError) {
        log.push(`end ${request.modelName}`);
        if (error !== undefined) return reject(error);
        resolve(stepResponse(request));
      },
    });
  };
  const finish = (model: string, error?: ServerError): void => {
    const index = calls.findIndex((call) => call.request.modelName === model);
    assert.ok(index !== -1, `${model} was not called`);
    calls.splice(index, 1)[0]!.finish(error);
  };
  return { runStep, log, calls, finish };
}

function request(id = 'r1'): InferenceRequest {
  return {
    modelName: 'ens',
    modelVersion: 1n,
    id,
    parameters: { sequence_id: 42n },
    inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: Buffer.from('in') }],
    batchSize: 1,
    requestedOutputs: [{ name: 'OUT', classificationCount: 0, parameters: {} }],
    priority: 0,
    timeoutMicroseconds: 0,
  };
}

function submit(scheduler: EnsembleScheduler, outcomes: Outcome[], signal?: CancelToken, id = 'r1'): void {
  scheduler.enqueue({ request: request(id), enqueuedNs: 0, signal, complete: (outcome) => outcomes.push(outcome) });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('branches run at once: both start before either ends; the join waits for both', async () => {
  const steps = gatedSteps();
  const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: DIAMOND, inputs: ['IN'], maxInflightRequests: 0, runStep: steps.runStep });
  const outcomes: Outcome[] = [];
  submit(scheduler, outcomes);
  assert.deepEqual(steps.log, ['start pre']);
  steps.finish('pre');
  await tick();
  assert.deepEqual(steps.log, ['start pre', 'end pre', 'start left', 'start right']);
  steps.finish('right');
  await tick();
  assert.deepEqual(steps.log.slice(4), ['end right'], 'join waits for left');
  steps.finish('left');
  await tick();
  assert.equal(steps.log.at(-1), 'start join');
  // Each step got the tensors its map names, the request id and parameters (a sequence id carries through).
  const join = steps.calls[0]!.request;
  assert.deepEqual(join.inputs.map((input) => [input.name, Buffer.from(input.data).toString()]), [
    ['A', 'leftprein'],
    ['B', 'rightprein'],
  ]);
  assert.equal(join.id, 'r1');
  assert.deepEqual(join.parameters, { sequence_id: 42n });
  assert.deepEqual(join.outputs, [{ name: 'Y', parameters: {} }]);
  assert.equal(join.modelVersion, '');
  steps.finish('join');
  await tick();
  assert.equal(outcomes.length, 1);
  const outcome = outcomes[0]!;
  assert.ok(outcome.ok);
  assert.equal(outcome.outputs[0]!.name, 'OUT');
  assert.equal(Buffer.from(outcome.outputs[0]!.data).toString(), 'joinleftpreinrightprein');
  assert.equal(scheduler.inflightCount(), 0);
});

test('members that answer before their runner returns (a cache hit, a refused request): every step still runs, once', () => {
  const started: string[] = [];
  const answerAtOnce: StepRunner = (request, _signal, _trace, resolve) => {
    started.push(request.modelName);
    resolve(stepResponse(request));
  };
  const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: DIAMOND, inputs: ['IN'], maxInflightRequests: 0, runStep: answerAtOnce });
  const outcomes: Outcome[] = [];
  submit(scheduler, outcomes);
  // Synchronously, in one call: the diamond's four steps, the join after both branches, one outcome.
  assert.deepEqual(started, ['pre', 'left', 'right', 'join']);
  assert.equal(outcomes.length, 1);
  const outcome = outcomes[0]!;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(Buffer.from(outcome.outputs[0]!.data).toString(), 'joinleftpreinrightprein');
  assert.equal(scheduler.inflightCount(), 0);

  const refusing: StepRunner = (request, _signal, _trace, _resolve, reject) => {
    started.push(request.modelName);
    reject(invalidArg(`${request.modelName} refused`));
  };
  started.length = 0;
  outcomes.length = 0;
  submit(new EnsembleScheduler({ ensembleName: 'ens', steps: DIAMOND, inputs: ['IN'], maxInflightRequests: 0, runStep: refusing }), outcomes);
  assert.deepEqual(started, ['pre']);
  assert.equal(outcomes.length, 1);
  assert.ok(!outcomes[0]!.ok && outcomes[0]!.error.message === "in ensemble 'ens', pre refused");
});

test('a failing step fails the request with its error prefixed; no later step starts, running ones finish first', async () => {
  for (const failing of ['pre', 'left', 'join']) {
    const steps = gatedSteps();
    const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: DIAMOND, inputs: ['IN'], maxInflightRequests: 0, runStep: steps.runStep });
    const outcomes: Outcome[] = [];
    submit(scheduler, outcomes);
    const error = invalidArg(`${failing} broke`);
    if (failing === 'pre') {
      steps.finish('pre', error);
    } else {
      steps.finish('pre');
      await tick();
      if (failing === 'left') {
        steps.finish('left', error);
        await tick();
        assert.equal(outcomes.length, 0, 'right is still running: the request waits for it');
        steps.finish('right');
      } else {
        steps.finish('left');
        steps.finish('right');
        await tick();
        steps.finish('join', error);
      }
    }
    await tick();
    assert.equal(outcomes.length, 1, failing);
    const outcome = outcomes[0]!;
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.code, 'INVALID_ARG');
    assert.equal(outcome.error.message, `in ensemble 'ens', ${failing} broke`);
    if (failing !== 'join') assert.ok(!steps.log.includes('start join'), `${failing}: the join never started`);
    assert.equal(steps.calls.length, 0, 'nothing left dangling');
    assert.equal(scheduler.inflightCount(), 0);
  }
});

test('a cancelled request stops between steps', async () => {
  const steps = gatedSteps();
  const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: DIAMOND, inputs: ['IN'], maxInflightRequests: 0, runStep: steps.runStep });
  const outcomes: Outcome[] = [];
  const token = new CancelToken();
  submit(scheduler, outcomes, token);
  token.cancel();
  steps.finish('pre');
  await tick();
  assert.deepEqual(steps.log, ['start pre', 'end pre']);
  assert.equal(outcomes.length, 1);
  assert.ok(!outcomes[0]!.ok);
  assert.equal(outcomes[0]!.error.code, 'CANCELLED');
});

test('max_inflight_requests: a step runs for at most N requests at once; the rest wait in order', async () => {
  const steps = gatedSteps();
  const chain = [step(0, 'slow', { X: 'IN' }, { Y: 'OUT' })];
  const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: chain, inputs: ['IN'], maxInflightRequests: 2, runStep: steps.runStep });
  const outcomes: Outcome[] = [];
  for (const id of ['r1', 'r2', 'r3', 'r4']) submit(scheduler, outcomes, undefined, id);
  await tick();
  assert.deepEqual(steps.calls.map((call) => call.request.id), ['r1', 'r2'], 'two at a time');
  assert.equal(scheduler.inflightCount(), 4);
  steps.finish('slow');
  await tick();
  assert.deepEqual(steps.calls.map((call) => call.request.id), ['r2', 'r3']);
  steps.finish('slow');
  steps.finish('slow');
  await tick();
  assert.deepEqual(steps.calls.map((call) => call.request.id), ['r4']);
  steps.finish('slow');
  await tick();
  assert.equal(outcomes.length, 4);
  assert.ok(outcomes.every((outcome) => outcome.ok));
});

test('stop() waits for requests in flight and refuses new ones', async () => {
  const steps = gatedSteps();
  const scheduler = new EnsembleScheduler({ ensembleName: 'ens', steps: [step(0, 'm', { X: 'IN' }, { Y: 'OUT' })], inputs: ['IN'], maxInflightRequests: 0, runStep: steps.runStep });
  const outcomes: Outcome[] = [];
  submit(scheduler, outcomes);
  let stopped = false;
  const stopping = scheduler.stop().then(() => (stopped = true));
  submit(scheduler, outcomes, undefined, 'late');
  assert.equal(outcomes.length, 1);
  assert.ok(!outcomes[0]!.ok && outcomes[0]!.error.code === 'UNAVAILABLE');
  await tick();
  assert.equal(stopped, false);
  steps.finish('m');
  await stopping;
  assert.equal(outcomes.length, 2);
});
