import { create } from '@bufbuild/protobuf';
import {
  ModelInferResponseSchema,
  ModelInferResponse_InferOutputTensorSchema,
  type InferParameter,
  type ModelInferResponse,
  type ModelInferResponse_InferOutputTensor,
} from '@nereid/protocol/generated/grpc_service_pb';
import { invalidArg } from '../../errors/index.js';
import type { InferResponse } from '../../request/infer-response.js';
import { inferParameters } from './parameters.js';

/** Triton's MAX_GRPC_MESSAGE_SIZE (INT32_MAX): the most a gRPC message may carry. */
export const MAX_GRPC_MESSAGE_SIZE = 2 ** 31 - 1;

/**
 * InferResponse → ModelInferResponse as Triton fills it: every output's data goes in
 * `raw_output_contents` (one entry per output, in order; BYTES length-prefixed), never in typed
 * `contents`. An output written to shared memory comes back from the core with empty data and gets
 * an empty entry, as Triton adds one for every output. Output tensors carry no parameters (Triton
 * sends none); response parameters are passed on. The tensor bytes are not copied.
 */
export function inferResponseToProto(
  response: InferResponse,
  extraParameters?: { readonly [key: string]: InferParameter },
): ModelInferResponse {
  const outputs: ModelInferResponse_InferOutputTensor[] = [];
  const raw: Uint8Array[] = [];
  let rawBytes = 0;
  for (const output of response.outputs) {
    outputs.push(
      create(ModelInferResponse_InferOutputTensorSchema, {
        name: output.name,
        datatype: output.datatype,
        shape: output.shape.map(BigInt),
      }),
    );
    raw.push(output.data);
    rawBytes += output.data.byteLength;
  }
  if (rawBytes > MAX_GRPC_MESSAGE_SIZE) {
    throw invalidArg(
      `Response has byte size ${rawBytes} which exceeds gRPC's byte size limit ${MAX_GRPC_MESSAGE_SIZE}.`,
    );
  }
  const parameters = inferParameters(response.parameters);
  if (extraParameters !== undefined) Object.assign(parameters, extraParameters);
  return create(ModelInferResponseSchema, {
    modelName: response.modelName,
    modelVersion: response.modelVersion,
    id: response.id,
    parameters,
    outputs,
    rawOutputContents: raw,
  });
}
