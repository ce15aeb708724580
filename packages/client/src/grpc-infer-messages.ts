/**
 * An infer request as GRPCInferenceService's ModelInferRequest message (inputs as raw contents,
 * parameters and shared-memory references as InferParameters), and a ModelInferResponse back into
 * an InferResult.
 */
import { create } from '@bufbuild/protobuf';
import { isDatatype } from '@nereid/protocol';
import { ModelInferRequestSchema, type InferParameter, type ModelInferRequest, type ModelInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { emptyData, inputBytes, outputData, sharedMemoryParameters, type InferRequest, type InferResult, type OutputTensor, type ParameterValue, type Parameters } from './tensor.js';

function toParameter(value: ParameterValue): { parameterChoice: InferParameter['parameterChoice'] } {
  switch (typeof value) {
    case 'boolean':
      return { parameterChoice: { case: 'boolParam', value } };
    case 'string':
      return { parameterChoice: { case: 'stringParam', value } };
    case 'bigint':
      return { parameterChoice: value < 0n ? { case: 'int64Param', value } : { case: 'uint64Param', value } };
    default:
      return Number.isInteger(value) ? { parameterChoice: { case: 'int64Param', value: BigInt(value) } } : { parameterChoice: { case: 'doubleParam', value } };
  }
}

function toParameters(parameters: Parameters | undefined, extra: Parameters = {}): Record<string, { parameterChoice: InferParameter['parameterChoice'] }> {
  const out: Record<string, { parameterChoice: InferParameter['parameterChoice'] }> = {};
  for (const [key, value] of Object.entries({ ...parameters, ...extra })) out[key] = toParameter(value);
  return out;
}

function fromParameters(parameters: Record<string, InferParameter>): Parameters {
  const out: Parameters = {};
  for (const [key, parameter] of Object.entries(parameters)) {
    const choice = parameter.parameterChoice;
    if (choice.case === undefined) continue;
    out[key] = choice.case === 'int64Param' || choice.case === 'uint64Param' ? toNumberIfSafe(choice.value) : choice.value;
  }
  return out;
}

function toNumberIfSafe(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** The ModelInferRequest message of a request (inputs as raw contents). */
export function inferRequestMessage(model: string, request: InferRequest): ModelInferRequest {
  const raw: Uint8Array[] = [];
  const inputs = request.inputs.map((input) => {
    if (input.sharedMemory === undefined) raw.push(inputBytes(input));
    return {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(BigInt),
      parameters: toParameters(input.parameters, sharedMemoryParameters(input.sharedMemory)),
    };
  });
  return create(ModelInferRequestSchema, {
    modelName: model,
    modelVersion: request.modelVersion ?? '',
    id: request.id ?? '',
    parameters: toParameters(request.parameters),
    inputs,
    outputs: (request.outputs ?? []).map((output) => ({
      name: output.name,
      parameters: toParameters(output.parameters, {
        ...(output.classCount === undefined ? {} : { classification: output.classCount }),
        ...sharedMemoryParameters(output.sharedMemory),
      }),
    })),
    rawInputContents: raw,
  });
}

/** The InferResult of a ModelInferResponse (also a stream's response). */
export function inferResult(response: ModelInferResponse): InferResult {
  const outputs: Record<string, OutputTensor> = {};
  let rawIndex = 0;
  for (const output of response.outputs) {
    if (!isDatatype(output.datatype)) throw new TypeError(`output '${output.name}' has unknown datatype ${output.datatype}`);
    const parameters = fromParameters(output.parameters);
    const inSharedMemory = parameters['shared_memory_region'] !== undefined;
    const raw = inSharedMemory ? undefined : response.rawOutputContents[rawIndex++];
    outputs[output.name] = {
      name: output.name,
      datatype: output.datatype,
      shape: output.shape.map(Number),
      // An aligned plain-Uint8Array copy, independent of the message buffer.
      data: raw === undefined ? emptyData(output.datatype) : outputData(output.datatype, new Uint8Array(raw)),
      parameters,
    };
  }
  return { modelName: response.modelName, modelVersion: response.modelVersion, id: response.id, parameters: fromParameters(response.parameters), outputs };
}
