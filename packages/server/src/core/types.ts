import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { ModelStatistics } from '../metrics/statistics-types.js';
import type { InferResponse, StreamListener } from '../request/infer-response.js';

export type {
  InferBatchStatistics,
  InferResponseStatistics,
  InferStatistics,
  MemoryUsage,
  ModelStatistics,
  StatisticDuration,
} from '../metrics/statistics-types.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import type { RequestLog } from '../observability/request-log.js';
import type { TraceCarrier } from '../observability/tracing/otel-export.js';
import type { InferenceTrace, RequestTrace } from '../observability/tracing/request-trace.js';
import type { TraceSettingUpdate, TraceSettingView } from '../observability/tracing/trace-manager.js';

/**
 * The protocol-neutral facade that every frontend (HTTP, gRPC, later metrics and the dashboard) talks
 * to, and nothing else. Payload types mirror the KServe v2 / Triton JSON shapes field for field, so
 * the HTTP frontend serialises them as they are and the gRPC frontend maps them onto messages.
 * Every method throws `ServerError` on failure.
 */
/** How one inference runs: its cancel signal and, when it is sampled, its trace. */
export interface InferOptions {
  readonly signal?: CancelSignal | undefined;
  readonly trace?: InferenceTrace | undefined;
}

export interface InferenceCore {
  /** The access log (`--request-log`), when on: frontends write one line per inference request. */
  readonly requestLog?: RequestLog | undefined;
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

  repositoryIndex(options: { readonly readyOnly: boolean }): Promise<RepositoryIndexEntry[]>;
  loadModel(name: string, parameters: Readonly<Record<string, unknown>>): Promise<void>;
  unloadModel(name: string, options: { readonly unloadDependents: boolean }): Promise<void>;

  /** Registered system shared-memory regions; `name` '' lists all, an unknown name is NOT_FOUND. */
  systemSharedMemoryStatus(name: string): SystemSharedMemoryRegion[];
  /** Registers `/dev/shm/<key>` bytes [offset, offset+byteSize) as region `name` (needs --allow-client-shm). */
  registerSystemSharedMemory(name: string, key: string, offset: number, byteSize: number): void;
  /** Unregisters one region, or all of them when `name` is ''. */
  unregisterSystemSharedMemory(name: string): void;
  cudaSharedMemoryStatus(name: string): CudaSharedMemoryRegion[];
  /** Always UNSUPPORTED on this CPU-only build (after the --allow-client-shm check). */
  registerCudaSharedMemory(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number): void;
  unregisterCudaSharedMemory(name: string): void;

  /** The logging extension's settings (`log_info`, `log_warning`, `log_error`, `log_verbose_level`, ...). */
  logSettings(): LogSettingsPayload;
  /** Applies the given settings (others unchanged) and returns the full result; bad values are INVALID_ARG. */
  updateLogSettings(update: Readonly<Record<string, unknown>>): LogSettingsPayload;

  /** The trace setting of a model ('' = global), as the trace extension reports it. */
  traceSetting(model: string): TraceSettingView;
  /** Applies a trace extension update and returns the resulting setting. */
  updateTraceSetting(model: string, update: TraceSettingUpdate): TraceSettingView;
  /** A trace for one inference to `model` when it is sampled (headers carry a W3C `traceparent`). */
  startTrace?(model: string, carrier: TraceCarrier): RequestTrace | undefined;

  /**
   * Runs one inference; resolves with its single response. `signal` aborts a queued request; it may
   * be shared by several requests (HTTP uses one per connection), so listeners on it must go once
   * their request leaves the queue.
   * Inputs whose parameters name a `shared_memory_region` are read from it (their `data` is ignored);
   * outputs requested with one are written into it and come back with empty `data` and those
   * parameters, so frontends send no bytes for them.
   */
  infer(request: InferRequestInit, options?: InferOptions): Promise<InferResponse>;
  /**
   * A request answered by events (ModelStreamInfer, generate_stream): many for a decoupled model,
   * one final response for any other. Rejects, with no event sent, when it fails before its first
   * response. Shared-memory outputs are not supported here (Triton's streaming clients use them
   * only through ModelInfer).
   */
  inferStream(request: InferRequestInit, options: { readonly signal?: CancelSignal; readonly listen: StreamListener }): Promise<void>;
  /** Whether a model version uses the decoupled transaction policy (false for unknown models). */
  isModelDecoupled(name: string, version: string): boolean;
}

/**
 * What the metrics endpoint serves (a frontend apart from the inference protocol, so not part of
 * InferenceCore): the Prometheus text of every metric now.
 */
export interface MetricsSource {
  metricsText(): Promise<MetricsPayload>;
}

export interface MetricsPayload {
  readonly contentType: string;
  readonly text: string;
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

export interface SystemSharedMemoryRegion {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byte_size: number;
}

export interface CudaSharedMemoryRegion {
  readonly name: string;
  readonly device_id: number;
  readonly byte_size: number;
}

/** The logging extension's JSON shape (Triton emits `log_warning`/`log_error`, singular). */
export interface LogSettingsPayload {
  readonly log_file: string;
  readonly log_info: boolean;
  readonly log_warning: boolean;
  readonly log_error: boolean;
  readonly log_verbose_level: number;
  readonly log_format: string;
}

export interface ModelStatisticsPayload {
  readonly model_stats: readonly ModelStatistics[];
}
