import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelStatisticsRecorder } from '../../../src/metrics/statistics.js';

test('statistics follow Triton: batch-weighted inference_count, executions per batch size, failures apart', () => {
  const stats = new ModelStatisticsRecorder('simple', 3n);
  const empty = stats.snapshot();
  assert.deepEqual(Object.keys(empty), [
    'name', 'version', 'last_inference', 'inference_count', 'execution_count',
    'inference_stats', 'response_stats', 'batch_stats', 'memory_usage',
  ]);
  assert.equal(empty.version, '3');
  assert.equal(empty.last_inference, 0);
  stats.recordExecution(4, 10, 20, 30);
  stats.recordSuccess({ requestNs: 100, queueNs: 5, computeInputNs: 10, computeInferNs: 20, computeOutputNs: 30 }, 4);
  stats.recordExecution(1, 1, 2, 3);
  stats.recordSuccess({ requestNs: 50, queueNs: 1, computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 }, 1);
  stats.recordFailure(7, 'BACKEND');
  const snap = stats.snapshot();
  assert.equal(snap.inference_count, 5);
  assert.equal(snap.execution_count, 2);
  assert.deepEqual(snap.inference_stats.success, { count: 2, ns: 150 });
  assert.deepEqual(snap.inference_stats.fail, { count: 1, ns: 7 });
  assert.deepEqual(stats.failureCounts(), { REJECTED: 0, CANCELED: 0, BACKEND: 1, OTHER: 0 });
  assert.deepEqual(snap.inference_stats.compute_infer, { count: 2, ns: 22 });
  assert.deepEqual(snap.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[1, 1], [4, 1]]);
  assert.ok(snap.last_inference > 0);
  snap.inference_stats.success.count = 99;
  assert.equal(stats.snapshot().inference_stats.success.count, 2, 'snapshots are copies');
});

test('a cache hit is a success with queue and cache_hit time, not an inference; a miss adds cache_miss', () => {
  const stats = new ModelStatisticsRecorder('simple', 1n);
  stats.recordExecution(1, 1, 2, 3);
  stats.recordSuccess({ requestNs: 50, queueNs: 4, computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 }, 1);
  stats.recordCacheMiss(9);
  stats.recordCacheHit(20, 2, 6);
  const snap = stats.snapshot();
  assert.deepEqual(snap.inference_stats.success, { count: 2, ns: 70 });
  assert.deepEqual(snap.inference_stats.queue, { count: 2, ns: 6 });
  assert.deepEqual(snap.inference_stats.cache_hit, { count: 1, ns: 6 });
  assert.deepEqual(snap.inference_stats.cache_miss, { count: 1, ns: 9 });
  assert.deepEqual(snap.inference_stats.compute_infer, { count: 1, ns: 2 });
  assert.equal(snap.inference_count, 1);
  assert.equal(snap.execution_count, 1);
});
