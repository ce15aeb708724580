import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuUtilization, parseMemInfo, parseProcStat } from '../../../src/metrics/cpu-metrics.js';
import { DEFAULT_QUANTILES, metricsSettings, parseQuantiles } from '../../../src/metrics/metrics-settings.js';
import { ServerMetrics, type ModelMetricsSample } from '../../../src/metrics/prometheus-metrics.js';
import { ModelStatisticsRecorder } from '../../../src/metrics/statistics.js';
import { silentLogger } from '../../../src/observability/logger.js';

function sample(recorder: ModelStatisticsRecorder, extra: Partial<ModelMetricsSample> = {}): ModelMetricsSample {
  return {
    statistics: recorder.snapshot(),
    failures: recorder.failureCounts(),
    pendingRequests: 0,
    loadDurationSecs: 0.25,
    cacheEnabled: false,
    ...extra,
  };
}

function metrics(config: Record<string, string>, models: () => readonly ModelMetricsSample[]): ServerMetrics {
  return new ServerMetrics({ settings: metricsSettings(new Map(Object.entries(config)), silentLogger), cpu: false, intervalMs: 2000, models });
}

test('--metrics-config: counters on, histograms and summaries off by default; Triton quantiles unless given', () => {
  assert.deepEqual(metricsSettings(new Map(), silentLogger), {
    counterLatencies: true,
    histogramLatencies: false,
    summaryLatencies: false,
    quantiles: DEFAULT_QUANTILES,
  });
  const set = metricsSettings(
    new Map([['counter_latencies', 'false'], ['histogram_latencies', 'true'], ['summary_latencies', 'true'], ['summary_quantiles', '0.5:0.05,0.9:0.01']]),
    silentLogger,
  );
  assert.deepEqual(set.quantiles, [{ quantile: 0.5, error: 0.05 }, { quantile: 0.9, error: 0.01 }]);
  assert.deepEqual([set.counterLatencies, set.histogramLatencies, set.summaryLatencies], [false, true, true]);
  // Only the exact words switch: Triton compares with "true" / "false".
  assert.equal(metricsSettings(new Map([['summary_latencies', 'TRUE']]), silentLogger).summaryLatencies, false);
});

test('malformed quantile pairs are logged with Triton text and skipped', () => {
  const lines: string[] = [];
  const logger = { ...silentLogger, error: (line: string) => void lines.push(line) };
  assert.deepEqual(parseQuantiles('0.5:0.05,0.9,x:1,0.99:0.001', logger), [
    { quantile: 0.5, error: 0.05 },
    { quantile: 0.99, error: 0.001 },
  ]);
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /Invalid option: \[0\.9\]\. No ':' delimiter found\. Expected format is <quantile>:<error>/);
  assert.deepEqual(metricsSettings(new Map([['summary_quantiles', 'bad']]), silentLogger).quantiles, DEFAULT_QUANTILES);
});

