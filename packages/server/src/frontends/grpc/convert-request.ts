import type {
  ModelInferRequest,
  ModelInferRequest_InferInputTensor,
} from '@nereid/protocol/generated/grpc_service_pb';
import { invalidArg, quoted } from '../../errors/index.js';
import type { InferRequestInit, InputTensorInit, RequestedOutputInit } from '../../request/infer-request-init.js';
import { requestedVersion } from '../../request/model-version.js';
import { requestParameters, tensorParameters } from './parameters.js';
import { typedContentsToBytes } from './typed-contents.js';
import { REFUSED_BEFORE_DECODING } from './message-marks.js';

/** A decoded ModelInferRequest: what the core gets, plus the stream-only flag it never sees. */
export interface GrpcInferRequest {
  readonly init: InferRequestInit;
  readonly enableEmptyFinalResponse: boolean;
}

const NO_DATA = new Uint8Array(0);
const MAX_SAFE_DIM = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * ModelInferRequest → InferRequestInit, following Triton's InferGRPCToInput: an input placed in shared
 * memory takes no data here (and may not set `contents`); otherwise, when `raw_input_contents` is
 * used, the next entry is the input's data and no input may set `contents`; otherwise the input's
 * typed `contents` are converted. Raw entries stay views into the received message.
 */
export function inferRequestFromProto(message: ModelInferRequest): GrpcInferRequest {
  const refusal = (message as { [REFUSED_BEFORE_DECODING]?: Error })[REFUSED_BEFORE_DECODING];
  if (refusal !== undefined) throw refusal;
  // Triton reads the version before anything else of the request.
  const modelVersion = requestedVersion(message.modelVersion);
  const { parameters, enableEmptyFinalResponse } = requestParameters(message.parameters);
  const raw = message.rawInputContents;
  let rawIndex = 0;
  const inputs: InputTensorInit[] = [];
  for (const input of message.inputs) {
    const tensorParams = tensorParameters(input.parameters);
    const shape = shapeOf(input.name, input.shape);
    let data: Uint8Array;
    if (tensorParams['shared_memory_region'] !== undefined) {
      if (input.contents !== undefined) {
        throw invalidArg(
          `unexpected 'content' provided when using shared memory for input tensor '${quoted(input.name)}' for model ` +
            `'${quoted(message.modelName)}'`,
        );
      }
      data = NO_DATA;
    } else if (input.contents !== undefined) {
      if (raw.length > 0) {
        throw invalidArg(
          `contents field must not be specified when using raw_input_contents for '${quoted(input.name)}' for model ` +
            `'${quoted(message.modelName)}'`,
        );
      }
      data = typedData(input, shape, message.modelName);
    } else if (rawIndex < raw.length) {
      data = raw[rawIndex++]!;
    } else {
      throw invalidArg(
        `unable to find data for input tensor '${quoted(input.name)}' for model '${quoted(message.modelName)}' in request.`,
      );
    }
    inputs.push({ name: input.name, datatype: input.datatype, shape, data, parameters: tensorParams });
  }
  const init: InferRequestInit = {
    modelName: message.modelName,
    modelVersion,
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

/**
 * int64 dims as numbers. A dim beyond Number.MAX_SAFE_INTEGER cannot be held exactly (and no real
 * tensor has one), so it is refused here as the HTTP frontend refuses it. Negative dims keep their
 * sign and are refused by the core's shape check (normalize.ts), the same for both transports.
 */
function shapeOf(name: string, dims: readonly bigint[]): number[] {
  const shape = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) {
    const dim = dims[i]!;
    if (dim > MAX_SAFE_DIM) {
      throw invalidArg(
        `invalid shape for input '${quoted(name)}': shape ${quoted(`[${dims.join(',')}]`)} ` +
          `has more elements than ${Number.MAX_SAFE_INTEGER}`,
      );
    }
    shape[i] = Number(dim);
  }
  return shape;
}
