/**
 * Nereid's public API for embedding the server. Named exports only; types apart from values.
 */
export { startServer, resolveOptions, defaultBackends } from './cli/start-server.js';
export { InferenceServer } from './core/inference-server.js';
export { DEFAULT_SERVER_OPTIONS } from './core/server-options.js';
export { BackendRegistry } from './backends/backend-registry.js';
export { ServerError } from './errors/index.js';
export { createLogger, silentLogger } from './observability/logger.js';

export type { RunningServer, StartOptions } from './cli/start-server.js';
export type { ServerOptions, HttpOptions, GrpcOptions, MetricsOptions } from './core/server-options.js';
export type { InferenceCore, ServerMetadata, ModelMetadata, TensorMetadata } from './core/types.js';
export type {
  Backend,
  BackendModel,
  BackendInstance,
  BackendLoadContext,
  InstanceSpec,
  ExecutionResult,
  ExecutionTimings,
} from './backends/backend.js';
export type { ErrorCode } from './errors/index.js';
export type { Tensor, Parameters, ParameterValue } from './tensor/tensor.js';
export type { InferRequestInit, InputTensorInit, RequestedOutputInit } from './request/infer-request-init.js';
export type { InferenceRequest, RequestedOutput } from './request/inference-request.js';
export type { InferResponse, OutputTensor } from './request/infer-response.js';
export type { Logger, LogSettings } from './observability/logger.js';