test('counters are read from the statistics at scrape time, failures per reason, and go with the model', async () => {
  const recorder = new ModelStatisticsRecorder('m', 2n);
  recorder.recordExecution(4, 1000, 2000, 3000);
  recorder.recordSuccess({ requestNs: 12_345_678, queueNs: 999, computeInputNs: 1000, computeInferNs: 2000, computeOutputNs: 3000 }, 4);
  recorder.recordFailure(5000, 'REJECTED');
  recorder.recordFailure(5000, 'BACKEND');
  recorder.recordFailure(5000, 'BACKEND');
  let models = [sample(recorder, { pendingRequests: 3 })];
  const server = metrics({}, () => models);
  const text = await server.text();
  assert.match(text, /^# HELP nv_inference_request_success Number of successful inference requests, all batch sizes\n# TYPE nv_inference_request_success counter\nnv_inference_request_success\{model="m",version="2"\} 1$/m);
  assert.match(text, /^nv_inference_request_failure\{model="m",reason="REJECTED",version="2"\} 1$/m);
  assert.match(text, /^nv_inference_request_failure\{model="m",reason="BACKEND",version="2"\} 2$/m);
  assert.match(text, /^nv_inference_request_failure\{model="m",reason="CANCELED",version="2"\} 0$/m);
  assert.match(text, /^nv_inference_count\{model="m",version="2"\} 4$/m);
  assert.match(text, /^nv_inference_exec_count\{model="m",version="2"\} 1$/m);
  assert.match(text, /^nv_inference_request_duration_us\{model="m",version="2"\} 12345$/m);
  assert.match(text, /^nv_inference_queue_duration_us\{model="m",version="2"\} 0$/m);
  assert.match(text, /^nv_inference_compute_infer_duration_us\{model="m",version="2"\} 2$/m);
  assert.match(text, /^nv_inference_pending_request_count\{model="m",version="2"\} 3$/m);
  assert.match(text, /^nv_model_load_duration_secs\{model="m",version="2"\} 0\.25$/m);
  assert.match(text, /^nv_pinned_memory_pool_total_bytes 0$/m);
  assert.doesNotMatch(text, /nv_cache_num_hits_per_model\{/, 'no cache series without the cache');
  assert.doesNotMatch(text, /nv_cpu_utilization/, 'no CPU metrics when they are off');
  models = [];
  assert.doesNotMatch(await server.text(), /model="m"/);
  server.close();
});

test('counter_latencies=false drops the latency counters and keeps the counts', async () => {
  const recorder = new ModelStatisticsRecorder('m', 1n);
  recorder.recordSuccess({ requestNs: 5000, queueNs: 1000, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 }, 1);
  const text = await metrics({ counter_latencies: 'false' }, () => [sample(recorder, { cacheEnabled: true })]).text();
  assert.match(text, /^nv_inference_request_success\{model="m",version="1"\} 1$/m);
  assert.doesNotMatch(text, /nv_inference_request_duration_us\{/);
  assert.doesNotMatch(text, /nv_cache_num_hits_per_model\{/);
  assert.match(text, /^# TYPE nv_inference_request_duration_us counter$/m, 'the family is still declared, as Triton registers it');
});

test('summaries with the configured quantiles; the first-response histogram with per-model buckets; close() removes them', async () => {
  const server = metrics({ histogram_latencies: 'true', summary_latencies: 'true', summary_quantiles: '0.5:0.05,0.99:0.001' }, () => []);
  const a = server.reporterFor({ name: 'a', version: '1', firstResponseBuckets: [8, 1, 2], cacheEnabled: false })!;
  const b = server.reporterFor({ name: 'b', version: '1', firstResponseBuckets: undefined, cacheEnabled: true })!;
  a.observeSuccess({ requestNs: 3_999_999, queueNs: 1500, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 });
  a.observeFirstResponse(3_999_999);
  b.observeCacheHit(2000, 7000);
  b.observeFirstResponse(250_000_000);
  const text = await server.text();
  assert.match(text, /^nv_inference_request_summary_us\{quantile="0\.5",model="a",version="1"\} 3999$/m);
  assert.match(text, /^nv_inference_request_summary_us\{quantile="0\.99",model="a",version="1"\} 3999$/m);
  assert.doesNotMatch(text, /quantile="0\.9",/);
  assert.match(text, /^nv_inference_request_summary_us_count\{model="a",version="1"\} 1$/m);
  assert.doesNotMatch(text, /nv_inference_request_summary_us_count\{model="b"/, 'no request summary with the cache');
  assert.match(text, /^nv_cache_hit_summary_per_model_sum\{model="b",version="1"\} 7$/m);
  assert.match(text, /^nv_inference_first_response_histogram_ms_bucket\{le="2",model="a",version="1"\} 0$/m);
  assert.match(text, /^nv_inference_first_response_histogram_ms_bucket\{le="8",model="a",version="1"\} 1$/m);
  assert.match(text, /^nv_inference_first_response_histogram_ms_sum\{model="a",version="1"\} 3$/m);
  assert.match(text, /^nv_inference_first_response_histogram_ms_bucket\{le="500",model="b",version="1"\} 1$/m);
  assert.match(text, /^nv_inference_first_response_histogram_ms_bucket\{le="100",model="b",version="1"\} 0$/m);
  assert.equal(text.match(/^# TYPE nv_inference_first_response_histogram_ms histogram$/gm)?.length, 1, 'one family');
  a.close();
  const after = await server.text();
  assert.doesNotMatch(after, /model="a"/);
  assert.match(after, /model="b"/);
  assert.equal(metrics({}, () => []).reporterFor({ name: 'a', version: '1', firstResponseBuckets: undefined, cacheEnabled: false }), undefined);
});

test('CPU metrics: /proc/stat busy over busy + idle between readings, /proc/meminfo total and total − available', () => {
  const before = parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n')!;
  const now = parseProcStat('cpu  160 10 80 860 60 5 5 0 0 0\n')!;
  assert.deepEqual(before, { busy: 150, idle: 850 });
  assert.equal(cpuUtilization(now, before), (60 + 10 + 30 + 5 + 5) / (110 + 70));
  assert.equal(cpuUtilization(before, before), 0);
  assert.equal(parseProcStat('intr 1 2 3\n'), undefined);
  assert.deepEqual(parseMemInfo('MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    400 kB\nHugePages_Total: 0\n'), {
    total: 1000 * 1024,
    used: 600 * 1024,
  });
  assert.equal(parseMemInfo('MemTotal: 10 kB\n'), undefined);
  assert.equal(parseMemInfo('MemTotal: 10 kB\nMemAvailable: 20 kB\n'), undefined);
});
