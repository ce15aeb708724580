import type {
  InferBatchStatistics,
  InferStatistics,
  ModelStatistics,
  StatisticDuration,
} from './statistics-types.js';

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

  recordFailure(requestNs: number): void {
    add(this.#inference.fail, requestNs);
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

  /** A deep copy in the statistics-extension JSON shape. */
  snapshot(): ModelStatistics {
    return structuredClone({
      name: this.#name,
      version: this.#version,
      last_inference: this.#lastInferenceMs,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: this.#inference,
      response_stats: {},
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
