import { elementByteSize, isDatatype } from '@nereid/protocol';
import type { InferenceCore } from '../../../core/types.js';
import { invalidArg } from '../../../errors/index.js';
import type { DecodedInferRequest } from './json-infer.js';

/**
 * The binary tensor data extension on the request side: the `Inference-Header-Content-Length`
 * header that splits the JSON header from the binary tail, and the raw form (header length 0)
 * whose whole body is the single input of the model.
 */

export const INFERENCE_HEADER = 'inference-header-content-length';
const HEADER_NAME = 'Inference-Header-Content-Length';
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** What C++ std::stoi reads: leading blanks, a sign, digits; anything after them is ignored. */
const STOI = /^[ \t\n\v\f\r]*([+-]?\d+)/;
/** Triton's core words raw-input errors with the request id, which a raw request never has. */
const RAW_PREFIX = '[request id: <id_unknown>] ';

/**
 * Length of the JSON header within a body of `bodyLength` bytes: the header's value, or the whole
 * body when the header is absent. Errors read like Triton's.
 */
export function inferenceHeaderLength(value: string | undefined, bodyLength: number): number {
  if (value === undefined) return bodyLength;
  const digits = STOI.exec(value)?.[1];
  if (digits === undefined) throw invalidArg(`Unable to parse ${HEADER_NAME}, got: ${value}`);
  const parsed = Number(digits);
  if (parsed < INT32_MIN || parsed > INT32_MAX) {
    throw invalidArg(
      `Unable to parse ${HEADER_NAME}, value is out of range [ ${INT32_MIN}, ${INT32_MAX} ], got: ${value}`,
    );
  }
  if (parsed < 0 || parsed > bodyLength) {
    throw invalidArg(`inference header size should be in range (0, ${bodyLength}), got: ${value}`);
  }
  return parsed;
}

/**
 * Decodes a raw binary request: the body is the bytes of the model's only input. Its name,
 * datatype and shape come from the model; one variable dimension is derived from the byte size,
 * a BYTES input must have shape [1], batching models get a batch of 1, and every output is
 * returned as binary.
 */
export function decodeRawInferRequest(
  core: InferenceCore,
  modelName: string,
  modelVersion: string,
  body: Buffer,
): DecodedInferRequest {
  const metadata = core.modelMetadata(modelName, modelVersion);
  const input = metadata.inputs[0];
  if (metadata.inputs.length !== 1 || input === undefined) {
    throw invalidArg(
      `${RAW_PREFIX}Raw request must only have 1 input (found 1) to be deduced but got ${metadata.inputs.length} inputs in ` +
        `'${modelName}' model configuration`,
    );
  }
  const batching = core.modelConfig(modelName, modelVersion).maxBatchSize > 0;
  const dims = batching ? input.shape.slice(1) : input.shape;
  const shape: number[] = batching ? [1] : [];
  let dynamicAxis = -1;
  let fixedCount = 1;
  for (const dim of dims) {
    if (dim === -1) {
      if (dynamicAxis !== -1) {
        throw invalidArg(
          `${RAW_PREFIX}The shape of the raw input '${input.name}' can not be deduced because there are more than one ` +
            'variable-sized dimension',
        );
      }
      dynamicAxis = shape.length;
    } else {
      fixedCount *= dim;
    }
    shape.push(dim);
  }
  let data: Uint8Array = body;
  if (input.datatype === 'BYTES') {
    if (dynamicAxis !== -1 || fixedCount !== 1) {
      throw invalidArg(`${RAW_PREFIX}For BYTE datatype raw input '${input.name}', the model must have input shape [1]`);
    }
    // The body is one element; the tensor layout wants its length in front.
    const prefixed = Buffer.allocUnsafe(4 + body.length);
    prefixed.writeUInt32LE(body.length, 0);
    body.copy(prefixed, 4);
    data = prefixed;
  } else if (dynamicAxis !== -1) {
    const size = isDatatype(input.datatype) ? elementByteSize(input.datatype) : 0;
    const divisor = fixedCount * size;
    shape[dynamicAxis] = divisor === 0 ? 0 : Math.floor(body.length / divisor);
  }
  return {
    init: {
      modelName,
      modelVersion,
      id: '',
      parameters: {},
      inputs: [{ name: input.name, datatype: input.datatype, shape, data, parameters: {} }],
      outputs: undefined,
    },
    plan: { defaultKind: 'binary', named: undefined },
  };
}
