import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyVariant,
  configPbtxt,
  lastIncreasedThroughput,
  metricValue,
  paretoFront,
  parseVmRss,
  powersOfTwo,
  recommend,
  rowsCsv,
  searchSpace,
  settingsOf,
  throughputGainValid,
  type ConfigResult,
  type MeasuredRow,
  type VariantSettings,
} from '@nereid/analyzer';
import { parseModelConfig } from '../../src/config/read-config.js';

const SETTINGS: VariantSettings = { instanceCount: 1, maxBatchSize: 8, dynamicBatching: true, queueDelayUs: 0 };

function row(variant: string, concurrency: number, throughput: number, p99LatencyMs: number, memoryBytes = 100e6): MeasuredRow {
  return {
    model: 'm', variant, settings: SETTINGS, concurrency, throughput, p99LatencyMs, memoryBytes,
    avgLatencyMs: p99LatencyMs / 2, p50LatencyMs: p99LatencyMs / 2, p90LatencyMs: p99LatencyMs, p95LatencyMs: p99LatencyMs,
    serverQueueUs: 10, serverComputeUs: 20,
  };
}

function result(name: string, rows: MeasuredRow[]): ConfigResult {
  return { variant: { model: 'm', name, isDefault: name === 'm_config_default' }, settings: SETTINGS, config: { name: 'm' }, rows };
}

describe('analyzer: search space and early exits (model_analyzer brute search)', () => {
  it('sweeps powers of two, and explicit lists replace a dimension; disabled search keeps only the lists', () => {
    assert.deepEqual(powersOfTwo(1, 128), [1, 2, 4, 8, 16, 32, 64, 128]);
    assert.deepEqual(powersOfTwo(3, 20), [4, 8, 16]);
    const bounds = { minInstanceCount: 1, maxInstanceCount: 3, minModelBatchSize: 2, maxModelBatchSize: 8, minConcurrency: 1, maxConcurrency: 4, dynamicBatching: [true], queueDelaysUs: [0] };
    const auto = searchSpace(bounds, false);
    assert.deepEqual([auto.instanceCounts, auto.maxBatchSizes, auto.concurrencies], [[1, 2, 3], [2, 4, 8], [1, 2, 4]]);
    const manual = searchSpace({ ...bounds, instanceCounts: [2] }, true);
    assert.deepEqual([manual.instanceCounts, manual.maxBatchSizes, manual.concurrencies], [[2], [], [1, 2, 4]]);
    const { dynamicBatching: _on, ...automatic } = bounds;
    assert.deepEqual(searchSpace(automatic, false).dynamicBatching, [true, false], 'on and off by default');
    assert.deepEqual(searchSpace(automatic, true).dynamicBatching, [], 'disabled without lists: the model config only');
  });

  it('stops a concurrency sweep when the last 4 results gain no more than 5 %', () => {
    assert.equal(throughputGainValid([100, 100, 100]), true, 'fewer than 4 results');
    assert.equal(throughputGainValid([100, 150, 200, 300]), true);
    assert.equal(throughputGainValid([100, 103, 104, 105]), false, 'exactly 5 % is not a gain');
    assert.equal(throughputGainValid([50, 100, 103, 104, 104]), false, 'judged over the last 4 only');
  });

  it('stops a max_batch_size walk as soon as one does not beat every earlier one', () => {
    assert.equal(lastIncreasedThroughput([100]), true);
    assert.equal(lastIncreasedThroughput([100, 200, 300]), true);
    assert.equal(lastIncreasedThroughput([100, 300, 200]), false);
  });
});

