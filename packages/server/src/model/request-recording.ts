/**
 * What a model version records of each request: the statistics extension's counters, the latency
 * reporter's observations (with Prometheus histograms or summaries on) and, for a traced request,
 * its execution's timestamps.
 */
import type { ModelLatencyReporter } from '../metrics/model-reporter.js';
import type { FailureReason, ModelStatisticsRecorder, RequestTimings } from '../metrics/statistics.js';
import type { InferenceTrace } from '../observability/tracing/request-trace.js';
import type { CompletionTimings, RefusalOrReason } from '../scheduler/scheduler.js';
import type { Tensor } from '../tensor/tensor.js';
import { nowNs } from '../util/clock.js';

/**
 * A version's statistics and latency reporter, recorded together per request. The versions made by
 * `ModelVersion.withInstanceGroups` share the one of the version they were made from.
 */
export class RequestRecorder {
  constructor(
    readonly statistics: ModelStatisticsRecorder,
    /** With latency histograms or summaries on: this version's per-request observations. */
    readonly reporter: ModelLatencyReporter | undefined,
  ) {}

  /** Records a failed request (unless it was refused before entering the model). */
  fail(startNs: number, reason: FailureReason | undefined): void {
    if (reason === undefined) return;
    const requestNs = nowNs() - startNs;
    this.statistics.recordFailure(requestNs, reason);
    this.reporter?.observeFirstResponse(requestNs);
  }

  /** A response-cache hit, answered without the queue or the backend. */
  cacheHit(requestNs: number, queueNs: number, lookupNs: number): void {
    this.statistics.recordCacheHit(requestNs, queueNs, lookupNs);
    this.reporter?.observeCacheHit(queueNs, lookupNs);
    this.reporter?.observeFirstResponse(requestNs);
  }

  /** A response-cache miss: lookup plus insertion of the outputs, in ns. */
  cacheMiss(missNs: number): void {
    this.statistics.recordCacheMiss(missNs);
    this.reporter?.observeCacheMiss(missNs);
  }

  /** A success that ran on the backend. */
  success(timings: RequestTimings, batchSize: number): void {
    this.statistics.recordSuccess(timings, batchSize);
    this.reporter?.observeSuccess(timings);
    this.reporter?.observeFirstResponse(timings.requestNs);
  }
}

/**
 * Triton's failure reasons: what the scheduler reports (REJECTED, CANCELED), BACKEND for a failed
 * execution; an ensemble's failures are all OTHER (Triton's metrics.md).
 */
export function failureReason(reason: RefusalOrReason | undefined, ensemble: boolean): FailureReason | undefined {
  if (reason === 'REFUSED') return undefined;
  if (ensemble) return 'OTHER';
  return reason ?? 'BACKEND';
}

/**
 * A traced request's execution as Triton's core reports it: the compute timestamps follow from the
 * queue start and the measured durations (an ensemble has none of its own: its steps are children),
 * then the outputs at the TENSORS level, then REQUEST_END.
 */
export function traceExecution(trace: InferenceTrace, enqueuedNs: number, timings: CompletionTimings, outputs: readonly Tensor[], ensemble: boolean): void {
  let computeEnd = 0;
  if (!ensemble) {
    const computeStart = enqueuedNs + timings.queueNs;
    const inputEnd = computeStart + timings.computeInputNs;
    const outputStart = inputEnd + timings.computeInferNs;
    computeEnd = outputStart + timings.computeOutputNs;
    trace.report('COMPUTE_START', computeStart);
    trace.report('COMPUTE_INPUT_END', inputEnd);
    trace.report('COMPUTE_OUTPUT_START', outputStart);
    trace.report('COMPUTE_END', computeEnd);
  }
  trace.reportTensors('TENSOR_BACKEND_OUTPUT', outputs);
  trace.requestEnd(Math.max(nowNs(), computeEnd));
}
