import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  INLINE_RUN_LIMIT_NS,
  RECENT_RUNS,
  RunPlacement,
} from '../../../../src/backends/onnxruntime/native/run-placement.js';

const FAST = INLINE_RUN_LIMIT_NS / 5;
const SLOW = INLINE_RUN_LIMIT_NS * 200;

describe('run placement', () => {
  it('measures first runs on a run thread, then keeps tiny runs inline', () => {
    const placement = new RunPlacement();
    assert.equal(placement.inline(64), false, 'nothing measured yet');
    placement.record(64, FAST);
    assert.equal(placement.inline(64), true);
    assert.equal(placement.inline(128), true, 'up to twice the size measured fast');
    assert.equal(placement.inline(129), false, 'larger inputs are measured off the event loop first');
  });

  it('keeps a fast model inline through a run that was descheduled', () => {
    const placement = new RunPlacement();
    for (let i = 0; i < RECENT_RUNS; i++) placement.record(64, FAST);
    placement.record(64, SLOW);
    assert.equal(placement.inline(64), true);
  });

  it('sends a session to run threads once its typical run is slow', () => {
    const placement = new RunPlacement();
    for (let i = 0; i < RECENT_RUNS; i++) placement.record(64, FAST);
    let inlineRuns = 0;
    for (let i = 0; i < RECENT_RUNS; i++) {
      if (placement.inline(64)) inlineRuns++;
      placement.record(64, SLOW);
    }
    assert.equal(placement.inline(64), false);
    assert.ok(inlineRuns <= Math.ceil(RECENT_RUNS / 2), `${inlineRuns} slow runs went inline`);
  });

  it('never inlines a model whose runs are slow', () => {
    const placement = new RunPlacement();
    for (let i = 0; i < 100; i++) placement.record(1024, SLOW);
    assert.equal(placement.inline(1024), false);
    assert.equal(placement.inline(1), false);
  });

  it('returns to inline once fast runs are the majority again', () => {
    const placement = new RunPlacement();
    for (let i = 0; i < RECENT_RUNS; i++) placement.record(32, SLOW);
    let runs = 0;
    while (!placement.inline(32) && runs < 100) {
      placement.record(32, FAST);
      runs++;
    }
    assert.equal(runs, Math.floor(RECENT_RUNS / 2) + 1);
  });
});
