import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ComputeBudget } from '../../../../src/backends/onnxruntime/native/compute-budget.js';

describe('compute budget', () => {
  it('grants at once while tokens last, and caps a request at the capacity', async () => {
    const budget = new ComputeBudget(4);
    assert.equal(budget.acquire(1), 1);
    assert.equal(budget.acquire(2), 2);
    assert.equal(budget.free, 1);
    budget.release(3);
    assert.equal(budget.acquire(16), 4, 'more than the cores is capped, never waits forever');
    budget.release(4);
    assert.equal(budget.free, 4);
  });

  it('makes runs wait for tokens, first come first served', async () => {
    const budget = new ComputeBudget(2);
    const order: string[] = [];
    assert.equal(budget.acquire(2), 2);
    const big = Promise.resolve(budget.acquire(2)).then((n) => order.push(`big:${n}`));
    const small = Promise.resolve(budget.acquire(1)).then((n) => order.push(`small:${n}`));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [], 'nothing is free yet');
    budget.release(1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [], 'the small request does not overtake the big one at the head');
    budget.release(1);
    await big;
    assert.deepEqual(order, ['big:2']);
    budget.release(2);
    await small;
    assert.deepEqual(order, ['big:2', 'small:1']);
    assert.equal(budget.free, 1);
  });
});
