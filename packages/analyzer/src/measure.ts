/**
 * What the profiler needs from a load generator: one load level of one model, measured. The
 * implementation over @nereid/perf's runPerf is in perf-measurer.ts.
 */

/** One load level's figures: client throughput and latencies, the server's queue and compute split. */
export interface LoadPoint {
  /** Inferences per second seen by the client. */
  readonly throughput: number;
  readonly avgLatencyMs: number;
  readonly p50LatencyMs: number;
  readonly p90LatencyMs: number;
  readonly p95LatencyMs: number;
  readonly p99LatencyMs: number;
  /** Server-side average queue and compute time per request (statistics extension), in µs. */
  readonly serverQueueUs: number;
  readonly serverComputeUs: number;
}

export interface Measurer {
  /** Measures `model` (as loaded now) at `concurrency` outstanding requests. */
  measure(model: string, concurrency: number): Promise<LoadPoint>;
}
