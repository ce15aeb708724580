import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { InferResponse } from '../request/infer-response.js';

/**
 * The protocol-neutral facade that every frontend (HTTP, gRPC, later metrics and the dashboard) talks
 * to, and nothing else. Payload types mirror the KServe v2 / Triton JSON shapes field for field, so
 * the HTTP frontend serialises them as they are and the gRPC frontend maps them onto messages.
 * Every method throws `ServerError` on failure.
 */
export interface InferenceCore {
  isLive(): boolean;
  /** With strict readiness, ready only when every model is READY; otherwise when serving. */
  isReady(): boolean;
  serverMetadata(): ServerMetadata;

  /** False for unknown models and versions that are not READY. `version` '' = policy default. */
  isModelReady(name: string, version: string): boolean;
  modelMetadata(name: string, version: string): ModelMetadata;
  modelConfig(name: string, version: string): ModelConfig;
  /** The configuration as Triton's `/config` endpoint prints it (proto field names, defaults shown). */
  modelConfigJson(name: string, version: string): Record<string, unknown>;
  /** Statistics of one model (all its versions if `version` is '') or of all models when `name` is ''. */
  modelStatistics(name: string, version: string): ModelStatisticsPayload;

  repositoryIndex(options: { readonly readyOnly: boolean }): RepositoryIndexEntry[];
  loadModel(name: string, parameters: Readonly<Record<string, unknown>>): Promise<void>;
  unloadModel(name: string, options: { readonly unloadDependents: boolean }): Promise<void>;

  /** Runs one inference; resolves with its single response. `signal` aborts a queued request. */
  infer(request: InferRequestInit, options?: { readonly signal?: AbortSignal }): Promise<InferResponse>;
}

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  /** Full shape as clients send it: -1 for the batch dimension and for variable dims. */
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface RepositoryIndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

/** `{count, ns}`: how many times and for how long in total. */
export interface StatisticDuration {
  count: number;
  ns: number;
}

export interface InferStatistics {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  cache_hit: StatisticDuration;
  cache_miss: StatisticDuration;
}

export interface InferBatchStatistics {
  batch_size: number;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
}

export interface InferResponseStatistics {
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  success: StatisticDuration;
  fail: StatisticDuration;
  empty_response: StatisticDuration;
  cancel: StatisticDuration;
}

export interface MemoryUsage {
  type: string;
  id: number;
  byte_size: number;
}

/** One entry of `model_stats`, exactly the JSON shape of Triton's statistics extension. */
export interface ModelStatistics {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last inference; 0 when none. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferStatistics;
  response_stats: Record<string, InferResponseStatistics>;
  batch_stats: InferBatchStatistics[];
  memory_usage: MemoryUsage[];
}

export interface ModelStatisticsPayload {
  readonly model_stats: readonly ModelStatistics[];
}
