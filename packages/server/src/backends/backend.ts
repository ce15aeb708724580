import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { ServerError } from '../errors/server-error.js';
import type { CustomMetrics } from '../metrics/custom-metrics.js';
import type { MemoryUsage } from '../metrics/statistics-types.js';
import type { Logger } from '../observability/logger.js';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { InferResponse, StreamListener } from '../request/infer-response.js';
import type { InferenceRequest } from '../request/inference-request.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import type { CancelSignal } from '../util/cancel-signal.js';

/**
 * The backend SPI: how the model layer loads a model version, completes its configuration, creates
 * instances and executes batches of requests. Small on purpose, so scripting and custom backends can
 * implement it (Triton's tritonbackend.h plays this role).
 */
export interface Backend {
  /** Backend name as `backend:` in config.pbtxt names it, e.g. "onnxruntime". */
  readonly name: string;
  /** Platform names that select this backend when `backend` is empty, e.g. "onnxruntime_onnx". */
  readonly platforms: readonly string[];
  /** Platform written into configs that select this backend by name or by file, e.g. "onnxruntime_onnx". */
  readonly defaultPlatform: string;
  /** Model file looked for in a version folder when `default_model_filename` is empty. */
  readonly defaultModelFilename: string;
  /**
   * Model files the backend serves, in order of preference, when it takes more than one name
   * (javascript: model.js or model.ts): the first present in the version folder is used.
   */
  readonly modelFilenames?: readonly string[];
  /** Instance count given to a KIND_CPU group that names none (Triton: 2 for onnxruntime). */
  readonly defaultCpuInstanceCount: number;
  /**
   * Whether the version folder must hold the model file (`default_model_filename`) before the
   * backend is asked to load it; default true. A backend that finds its files itself (e.g. in the
   * model folder, with an empty version folder) says false.
   */
  readonly requiresModelFile?: boolean;
  loadModel(context: BackendLoadContext): Promise<BackendModel>;
}

export interface BackendLoadContext {
  readonly modelName: string;
  /** int64, exact. */
  readonly version: bigint;
  /** `<repository>/<model>` */
  readonly modelDir: string;
  /** `<repository>/<model>/<version>` */
  readonly versionDir: string;
  /** The model file (or folder) inside the version folder. */
  readonly modelPath: string;
  /** The configuration as read from config.pbtxt, before auto-complete. Read-only here. */
  readonly config: ModelConfig;
  /** `--backend-config` settings for this backend, global ones included (backend-specific win). */
  readonly backendConfig: ReadonlyMap<string, string>;
  /** `completeConfig` will be asked to auto-complete (off with --disable-auto-complete-config). */
  readonly autoCompleteConfig: boolean;
  readonly logger: Logger;
  /**
   * Runs an inference request on any model of the server through the core (its scheduler,
   * statistics and errors), as a client's request would run: how Python models call other models
   * (BLS). Absent when the model is loaded without a server core.
   */
  readonly runRequest?: CoreRequestRunner | undefined;
  /**
   * Runs a request whose responses arrive as events (a decoupled model answers many times), as
   * `InferenceCore.inferStream` does: how JavaScript models stream from decoupled models (BLS).
   */
  readonly runStreamRequest?: CoreStreamRunner | undefined;
  /** Where the model's own metrics go (absent without a metrics endpoint). */
  readonly customMetrics?: CustomMetrics | undefined;
}

/** An inference request to the core, from inside a backend. */
export type CoreRequestRunner = (request: InferRequestInit, signal: CancelSignal | undefined) => Promise<InferResponse>;

/** A streamed inference request to the core, from inside a backend; resolves after the final event. */
export type CoreStreamRunner = (
  request: InferRequestInit,
  options: { readonly signal: CancelSignal | undefined; readonly listen: StreamListener },
) => Promise<void>;

export interface BackendModel {
  /**
   * Checks the configuration against the model and, when `autoComplete` is on, fills what the
   * configuration leaves out (inputs, outputs, max_batch_size, dynamic_batching) in place, the way
   * the Triton backend of the same name does. Throws INVALID_ARG naming the field or tensor.
   */
  completeConfig(config: ModelConfig, options: { readonly autoComplete: boolean }): void;
  /** Creates one execution instance; called once per instance after the configuration is final. */
  createInstance(spec: InstanceSpec, config: ModelConfig): Promise<BackendInstance>;
  /** Frees what the model holds once every instance is closed. */
  close(): Promise<void>;
  /**
   * Memory the model holds, per memory type and device, for the statistics' `memory_usage` (Triton's
   * TRITONBACKEND_ModelReportMemoryUsage). Optional: a backend that cannot tell reports nothing.
   */
  memoryUsage?(): readonly MemoryUsage[];
}

export interface InstanceSpec {
  /** Triton-style instance name: `<group name>_<index within group>`. */
  readonly name: string;
  readonly groupName: string;
  readonly kind: 'KIND_CPU' | 'KIND_GPU' | 'KIND_MODEL' | 'KIND_AUTO';
  readonly deviceId: number;
}

export interface BackendInstance {
  /**
   * Runs one batch of requests. The result has one entry per request, in order: its output tensors
   * (shapes as the model produced them, batch dimension included when batching) or its error.
   */
  execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult>;
  /**
   * False while the instance cannot serve (a Python stub that died and is being restarted); the
   * model then reports not ready. Absent: always ready.
   */
  ready?(): boolean;
  close(): Promise<void>;
}

export interface ExecutionResult {
  readonly responses: ReadonlyArray<readonly Tensor[] | ServerError>;
  /** Response parameters per request, aligned with `responses` (Python models may set them). */
  readonly parameters?: ReadonlyArray<Parameters | undefined> | undefined;
  readonly timings: ExecutionTimings;
}

/** Nanosecond durations of one execution, for the statistics extension. */
export interface ExecutionTimings {
  readonly computeInputNs: number;
  readonly computeInferNs: number;
  readonly computeOutputNs: number;
}
