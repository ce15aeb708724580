import type { InferRequest, InferResult } from './tensor.js';

/** Shapes both clients return, following the HTTP/REST JSON of the KServe v2 protocol and Triton's extensions. */

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: string[];
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  /** -1 for a variable dimension. */
  readonly shape: number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
}

/** One entry of the repository index. */
export interface RepositoryModel {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

/** Status of one registered system shared-memory region. */
export interface SystemSharedMemoryRegion {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
}

/** Status of one registered CUDA shared-memory region. */
export interface CudaSharedMemoryRegion {
  readonly name: string;
  readonly deviceId: number;
  readonly byteSize: number;
}

/** Logging settings (log_info, log_warning, log_error, log_verbose_level, log_format, log_file). */
export type LogSettings = Record<string, boolean | number | string>;

/** Trace settings (trace_level, trace_rate, trace_count, log_frequency, trace_file, trace_mode, ...). */
export type TraceSettings = Record<string, string | string[]>;
/** An update: null clears a model's setting back to the global one. */
export type TraceSettingsUpdate = Record<string, string | readonly string[] | null>;

/** A model load's overrides. */
export interface LoadOptions {
  /** A model configuration (Triton's JSON form) replacing config.pbtxt; a string is sent as is. */
  readonly config?: string | object;
  /** `file:` overrides: model files by path relative to the model directory, e.g. `'1/model.onnx'`. Needs `config`. */
  readonly files?: Record<string, Uint8Array>;
  /** Further load parameters. */
  readonly parameters?: Record<string, string | number | boolean>;
  readonly signal?: AbortSignal;
}

export interface UnloadOptions {
  readonly unloadDependents?: boolean;
  readonly signal?: AbortSignal;
}

/** Options every call takes. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Extra HTTP headers or gRPC metadata. */
  readonly headers?: Record<string, string>;
}

/**
 * What HttpClient and GrpcClient have in common, for code that takes either (e.g. a load generator
 * with a protocol flag). Model configuration and statistics differ in shape and are left out.
 */
export interface InferenceClient {
  isServerLive(options?: CallOptions): Promise<boolean>;
  isServerReady(options?: CallOptions): Promise<boolean>;
  isModelReady(model: string, version?: string, options?: CallOptions): Promise<boolean>;
  serverMetadata(options?: CallOptions): Promise<ServerMetadata>;
  modelMetadata(model: string, version?: string, options?: CallOptions): Promise<ModelMetadata>;
  infer(model: string, request: InferRequest): Promise<InferResult>;
  repositoryIndex(options?: CallOptions & { readonly ready?: boolean }): Promise<RepositoryModel[]>;
  loadModel(model: string, options?: LoadOptions): Promise<void>;
  unloadModel(model: string, options?: UnloadOptions): Promise<void>;
  registerSystemSharedMemory(name: string, key: string, byteSize: number, offset?: number, options?: CallOptions): Promise<void>;
  unregisterSystemSharedMemory(name?: string, options?: CallOptions): Promise<void>;
  systemSharedMemoryStatus(name?: string, options?: CallOptions): Promise<SystemSharedMemoryRegion[]>;
  registerCudaSharedMemory(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number, options?: CallOptions): Promise<void>;
  unregisterCudaSharedMemory(name?: string, options?: CallOptions): Promise<void>;
  cudaSharedMemoryStatus(name?: string, options?: CallOptions): Promise<CudaSharedMemoryRegion[]>;
  logSettings(update?: LogSettings, options?: CallOptions): Promise<LogSettings>;
  traceSettings(update?: TraceSettingsUpdate, model?: string, options?: CallOptions): Promise<TraceSettings>;
  /** Releases the connection (gRPC channel; HTTP keeps none of its own). */
  close(): void;
}
