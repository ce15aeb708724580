/**
 * Per-request observations of one model version for the latency histograms and summaries (Triton's
 * MetricModelReporter ObserveHistogram / ObserveSummary). Counters are not here: they are read from
 * the version's statistics when Prometheus scrapes, so the two always agree.
 */
import type { Histogram, Summary } from 'prom-client';
import type { RequestTimings } from './statistics.js';

/** What a model version calls per request; only created when histograms or summaries are on. */
export interface ModelLatencyReporter {
  /** Request start to its (first and only) response, success or failure, in ns. */
  observeFirstResponse(ns: number): void;
  /** A success that ran on the backend. */
  observeSuccess(timings: RequestTimings): void;
  /** A response-cache hit: its queue time and lookup time, in ns. */
  observeCacheHit(queueNs: number, lookupNs: number): void;
  /** A response-cache miss: lookup plus insertion, in ns. */
  observeCacheMiss(ns: number): void;
  /** Takes this version's series out of the families (its model was unloaded). */
  close(): void;
}

/** The summary families, by what they observe. */
export interface SummaryFamilies {
  readonly request: Summary;
  readonly queue: Summary;
  readonly computeInput: Summary;
  readonly computeInfer: Summary;
  readonly computeOutput: Summary;
  readonly cacheHit: Summary;
  readonly cacheMiss: Summary;
}

type Labels = { model: string; version: string };

const NS_PER_US = 1000;
const NS_PER_MS = 1_000_000;

/**
 * A version's reporter. Durations are truncated to whole µs (summaries) and ms (the first-response
 * histogram) per observation, as Triton divides its nanosecond integers. With the response cache on,
 * the request summary is not observed (Triton's DLIS-4762: a miss's insertion would be left out).
 */
export function createModelReporter(
  labels: Labels,
  histogram: Histogram | undefined,
  summaries: SummaryFamilies | undefined,
  cacheEnabled: boolean,
): ModelLatencyReporter {
  const us = (ns: number): number => Math.max(0, Math.trunc(ns / NS_PER_US));
  histogram?.zero(labels); // listed from the load on, as Triton creates it with the reporter
  const first = histogram?.labels(labels);
  const request = summaries !== undefined && !cacheEnabled ? summaries.request.labels(labels) : undefined;
  const queue = summaries?.queue.labels(labels);
  const computeInput = summaries?.computeInput.labels(labels);
  const computeInfer = summaries?.computeInfer.labels(labels);
  const computeOutput = summaries?.computeOutput.labels(labels);
  const cacheHit = cacheEnabled ? summaries?.cacheHit.labels(labels) : undefined;
  const cacheMiss = cacheEnabled ? summaries?.cacheMiss.labels(labels) : undefined;
  return {
    observeFirstResponse(ns) {
      first?.observe(Math.max(0, Math.trunc(ns / NS_PER_MS)));
    },
    observeSuccess(timings) {
      request?.observe(us(timings.requestNs));
      queue?.observe(us(timings.queueNs));
      computeInput?.observe(us(timings.computeInputNs));
      computeInfer?.observe(us(timings.computeInferNs));
      computeOutput?.observe(us(timings.computeOutputNs));
    },
    observeCacheHit(queueNs, lookupNs) {
      queue?.observe(us(queueNs));
      cacheHit?.observe(us(lookupNs));
    },
    observeCacheMiss(ns) {
      cacheMiss?.observe(us(ns));
    },
    close() {
      histogram?.remove(labels);
      if (summaries !== undefined) for (const family of Object.values(summaries)) family.remove(labels);
    },
  };
}
