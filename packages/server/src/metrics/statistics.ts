import type {
  InferBatchStatistics,
  InferResponseStatistics,
  InferStatistics,
  ModelStatistics,
  StatisticDuration,
} from './statistics-types.js';

/**
 * Why a request failed, as Triton's `nv_inference_request_failure` labels it (core
 * `infer_stats.cc` failureReasonToString): a queue or sequence timeout in the scheduler, a
 * cancellation in the core, a failure in the backend's execution, or anything else.
 */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

export const FAILURE_REASONS: readonly FailureReason[] = Object.freeze(['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']);

/** Failed requests per reason. */
export type FailureCounts = Readonly<Record<FailureReason, number>>;

/** Durations of one successful request, in nanoseconds. */
export interface RequestTimings {
  readonly requestNs: number;
  readonly queueNs: number;
  readonly computeInputNs: number;
  readonly computeInferNs: number;
  readonly computeOutputNs: number;
}

/**
 * Cumulative statistics of one model version, with Triton's semantics: every request of a batch is
 * charged the batch's compute durations, `inference_count` is batch-weighted, `execution_count`
 * counts executions, and `batch_stats` aggregates executions per batch size.
 */
export class ModelStatisticsRecorder {
  readonly #name: string;
  readonly #version: string;
  #lastInferenceMs = 0;
  #inferenceCount = 0;
  #executionCount = 0;
  readonly #inference: InferStatistics = {
    success: zero(),
    fail: zero(),
    queue: zero(),
    compute_input: zero(),
    compute_infer: zero(),
    compute_output: zero(),
    cache_hit: zero(),
    cache_miss: zero(),
  };
  readonly #batches = new Map<number, InferBatchStatistics>();
  /** Decoupled models' responses by index within their request. */
  readonly #responses = new Map<string, InferResponseStatistics>();
  readonly #failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };

  constructor(name: string, version: bigint) {
    this.#name = name;
    this.#version = String(version);
  }

  recordSuccess(timings: RequestTimings, batchSize: number): void {
    const stats = this.#inference;
    add(stats.success, timings.requestNs);
    add(stats.queue, timings.queueNs);
    add(stats.compute_input, timings.computeInputNs);
    add(stats.compute_infer, timings.computeInferNs);
    add(stats.compute_output, timings.computeOutputNs);
    this.#inferenceCount += batchSize;
    this.#lastInferenceMs = Date.now();
  }

  /** A failed request; `reason` labels it in the metrics (the statistics' `fail` counts them all). */
  recordFailure(requestNs: number, reason: FailureReason): void {
    add(this.#inference.fail, requestNs);
    this.#failures[reason] += 1;
    this.#lastInferenceMs = Date.now();
  }

  /**
   * A request answered from the response cache (Triton's UpdateSuccessCacheHit): a success with its
   * queue time (up to the lookup) and lookup time; not an inference or an execution, and no compute.
   */
  recordCacheHit(requestNs: number, queueNs: number, lookupNs: number): void {
    const stats = this.#inference;
    add(stats.success, requestNs);
    add(stats.queue, queueNs);
    add(stats.cache_hit, lookupNs);
  }

  /** A request the cache did not hold, run and inserted: `ns` is its lookup plus insertion. */
  recordCacheMiss(ns: number): void {
    add(this.#inference.cache_miss, ns);
  }

  /** One backend execution over `batchSize` inferences. */
  recordExecution(batchSize: number, computeInputNs: number, computeInferNs: number, computeOutputNs: number): void {
    this.#executionCount += 1;
    let batch = this.#batches.get(batchSize);
    if (!batch) {
      batch = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(batchSize, batch);
    }
    add(batch.compute_input, computeInputNs);
    add(batch.compute_infer, computeInferNs);
    add(batch.compute_output, computeOutputNs);
  }

  /**
   * One response of a decoupled model, keyed by its index within its request (Triton's
   * UpdateResponseSuccess / Empty / Fail / Cancel): `startNs` is when the model began working on it
   * (the request's start, then the previous response's end), `endNs` when it arrived. The server
   * sees no compute-output phase of its own: the whole span counts as compute_infer.
   */
  recordResponse(index: number, kind: 'success' | 'empty' | 'fail' | 'cancel', startNs: number, endNs: number): void {
    const key = String(index);
    let stats = this.#responses.get(key);
    if (stats === undefined) {
      stats = { compute_infer: zero(), compute_output: zero(), success: zero(), fail: zero(), empty_response: zero(), cancel: zero() };
      this.#responses.set(key, stats);
    }
    const ns = Math.max(0, endNs - startNs);
    if (kind === 'success') {
      add(stats.compute_infer, ns);
      add(stats.compute_output, 0);
      add(stats.success, ns);
    } else if (kind === 'fail') {
      add(stats.compute_infer, ns);
      add(stats.fail, ns);
    } else {
      add(kind === 'empty' ? stats.empty_response : stats.cancel, ns);
    }
  }

  /** Failed requests per reason; they add up to `inference_stats.fail.count`. */
  failureCounts(): FailureCounts {
    return { ...this.#failures };
  }

  /** A deep copy in the statistics-extension JSON shape. */
  snapshot(): ModelStatistics {
    return structuredClone({
      name: this.#name,
      version: this.#version,
      last_inference: this.#lastInferenceMs,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: this.#inference,
      response_stats: Object.fromEntries(this.#responses),
      batch_stats: [...this.#batches.values()].sort((a, b) => a.batch_size - b.batch_size),
      memory_usage: [],
    });
  }
}

function zero(): StatisticDuration {
  return { count: 0, ns: 0 };
}

function add(duration: StatisticDuration, ns: number): void {
  duration.count += 1;
  duration.ns += Math.max(0, Math.round(ns));
}
