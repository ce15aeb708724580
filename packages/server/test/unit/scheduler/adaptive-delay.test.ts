import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveDelay } from '../../../src/scheduler/dynamic/adaptive-delay.js';

/** The adaptive delay's own judgements, without a batcher (dynamic-batcher.test.ts runs it in one). */

test('adaptive delay fits execution time as a·n + b', () => {
  const adaptive = new AdaptiveDelay(1e6, 8);
  for (const [rows, ns] of [[1, 110], [2, 120], [4, 140], [8, 180]] as const) adaptive.recordExecution(rows, ns);
  const model = adaptive.model();
  assert.ok(Math.abs(model.perRowNs - 10) < 1e-6, `slope ${model.perRowNs}`);
  assert.ok(Math.abs(model.fixedNs - 100) < 1e-6, `intercept ${model.fixedNs}`);
});

test('adaptive delay never holds the oldest request past the ceiling, and does not wait when a run is cheap', async () => {
  const slow = new AdaptiveDelay(50_000, 64);
  for (const rows of [1, 2]) slow.recordExecution(rows, 1_000_000);
  // Arrivals every 10 µs would make waiting worth it, but the ceiling is 50 µs.
  const t0 = 1_000_000;
  for (let i = 0; i < 5; i++) slow.recordArrival(t0 + i * 10_000);
  const lastArrival = t0 + 40_000;
  assert.ok(slow.remainingNs(5, t0, lastArrival) > 0);
  assert.ok(slow.remainingNs(5, t0, lastArrival) <= 10_000, 'bounded by oldest + 50 µs');
  assert.equal(slow.remainingNs(5, t0, t0 + 50_000), 0);

  const cheap = new AdaptiveDelay(1_000_000, 64);
  cheap.recordExecution(1, 5_000); // a 5 µs run: a 10 µs wait for company costs more than it saves
  for (let i = 0; i < 5; i++) cheap.recordArrival(t0 + i * 10_000);
  assert.equal(cheap.remainingNs(1, lastArrival, lastArrival), 0);
});

test('adaptive delay spreads the queue over the instances when batching does not pay, and only then', () => {
  const linear = new AdaptiveDelay(1e6, 32);
  for (const rows of [1, 2, 4]) linear.recordExecution(rows, rows * 13_000_000); // a compute-bound run: no fixed part
  assert.equal(linear.balanceCap(14, 2), 7);
  assert.equal(linear.balanceCap(3, 2), 2);
  assert.equal(linear.balanceCap(14, 1), Number.POSITIVE_INFINITY, 'one instance: nothing to balance');

  const fixedCost = new AdaptiveDelay(1e6, 32);
  for (const rows of [1, 2, 4]) fixedCost.recordExecution(rows, 500_000 + rows * 50_000); // batching pays
  assert.equal(fixedCost.balanceCap(14, 2), Number.POSITIVE_INFINITY);

  const oneSize = new AdaptiveDelay(1e6, 32);
  oneSize.recordExecution(1, 13_000_000);
  assert.equal(oneSize.balanceCap(14, 2), Number.POSITIVE_INFINITY, 'no slope known yet');
});
