import type {
  ModelInferRequest,
  ModelInferRequest_InferInputTensor,
} from '@nereid/protocol/generated/grpc_service_pb';
import { invalidArg } from '../../errors/index.js';
import type { InferRequestInit, InputTensorInit, RequestedOutputInit } from '../../request/infer-request-init.js';
import { requestParameters, tensorParameters } from './parameters.js';
import { typedContentsToBytes } from './typed-contents.js';

/** A decoded ModelInferRequest: what the core gets, plus the stream-only flag it never sees. */
export interface GrpcInferRequest {
  readonly init: InferRequestInit;
  readonly enableEmptyFinalResponse: boolean;
}

const NO_DATA = new Uint8Array(0);

/**
 * ModelInferRequest → InferRequestInit, following Triton's InferGRPCToInput: an input placed in shared
 * memory takes no data here (and may not set `contents`); otherwise, when `raw_input_contents` is
 * used, the next entry is the input's data and no input may set `contents`; otherwise the input's
 * typed `contents` are converted. Raw entries stay views into the received message.
 */
export function inferRequestFromProto(message: ModelInferRequest): GrpcInferRequest {
  const { parameters, enableEmptyFinalResponse } = requestParameters(message.parameters);
  const raw = message.rawInputContents;
  let rawIndex = 0;
  const inputs: InputTensorInit[] = [];
  for (const input of message.inputs) {
    const tensorParams = tensorParameters(input.parameters);
    const shape = shapeOf(input.shape);
    let data: Uint8Array;
    if (tensorParams['shared_memory_region'] !== undefined) {
      if (input.contents !== undefined) {
        throw invalidArg(
          `unexpected 'content' provided when using shared memory for input tensor '${input.name}' for model ` +
            `'${message.modelName}'`,
        );
      }
      data = NO_DATA;
    } else if (input.contents !== undefined) {
      if (raw.length > 0) {
        throw invalidArg(
          `contents field must not be specified when using raw_input_contents for '${input.name}' for model ` +
            `'${message.modelName}'`,
        );
      }
      data = typedData(input, shape, message.modelName);
    } else if (rawIndex < raw.length) {
      data = raw[rawIndex++]!;
    } else {
      throw invalidArg(
        `unable to find data for input tensor '${input.name}' for model '${message.modelName}' in request.`,
      );
    }
    inputs.push({ name: input.name, datatype: input.datatype, shape, data, parameters: tensorParams });
  }
  const init: InferRequestInit = {
    modelName: message.modelName,
    modelVersion: message.modelVersion,
    id: message.id,
    parameters,
    inputs,
    outputs: requestedOutputs(message),
  };
  return { init, enableEmptyFinalResponse };
}

function typedData(input: ModelInferRequest_InferInputTensor, shape: readonly number[], model: string): Uint8Array {
  return typedContentsToBytes(input.contents!, { name: input.name, datatype: input.datatype, shape, model });
}

function requestedOutputs(message: ModelInferRequest): RequestedOutputInit[] | undefined {
  if (message.outputs.length === 0) return undefined;
  return message.outputs.map((output) => ({ name: output.name, parameters: tensorParameters(output.parameters) }));
}

/** int64 dims as numbers (no real tensor dim comes near 2^53); the core checks them against the model. */
function shapeOf(dims: readonly bigint[]): number[] {
  const shape = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) shape[i] = Number(dims[i]);
  return shape;
}
