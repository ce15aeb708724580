/**
 * @nereid/client: typed HTTP and gRPC clients for Nereid and Triton Inference Server.
 */
export { HttpClient } from './http-client.js';
export type { ModelStatisticsJson, ModelConfigJson, GenerateRequest, GenerateResponse } from './http-client.js';
export { GrpcClient } from './grpc-client.js';
export { InferStream } from './grpc-stream.js';
export { inferRequestMessage } from './grpc-infer-messages.js';
export { grpcServiceDefinition } from './grpc-definition.js';
export type { GrpcClientOptions } from './grpc-client.js';
export type { StreamMessage } from './grpc-stream.js';
export { InferenceServerError, GrpcStatus } from './errors.js';
export {
  stringsToBytes,
  bytesToStrings,
  parseClassifications,
  fp16ToNumber,
  numberToFp16,
  bf16ToNumber,
  numberToBf16,
  toFloat16Array,
  fromFloat16Array,
  toBFloat16Array,
  fromBFloat16Array,
} from './tensor.js';
export type {
  Datatype,
  NumericTypedArray,
  InputData,
  OutputData,
  ParameterValue,
  Parameters,
  SharedMemoryRef,
  InferInput,
  RequestedOutput,
  InferRequest,
  OutputTensor,
  InferResult,
  Classification,
} from './tensor.js';
export type * from './types.js';
