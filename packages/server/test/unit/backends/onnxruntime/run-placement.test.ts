import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INLINE_RUN_LIMIT_NS, RunPlacement } from '../../../../src/backends/onnxruntime/native/run-placement.js';

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

  it('sends a session back to run threads after one slow run', () => {
    const placement = new RunPlacement();
    placement.record(64, FAST);
    placement.record(64, SLOW);
    assert.equal(placement.inline(64), false);
    assert.equal(placement.inline(8), false);
  });

  it('never inlines a model whose runs are slow', () => {
    const placement = new RunPlacement();
    for (let i = 0; i < 100; i++) placement.record(1024, SLOW);
    assert.equal(placement.inline(1024), false);
    assert.equal(placement.inline(1), false);
  });

  it('returns to inline once fast runs outweigh an old slow one', () => {
    const placement = new RunPlacement();
    placement.record(64, FAST);
    placement.record(64, INLINE_RUN_LIMIT_NS * 2);
    let runs = 0;
    while (!placement.inline(32) && runs < 1000) {
      placement.record(32, FAST);
      runs++;
    }
    assert.ok(runs > 1 && runs < 1000, `took ${runs} fast runs`);
  });
});
