import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteSize, planEvictions, type BudgetedModel } from '../../../src/repository/memory-budget.js';

const model = (name: string, footprint: number, lastUsedMs: number, idle = true): BudgetedModel => ({ name, footprint, lastUsedMs, idle });

test('nothing is evicted while the new model fits', () => {
  assert.deepEqual(planEvictions([model('a', 40, 1), model('b', 40, 2)], 20, 100), { fits: true, evict: [] });
  assert.deepEqual(planEvictions([], 100, 100), { fits: true, evict: [] });
});

test('the least recently used idle models go first, only as many as needed', () => {
  const loaded = [model('recent', 30, 30), model('oldest', 30, 10), model('middle', 30, 20)];
  assert.deepEqual(planEvictions(loaded, 20, 100), { fits: true, evict: ['oldest'] });
  assert.deepEqual(planEvictions(loaded, 50, 100), { fits: true, evict: ['oldest', 'middle'] });
  assert.deepEqual(planEvictions([model('never', 30, 0), ...loaded], 30, 100), { fits: true, evict: ['never', 'oldest'] });
});

test('models in use are never evicted; when they hold too much the plan says how much is missing', () => {
  const loaded = [model('busy', 60, 1, false), model('idle', 30, 2)];
  assert.deepEqual(planEvictions(loaded, 30, 100), { fits: true, evict: ['idle'] });
  assert.deepEqual(planEvictions(loaded, 50, 100), { fits: false, shortBytes: 10 });
  assert.deepEqual(planEvictions([], 150, 100), { fits: false, shortBytes: 50 });
});

test('sizes take decimal and binary units in any case', () => {
  assert.equal(parseByteSize('1048576'), 1048576);
  assert.equal(parseByteSize('512MB'), 512e6);
  assert.equal(parseByteSize('2GiB'), 2 * 2 ** 30);
  assert.equal(parseByteSize('1.5g'), 1.5e9);
  assert.equal(parseByteSize('64 kib'), 65536);
  for (const bad of ['', '0', '-1', 'ten', '5 parsecs', '1e9', '1.2.3GB']) assert.equal(parseByteSize(bad), undefined, bad);
});
