import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { ModelRateLimiterSchema, ModelRateLimiter_ResourceSchema } from '@nereid/protocol/generated/model_config_pb';
import { RateLimiter } from '../../../src/scheduler/rate-limiter.js';
import type { ExecutionTarget } from '../../../src/scheduler/scheduler.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';

/** An instance that logs when it starts and ends, and ends when the test releases it. */
function gated(name: string, log: string[]) {
  const gates: Array<() => void> = [];
  const target: ExecutionTarget = {
    name,
    async execute() {
      log.push(`start ${name}`);
      await new Promise<void>((resolve) => gates.push(resolve));
      log.push(`end ${name}`);
      return { responses: [], timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } };
    },
  };
  return { target, release: () => gates.shift()?.() };
}

const limiterConfig = (resources: Array<{ name: string; count: number; global?: boolean }>, priority = 0) =>
  create(ModelRateLimiterSchema, {
    priority,
    resources: resources.map((resource) => create(ModelRateLimiter_ResourceSchema, resource)),
  });

const tick = () => new Promise((resolve) => setImmediate(resolve));
const none: readonly InferenceRequest[] = [];

test('instances that need the same resource never execute at once; others are not held', async () => {
  const log: string[] = [];
  const limiter = new RateLimiter({ enabled: true, resources: [] });
  const a = gated('a', log);
  const b = gated('b', log);
  const free = gated('free', log);
  const la = limiter.limit('m1', a.target, limiterConfig([{ name: 'R', count: 1, global: true }]), 0);
  const lb = limiter.limit('m2', b.target, limiterConfig([{ name: 'R', count: 1, global: true }]), 0);
  const lf = limiter.limit('m3', free.target, undefined, 0);
  void la.target.execute(none);
  void lb.target.execute(none);
  void lf.target.execute(none);
  await tick();
  assert.deepEqual([...log].sort(), ['start a', 'start free'], 'b waits for R; the unlimited instance runs');
  a.release();
  await tick();
  assert.deepEqual(log.slice(2), ['end a', 'start b']);
  b.release();
  free.release();
  await tick();
});

test('scaled priority: waiting instances are served by executions × priority, so priority 2 gets half the turns', async () => {
  const log: string[] = [];
  const limiter = new RateLimiter({ enabled: true, resources: [{ name: 'R', count: 1, device: undefined }] });
  const blocker = gated('blocker', log);
  const hi = gated('hi', log);
  const lo = gated('lo', log);
  const lb = limiter.limit('m', blocker.target, limiterConfig([{ name: 'R', count: 1 }]), 0);
  const lhi = limiter.limit('m', hi.target, limiterConfig([{ name: 'R', count: 1 }], 1), 0);
  const llo = limiter.limit('m', lo.target, limiterConfig([{ name: 'R', count: 1 }], 2), 0);
  const running = [lb.target.execute(none)];
  await tick();
  // Everyone waits for R at once: three executions of each.
  for (let i = 0; i < 3; i++) running.push(lhi.target.execute(none));
  for (let i = 0; i < 3; i++) running.push(llo.target.execute(none));
  await tick();
  for (let round = 0; round < 7; round++) {
    blocker.release();
    hi.release();
    lo.release();
    await tick();
  }
  await Promise.all(running);
  const order = log.filter((line) => line.startsWith('start')).map((line) => line.slice(6));
  // scaled priority after each run: hi 1·1, lo 1·2 → hi goes twice for each lo turn (ties: arrival order).
  assert.deepEqual(order, ['blocker', 'hi', 'lo', 'hi', 'hi', 'lo', 'lo']);
});

test("explicit resources that can never satisfy an instance, or a resource both global and per device, fail with Triton's texts", () => {
  const target: ExecutionTarget = { name: 'i', execute: async () => ({ responses: [], timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } }) };
  const limiter = new RateLimiter({ enabled: true, resources: [{ name: 'R', count: 2, device: 0 }] });
  assert.throws(
    () => limiter.limit('m', target, limiterConfig([{ name: 'R', count: 3 }]), 0),
    { message: 'Resource count for "R" is limited to 2 which will prevent scheduling of one or more model instances, the minimum required count is 3' },
  );
  assert.throws(
    () => limiter.limit('m', target, limiterConfig([{ name: 'S', count: 1 }]), 0),
    /Resource count for "S" is limited to 0/,
  );
  const open = new RateLimiter({ enabled: true, resources: [] });
  open.limit('m', target, limiterConfig([{ name: 'R', count: 1, global: true }]), 0);
  assert.throws(
    () => open.limit('m2', target, limiterConfig([{ name: 'R', count: 1 }]), 0),
    { message: 'Resource "R" is present as both global and device-specific resource in the model configuration.' },
  );
  const off = new RateLimiter({ enabled: false, resources: [] });
  assert.equal(off.limit('m', target, limiterConfig([{ name: 'R', count: 9 }]), 0).target, target, 'off: resources ignored');
});
