/**
 * `--metrics-config <setting>=<value>` read as Triton's MetricReporterConfig::ParseConfig reads it
 * (core `metric_model_reporter.cc`): latency counters on unless `counter_latencies=false`,
 * histograms and summaries off unless `histogram_latencies=true` / `summary_latencies=true`, and
 * `summary_quantiles=<quantile>:<error>,...`. Other settings are ignored, as in Triton.
 */
import type { Logger } from '../observability/logger.js';

/** A summary quantile and its allowed error (prometheus-cpp's CKMS pair). */
export interface Quantile {
  readonly quantile: number;
  readonly error: number;
}

export interface MetricsSettings {
  readonly counterLatencies: boolean;
  readonly histogramLatencies: boolean;
  readonly summaryLatencies: boolean;
  readonly quantiles: readonly Quantile[];
}

/** Triton's default summary quantiles (MetricReporterConfig::quantiles_). */
export const DEFAULT_QUANTILES: readonly Quantile[] = Object.freeze([
  { quantile: 0.5, error: 0.05 },
  { quantile: 0.9, error: 0.01 },
  { quantile: 0.95, error: 0.001 },
  { quantile: 0.99, error: 0.001 },
  { quantile: 0.999, error: 0.001 },
]);

/** Triton's default buckets of `nv_inference_first_response_histogram_ms`, in milliseconds. */
export const DEFAULT_FIRST_RESPONSE_BUCKETS: readonly number[] = Object.freeze([100, 500, 2000, 5000]);

export function metricsSettings(config: ReadonlyMap<string, string>, logger: Logger): MetricsSettings {
  const quantiles = config.has('summary_quantiles') ? parseQuantiles(config.get('summary_quantiles')!, logger) : [];
  return {
    counterLatencies: config.get('counter_latencies') !== 'false',
    histogramLatencies: config.get('histogram_latencies') === 'true',
    summaryLatencies: config.get('summary_latencies') === 'true',
    quantiles: quantiles.length > 0 ? quantiles : DEFAULT_QUANTILES,
  };
}

/** `0.5:0.05,0.9:0.01`: malformed pairs are logged and skipped, as Triton's ParseQuantiles does. */
export function parseQuantiles(text: string, logger: Logger): Quantile[] {
  const pairs: Quantile[] = [];
  for (const pair of text.split(',')) {
    const colon = pair.indexOf(':');
    if (colon < 0) {
      logger.error(`Invalid option: [${pair}]. No ':' delimiter found. Expected format is <quantile>:<error>`);
      continue;
    }
    const quantile = Number.parseFloat(pair.slice(0, colon));
    const error = Number.parseFloat(pair.slice(colon + 1));
    if (!Number.isFinite(quantile) || !Number.isFinite(error) || quantile < 0 || quantile > 1) {
      logger.error(`Invalid option: [${pair}]. Error: not a quantile in [0, 1] and an error`);
      continue;
    }
    pairs.push({ quantile, error });
  }
  return pairs;
}
