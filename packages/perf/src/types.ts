/**
 * Public types of @nereid/perf: the options of one run (perf_analyzer's flags), the result (one row
 * per load level) and the hooks a caller (the CLI's progress display, the model analyzer) receives.
 */

export type Protocol = 'http' | 'grpc';
export type RequestDistribution = 'constant' | 'poisson';
export type MeasurementMode = 'time_windows' | 'count_windows';
export type SharedMemoryKind = 'none' | 'system';

/** A linear sweep `start:end:step` (perf_analyzer's --concurrency-range / --request-rate-range). */
export interface LoadRange {
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** What one run measures; every field but `model` has perf_analyzer's default. */
export interface PerfOptions {
  /** -m */
  readonly model: string;
  /** -x; '' = the server's choice. */
  readonly modelVersion?: string;
  /** -u; default localhost:8000 (http) or localhost:8001 (grpc). A scheme is optional. */
  readonly url?: string;
  /** -i; default http. */
  readonly protocol?: Protocol;
  /** -b; default 1. */
  readonly batchSize?: number;
  /** --shape NAME:d1,d2 (the shape of one batch item, for inputs with variable dimensions). */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** --concurrency-range; the default load when no request rate is given is 1:1:1. */
  readonly concurrencyRange?: LoadRange;
  /** --request-rate-range (requests per second). */
  readonly requestRateRange?: LoadRange;
  /** --request-distribution; default constant. */
  readonly requestDistribution?: RequestDistribution;
  /** -p / --measurement-interval, ms; default 5000. */
  readonly measurementIntervalMs?: number;
  /** --measurement-mode; default time_windows. */
  readonly measurementMode?: MeasurementMode;
  /** --measurement-request-count (count_windows); default 50. */
  readonly measurementRequestCount?: number;
  /** -s, percent; default 10. */
  readonly stabilityPercentage?: number;
  /** --max-trials; default 10. */
  readonly maxTrials?: number;
  /** --percentile: stabilize on (and report) this percentile instead of the average. */
  readonly percentile?: number;
  /** -l / --latency-threshold, ms; 0 = no limit. */
  readonly latencyThresholdMs?: number;
  /** --input-data: 'zero', 'random' (default) or the path of a perf_analyzer JSON data file. */
  readonly inputData?: string;
  /** --streaming: gRPC ModelStreamInfer. */
  readonly streaming?: boolean;
  /** -a / --async (default false, like perf_analyzer: --sync is the default). */
  readonly async?: boolean;
  /** --shared-memory; default none. */
  readonly sharedMemory?: SharedMemoryKind;
  /** --output-shared-memory-size, bytes per output; default 102400. */
  readonly outputSharedMemorySize?: number;
  /** --warmup-request-count; default 0. */
  readonly warmupRequestCount?: number;
  /** -H header lines ("Name:value"), sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** -v */
  readonly verbose?: boolean;
}

/** The server side of one load level: deltas of the statistics extension over the measured windows. */
export interface ServerStats {
  readonly inferenceCount: number;
  readonly executionCount: number;
  readonly successCount: number;
  /** Average request latency (cumulative time / success count), µs. */
  readonly avgRequestUs: number;
  /** avgRequestUs minus queue and compute, floored at 0. */
  readonly overheadUs: number;
  readonly queueUs: number;
  readonly computeInputUs: number;
  readonly computeInferUs: number;
  readonly computeOutputUs: number;
  readonly cacheHitCount: number;
  readonly cacheMissCount: number;
  readonly cacheHitUs: number;
  readonly cacheMissUs: number;
  /** Raw cumulative figures (ns and counts) the averages come from. */
  readonly raw: RawServerStats;
}

export interface RawServerStats {
  inferenceCount: number;
  executionCount: number;
  successCount: number;
  cummTimeNs: number;
  queueCount: number;
  queueTimeNs: number;
  computeInputCount: number;
  computeInputTimeNs: number;
  computeInferCount: number;
  computeInferTimeNs: number;
  computeOutputCount: number;
  computeOutputTimeNs: number;
  cacheHitCount: number;
  cacheHitTimeNs: number;
  cacheMissCount: number;
  cacheMissTimeNs: number;
}

/** One load level, merged over the last (stable) windows, as perf_analyzer merges them. */
export interface PerfRow {
  readonly mode: 'concurrency' | 'request_rate';
  /** The concurrency or the request rate of this level. */
  readonly load: number;
  readonly concurrency: number;
  readonly requestRate: number;
  readonly batchSize: number;
  /** Requests that ended inside the merged windows. */
  readonly requestCount: number;
  readonly responseCount: number;
  readonly delayedRequestCount: number;
  /** Sum of the merged windows' durations, ns. */
  readonly durationNs: number;
  /** Inferences per second: requestCount * batchSize / duration. */
  readonly throughput: number;
  /** Requests sent per second (request-rate mode). */
  readonly sendRequestRate: number;
  readonly avgLatencyUs: number;
  readonly stdLatencyUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  /** Every reported percentile (50, 90, 95, 99 and --percentile), µs. */
  readonly percentilesUs: Readonly<Record<number, number>>;
  /** The latency the level stabilized on (average, or --percentile), µs. */
  readonly stabilizingLatencyUs: number;
  /** Client library times: whole request, send (encode and write) and receive (read and decode), µs. */
  readonly avgRequestUs: number;
  readonly avgSendUs: number;
  readonly avgReceiveUs: number;
  /** Windows measured at this level, and whether the last three agreed within -s. */
  readonly windows: number;
  readonly stable: boolean;
  /** undefined when the server's statistics could not be read. */
  readonly server: ServerStats | undefined;
}

export interface PerfResult {
  readonly model: string;
  readonly modelVersion: string;
  readonly protocol: Protocol;
  readonly mode: 'concurrency' | 'request_rate';
  readonly batchSize: number;
  readonly decoupled: boolean;
  readonly responseCacheEnabled: boolean;
  /** Stable levels, in the order measured (a level that does not stabilize ends the sweep). */
  readonly rows: PerfRow[];
  /** Every level measured, stable or not. */
  readonly allRows: PerfRow[];
  /** True when every level measured was stable (the CLI exits with 2 otherwise on a single level). */
  readonly stable: boolean;
  /** A message when the sweep stopped early (unstable level, latency limit). */
  readonly stoppedReason?: string;
}

/** One measurement window, for progress displays. */
export interface WindowInfo {
  readonly load: number;
  readonly trial: number;
  readonly maxTrials: number;
  readonly requestCount: number;
  readonly throughput: number;
  readonly avgLatencyUs: number;
  readonly stabilizingLatencyUs: number;
}

/** Callbacks while running; all optional. `log` receives perf_analyzer's report lines (stdout text). */
export interface PerfHooks {
  readonly log?: (line: string) => void;
  /** Warnings and errors perf_analyzer writes to stderr. */
  readonly warn?: (line: string) => void;
  readonly onLevelStart?: (load: number, index: number, levels: number) => void;
  /** Called about 10 times a second while a window runs: fraction done (0..1) and requests so far. */
  readonly onTick?: (load: number, trial: number, fraction: number, completed: number) => void;
  readonly onWindow?: (window: WindowInfo) => void;
  readonly onLevelEnd?: (row: PerfRow) => void;
  /** Stops the run after the current window (the result holds the levels done). */
  readonly signal?: AbortSignal;
}

/** A failure with perf_analyzer's exit code (3 option error, 2 stability error, 99 generic). */
export class PerfError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 99,
  ) {
    super(message);
    this.name = 'PerfError';
  }
}

export const OPTION_ERROR = 3;
export const STABILITY_ERROR = 2;
export const GENERIC_ERROR = 99;