describe('analyzer: variants', () => {
  const base = { name: 'm', max_batch_size: 8, instance_group: [{ name: 'm_0', count: 2, kind: 'KIND_CPU' }], dynamic_batching: { preferred_batch_size: [8] } };

  it('applies instance count, max_batch_size and a fresh dynamic_batching block, and reads them back', () => {
    const on = applyVariant(base, { instanceCount: 3, maxBatchSize: 4, dynamicBatching: true, queueDelayUs: 100 });
    assert.deepEqual(on['instance_group'], [{ count: 3, kind: 'KIND_CPU' }]);
    assert.deepEqual(on['dynamic_batching'], { max_queue_delay_microseconds: 100 });
    assert.deepEqual(settingsOf(on), { instanceCount: 3, maxBatchSize: 4, dynamicBatching: true, queueDelayUs: 100 });
    const off = applyVariant(base, { dynamicBatching: false, queueDelayUs: 0 });
    assert.deepEqual(settingsOf(off), { instanceCount: 2, maxBatchSize: 8, dynamicBatching: false, queueDelayUs: 0 });
    assert.deepEqual(base.dynamic_batching, { preferred_batch_size: [8] }, 'the base is not changed');
  });

  it('prints config.pbtxt that the server parses back to the same settings, under the new name', () => {
    const json = { ...applyVariant(base, { instanceCount: 2, maxBatchSize: 16, dynamicBatching: true, queueDelayUs: 250 }), platform: 'onnxruntime_onnx' };
    const text = configPbtxt(json, 'm_config_3');
    const parsed = parseModelConfig(text, 'config.pbtxt');
    assert.equal(parsed.name, 'm_config_3');
    assert.equal(parsed.maxBatchSize, 16);
    assert.equal(parsed.instanceGroup[0]?.count, 2);
    assert.equal(parsed.schedulingChoice.case, 'dynamicBatching');
    assert.equal(parsed.schedulingChoice.value?.maxQueueDelayMicroseconds, 250n);
  });
});

describe('analyzer: Pareto front and recommendations', () => {
  const a = result('m_config_default', [row('m_config_default', 1, 100, 2), row('m_config_default', 2, 150, 5)]);
  const b = result('m_config_0', [row('m_config_0', 1, 120, 3), row('m_config_0', 2, 300, 12), row('m_config_0', 4, 310, 30)]);
  const c = result('m_config_1', [row('m_config_1', 1, 90, 4)]);

  it('keeps the rows no other row beats on both throughput and p99', () => {
    const front = paretoFront([...a.rows, ...b.rows, ...c.rows]);
    assert.deepEqual(front.map((r) => [r.variant, r.concurrency]), [
      ['m_config_default', 1], ['m_config_0', 1], ['m_config_default', 2], ['m_config_0', 2], ['m_config_0', 4],
    ]);
    assert.ok(!front.some((r) => r.variant === 'm_config_1'), '90 infer/s at 4 ms is beaten by 120 at 3 ms');
  });

  it('recommends the configs meeting the constraints, best throughput first, each at its best qualifying row', () => {
    const none = recommend([a, b, c], {});
    assert.deepEqual(none.map((r) => [r.result.variant.name, r.row.throughput]), [['m_config_0', 310], ['m_config_default', 150], ['m_config_1', 90]]);
    const budget = recommend([a, b, c], { latencyBudgetMs: 10 });
    assert.deepEqual(budget.map((r) => [r.result.variant.name, r.row.throughput]), [['m_config_default', 150], ['m_config_0', 120], ['m_config_1', 90]]);
    assert.ok(budget.every((r) => r.row.p99LatencyMs <= 10));
    const both = recommend([a, b, c], { latencyBudgetMs: 20, minThroughput: 200 });
    assert.deepEqual(both.map((r) => [r.result.variant.name, r.row.concurrency]), [['m_config_0', 2]]);
    assert.deepEqual(recommend([a, b, c], { latencyBudgetMs: 1 }), []);
    assert.equal(recommend([a, b, c], {}, 2).length, 2);
  });

  it('writes one CSV line per row with the same figures', () => {
    const lines = rowsCsv([...a.rows, ...b.rows]).trim().split('\n');
    assert.equal(lines.length, 1 + 5);
    assert.match(lines[0] ?? '', /^Model,Model Config Path,Instance Count,/);
    assert.equal(lines[4], 'm,m_config_0,1,8,on,0,2,300.00,12.000,12.000,12.000,6.000,6.000,10,20,100.0');
  });
});

describe('analyzer: memory sources', () => {
  it('reads VmRSS and Prometheus samples', () => {
    assert.equal(parseVmRss('Name:\tnode\nVmRSS:\t  20480 kB\nVmData: 1 kB\n'), 20480 * 1024);
    const text = '# HELP x\nnv_cpu_memory_used_bytes 123456789\nprocess_resident_memory_bytes{a="b"} 42\n';
    assert.equal(metricValue(text, 'nv_cpu_memory_used_bytes'), 123456789);
    assert.equal(metricValue(text, 'process_resident_memory_bytes'), 42);
    assert.equal(metricValue(text, 'nv_cpu_memory'), undefined);
  });
});
