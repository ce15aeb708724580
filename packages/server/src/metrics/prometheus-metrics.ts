/**
 * The server's Prometheus metrics with Triton's names, types, help texts and labels (core
 * `metrics.cc` families, `metric_model_reporter.cc` series), on prom-client. Per-model counters and
 * gauges are read at scrape time from each loaded version's statistics, so they agree with the
 * statistics extension by construction and vanish with the version; histograms and summaries are
 * observed per request (`model-reporter.ts`) and only when `--metrics-config` enables them.
 */
import { CustomMetrics } from './custom-metrics.js';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import type { Metric } from 'prom-client';
import { CpuMetricsPoller } from './cpu-metrics.js';
import { DEFAULT_FIRST_RESPONSE_BUCKETS, type MetricsSettings } from './metrics-settings.js';
import { createModelReporter, type ModelLatencyReporter, type SummaryFamilies } from './model-reporter.js';
import type { FailureCounts, FailureReason } from './statistics.js';
import { FAILURE_REASONS } from './statistics.js';
import type { ModelStatistics } from './statistics-types.js';

/** What the metrics read from one loaded model version at scrape time. */
export interface ModelMetricsSample {
  readonly statistics: ModelStatistics;
  readonly failures: FailureCounts;
  /** Requests received and not yet executing (Triton's pending request count). */
  readonly pendingRequests: number;
  readonly loadDurationSecs: number;
  /** Both the model and the server enable the response cache. */
  readonly cacheEnabled: boolean;
}

export interface ServerMetricsOptions {
  readonly settings: MetricsSettings;
  /** `--allow-cpu-metrics` (and `--allow-metrics`). */
  readonly cpu: boolean;
  /** `--metrics-interval-ms`: how often the CPU metrics are read. */
  readonly intervalMs: number;
  /** The loaded versions, read once per scrape. */
  readonly models: () => readonly ModelMetricsSample[];
}

/** What a model version's reporter is made from. */
export interface ModelReporterOptions {
  readonly name: string;
  readonly version: string;
  /** The config's `model_metrics` buckets for `nv_inference_first_response_histogram_ms`, if set. */
  readonly firstResponseBuckets: readonly number[] | undefined;
  readonly cacheEnabled: boolean;
}

/** The content type Triton's metrics endpoint answers with. */
export const METRICS_CONTENT_TYPE = 'text/plain; charset=utf-8';

export const FIRST_RESPONSE_HISTOGRAM = 'nv_inference_first_response_histogram_ms';

const MODEL_LABELS = ['model', 'version'] as const;
const NS_PER_US = 1000;

type Read = (sample: ModelMetricsSample) => number | undefined;

