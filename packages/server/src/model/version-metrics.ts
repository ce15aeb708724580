/** What a model version adds for the Prometheus metrics: its latency reporter and the pending count. */
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { ModelLatencyReporter } from '../metrics/model-reporter.js';
import { FIRST_RESPONSE_HISTOGRAM, type ServerMetrics } from '../metrics/prometheus-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { InferenceRequest } from '../request/inference-request.js';
import type { ModelInstance } from './instances.js';

interface ReporterContext {
  readonly modelName: string;
  readonly version: bigint;
  readonly config: ModelConfig;
  readonly logger: Logger;
  readonly metrics?: Pick<ServerMetrics, 'reporterFor'> | undefined;
}

/** The version's per-request reporter, with the config's `model_metrics` buckets for the first-response histogram. */
export function reporterOf(options: ReporterContext, cacheEnabled: boolean): ModelLatencyReporter | undefined {
  if (options.metrics === undefined) return undefined;
  const controls = options.config.modelMetrics?.metricControl ?? [];
  for (const entry of controls) {
    const family = entry.metricIdentifier?.family ?? '';
    if (family !== FIRST_RESPONSE_HISTOGRAM) {
      options.logger.warn(`Metric family '${family}' in 'metric_identifier' is not a customizable metric in Triton core.`);
    }
  }
  const control = controls.find((entry) => entry.metricIdentifier?.family === FIRST_RESPONSE_HISTOGRAM);
  const buckets = control?.metricOptions.case === 'histogramOptions' ? control.metricOptions.value.buckets : undefined;
  return options.metrics.reporterFor({ name: options.modelName, version: String(options.version), firstResponseBuckets: buckets, cacheEnabled });
}

/** An instance whose executions take their requests off the pending set. */
export function startsPending(instance: ModelInstance, pending: Set<InferenceRequest>): ModelInstance {
  return {
    ...instance,
    execute: (requests) => {
      for (const request of requests) pending.delete(request);
      return instance.execute(requests);
    },
  };
}
