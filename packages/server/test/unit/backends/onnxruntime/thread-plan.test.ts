import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  ModelConfigSchema,
  ModelInstanceGroupSchema,
  ModelInstanceGroup_Kind,
} from '@nereid/protocol/generated/model_config_pb';
import type { SessionSettings } from '../../../../src/backends/onnxruntime/session-options.js';
import {
  concurrentRunsOf,
  describeThreadPlan,
  planThreads,
} from '../../../../src/backends/onnxruntime/thread-plan.js';

const DEFAULTS: SessionSettings = {
  graphOptimizationLevel: 99,
  executionMode: 'sequential',
  intraOpThreads: undefined,
  interOpThreads: undefined,
  memArena: undefined,
  memPattern: undefined,
  sessionConfig: new Map(),
  runConfig: new Map(),
  shareSession: true,
};

function groups(...counts: Array<number | [number, boolean]>) {
  return create(ModelConfigSchema, {
    name: 'm',
    instanceGroup: counts.map((entry) => {
      const [count, passive] = typeof entry === 'number' ? [entry, false] : entry;
      return create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.CPU, count, passive });
    }),
  });
}

describe('onnxruntime thread plan', () => {
  it('shares the cores between the runs a model can have at once', () => {
    assert.equal(planThreads(DEFAULTS, 1, 8).intraOpThreads, 8);
    assert.equal(planThreads(DEFAULTS, 2, 8).intraOpThreads, 4);
    assert.equal(planThreads(DEFAULTS, 3, 8).intraOpThreads, 2);
    assert.equal(planThreads(DEFAULTS, 4, 2).intraOpThreads, 1, 'never below one thread per run');
    for (const runs of [1, 2, 3, 5, 8]) {
      const plan = planThreads(DEFAULTS, runs, 8);
      assert.ok(plan.intraOpThreads * Math.min(runs, 8) <= 8, `${runs} runs over-subscribe 8 cores`);
    }
  });

  it('leaves the inter-op pool at 1 in sequential mode and shares it in parallel mode', () => {
    assert.equal(planThreads(DEFAULTS, 2, 8).interOpThreads, 1);
    assert.equal(planThreads({ ...DEFAULTS, executionMode: 'parallel' }, 2, 8).interOpThreads, 4);
  });

  it('lets the config’s thread counts win', () => {
    const plan = planThreads({ ...DEFAULTS, intraOpThreads: 6, interOpThreads: 3 }, 4, 2);
    assert.equal(plan.intraOpThreads, 6);
    assert.equal(plan.interOpThreads, 3);
    assert.deepEqual(plan.fromConfig, { intraOp: true, interOp: true });
    assert.match(describeThreadPlan(plan, 2, true), /6 intra-op \(intra_op_thread_count\)/);
  });

  it('counts instances with Triton’s defaults, passive groups excluded', () => {
    assert.equal(concurrentRunsOf(create(ModelConfigSchema, { name: 'm' }), 2), 2, 'no group: the CPU default');
    assert.equal(concurrentRunsOf(groups(3), 2), 3);
    assert.equal(concurrentRunsOf(groups(1, 2), 2), 3);
    assert.equal(concurrentRunsOf(groups(0), 2), 2, 'count 0 takes the default');
    assert.equal(concurrentRunsOf(groups(2, [4, true]), 2), 2);
  });

  it('describes the plan in one line', () => {
    const line = describeThreadPlan(planThreads(DEFAULTS, 2, 2), 2, true);
    assert.equal(
      line,
      '1 session shared by all instances; up to 2 runs at once; threads per run: 1 intra-op (2 cores / 2 concurrent runs), 1 inter-op',
    );
  });
});