export class ServerMetrics {
  readonly settings: MetricsSettings;
  readonly #registry = new Registry();
  /** Metrics the models define (the Python backend's pb_utils.MetricFamily). */
  readonly custom = new CustomMetrics(this.#registry);
  readonly #models: () => readonly ModelMetricsSample[];
  #samples: readonly ModelMetricsSample[] = [];
  readonly #firstResponse: HistogramFamily;
  readonly #summaries: SummaryFamilies;
  readonly #cpu: CpuMetricsPoller | undefined;

  constructor(options: ServerMetricsOptions) {
    this.settings = options.settings;
    this.#models = options.models;
    const latency = options.settings.counterLatencies;
    this.#counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', (s) => s.statistics.inference_stats.success.count);
    this.#failureCounter();
    this.#counter('nv_inference_count', 'Number of inferences performed (does not include cached requests)', (s) => s.statistics.inference_count);
    this.#counter('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', (s) => s.statistics.execution_count);
    const us = (read: (stats: ModelStatistics['inference_stats']) => number, cacheOnly = false): Read => (s) =>
      latency && (!cacheOnly || s.cacheEnabled) ? Math.trunc(read(s.statistics.inference_stats) / NS_PER_US) : undefined;
    this.#counter('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', us((i) => i.success.ns));
    this.#counter('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', us((i) => i.queue.ns));
    this.#counter('nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', us((i) => i.compute_input.ns));
    this.#counter('nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', us((i) => i.compute_infer.ns));
    this.#counter('nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', us((i) => i.compute_output.ns));
    this.#gauge('nv_inference_pending_request_count', 'Instantaneous number of pending requests awaiting execution per-model.', (s) => s.pendingRequests);
    this.#gauge('nv_model_load_duration_secs', 'Model load time in seconds', (s) => s.loadDurationSecs);
    // No pinned memory on this CPU-only server: Triton's CPU-only build reports an empty pool.
    new Gauge({ name: 'nv_pinned_memory_pool_total_bytes', help: 'Pinned memory pool total memory size, in bytes', registers: [this.#registry] });
    new Gauge({ name: 'nv_pinned_memory_pool_used_bytes', help: 'Pinned memory pool used memory size, in bytes', registers: [this.#registry] });
    const cacheCount = (read: (stats: ModelStatistics['inference_stats']) => number): Read => (s) =>
      latency && s.cacheEnabled ? read(s.statistics.inference_stats) : undefined;
    this.#counter('nv_cache_num_hits_per_model', 'Number of cache hits per model', cacheCount((i) => i.cache_hit.count));
    this.#counter('nv_cache_hit_duration_per_model', 'Total cache hit duration per model, in microseconds', us((i) => i.cache_hit.ns, true));
    this.#counter('nv_cache_num_misses_per_model', 'Number of cache misses per model', cacheCount((i) => i.cache_miss.count));
    this.#counter('nv_cache_miss_duration_per_model', 'Total cache miss (insert+lookup) duration per model, in microseconds', us((i) => i.cache_miss.ns, true));
    this.#firstResponse = new HistogramFamily(FIRST_RESPONSE_HISTOGRAM, 'Duration from request to first response in milliseconds');
    this.#registry.registerMetric(this.#firstResponse as unknown as Metric);
    this.#summaries = this.#summaryFamilies();
    this.#cpu = options.cpu ? this.#cpuGauges(options.intervalMs) : undefined;
  }

  /**
   * The per-request reporter of a version being loaded, or undefined when neither histograms nor
   * summaries are enabled (then a request costs the metrics nothing).
   */
  reporterFor(options: ModelReporterOptions): ModelLatencyReporter | undefined {
    const { histogramLatencies, summaryLatencies } = this.settings;
    if (!histogramLatencies && !summaryLatencies) return undefined;
    const histogram = histogramLatencies ? this.#firstResponse.histogramFor(options.firstResponseBuckets ?? DEFAULT_FIRST_RESPONSE_BUCKETS) : undefined;
    const labels = { model: options.name, version: options.version };
    return createModelReporter(labels, histogram, summaryLatencies ? this.#summaries : undefined, options.cacheEnabled);
  }

  /** The Prometheus text of every metric now. */
  async text(): Promise<string> {
    this.#samples = this.#models();
    return this.#registry.metrics();
  }

  /** Stops the CPU poller. */
  close(): void {
    this.#cpu?.stop();
  }

  #counter(name: string, help: string, read: Read): void {
    const samples = (): readonly ModelMetricsSample[] => this.#samples;
    new Counter({
      name,
      help,
      labelNames: MODEL_LABELS,
      registers: [this.#registry],
      collect(this: Counter) {
        this.reset();
        for (const sample of samples()) {
          const value = read(sample);
          if (value !== undefined) this.inc(modelLabels(sample), value);
        }
      },
    });
  }

  #failureCounter(): void {
    const samples = (): readonly ModelMetricsSample[] => this.#samples;
    new Counter({
      name: 'nv_inference_request_failure',
      help: 'Number of failed inference requests, all batch sizes',
      labelNames: ['model', 'reason', 'version'],
      registers: [this.#registry],
      collect(this: Counter) {
        this.reset();
        for (const sample of samples()) {
          for (const reason of FAILURE_REASONS) this.inc(failureLabels(sample, reason), sample.failures[reason]);
        }
      },
    });
  }

  #gauge(name: string, help: string, read: Read): void {
    const samples = (): readonly ModelMetricsSample[] => this.#samples;
    new Gauge({
      name,
      help,
      labelNames: MODEL_LABELS,
      registers: [this.#registry],
      collect(this: Gauge) {
        this.reset();
        for (const sample of samples()) this.set(modelLabels(sample), read(sample) ?? 0);
      },
    });
  }

  #summaryFamilies(): SummaryFamilies {
    const quantiles = this.settings.quantiles;
    const summary = (name: string, help: string): Summary =>
      new Summary({
        name,
        help,
        labelNames: MODEL_LABELS,
        // prometheus-cpp's defaults: a 60 s sliding window in 5 age buckets.
        percentiles: quantiles.map((q) => q.quantile),
        maxAgeSeconds: 60,
        ageBuckets: 5,
        registers: [this.#registry],
      });
    return {
      request: summary('nv_inference_request_summary_us', 'Summary of inference request duration in microseconds (includes cached requests)'),
      queue: summary('nv_inference_queue_summary_us', 'Summary of inference queuing duration in microseconds (includes cached requests)'),
      computeInput: summary('nv_inference_compute_input_summary_us', 'Cumulative compute input duration in microseconds (does not include cached requests)'),
      computeInfer: summary('nv_inference_compute_infer_summary_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)'),
      computeOutput: summary('nv_inference_compute_output_summary_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)'),
      cacheHit: summary('nv_cache_hit_summary_per_model', 'Summary of cache hit counts/durations per model, in microseconds.'),
      cacheMiss: summary('nv_cache_miss_summary_per_model', 'Summary of cache miss counts/durations per model, in microseconds.'),
    };
  }

  #cpuGauges(intervalMs: number): CpuMetricsPoller {
    const poller = new CpuMetricsPoller(intervalMs);
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: [this.#registry], collect(this: Gauge) { this.set(read()); } });
    };
    gauge('nv_cpu_utilization', 'CPU utilization rate [0.0 - 1.0]', () => poller.utilization);
    gauge('nv_cpu_memory_total_bytes', 'CPU total memory (RAM), in bytes', () => poller.memory.total);
    gauge('nv_cpu_memory_used_bytes', 'CPU used memory (RAM), in bytes', () => poller.memory.used);
    return poller;
  }
}

function modelLabels(sample: ModelMetricsSample): { model: string; version: string } {
  return { model: sample.statistics.name, version: sample.statistics.version };
}

/** Labels in Triton's (alphabetical) order: model, reason, version. */
function failureLabels(sample: ModelMetricsSample, reason: FailureReason): { model: string; reason: string; version: string } {
  return { model: sample.statistics.name, reason, version: sample.statistics.version };
}

/** A metric family as prom-client's registry reads it. */
interface FamilyData {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly values: readonly unknown[];
}

/**
 * One histogram family whose series may have different buckets, as Triton allows per model through
 * `model_metrics`: prom-client fixes buckets per Histogram, so each distinct bucket list gets its own
 * (unregistered) Histogram and this family prints them together under the one name.
 */
class HistogramFamily {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #byBuckets = new Map<string, Histogram>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  histogramFor(buckets: readonly number[]): Histogram {
    const sorted = [...new Set(buckets)].sort((a, b) => a - b);
    const key = sorted.join(',');
    let histogram = this.#byBuckets.get(key);
    if (histogram === undefined) {
      histogram = new Histogram({ name: this.name, help: this.help, labelNames: MODEL_LABELS, buckets: sorted, registers: [] });
      this.#byBuckets.set(key, histogram);
    }
    return histogram;
  }

  async get(): Promise<FamilyData> {
    type WithGet = { get(): Promise<FamilyData> };
    return this.#merge(await Promise.all([...this.#byBuckets.values()].map((h) => (h as unknown as WithGet).get())));
  }

  /** What prom-client's registry prints from (buckets not yet split into labels). */
  async getForPromString(): Promise<FamilyData> {
    type WithPromString = { getForPromString(): Promise<FamilyData> };
    return this.#merge(await Promise.all([...this.#byBuckets.values()].map((h) => (h as unknown as WithPromString).getForPromString())));
  }

  reset(): void {
    for (const histogram of this.#byBuckets.values()) histogram.reset();
  }

  #merge(parts: readonly FamilyData[]): FamilyData {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: parts.flatMap((part) => part.values) };
  }
}
