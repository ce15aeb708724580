import { ERROR_CODES, type ErrorCode } from '../../errors/codes.js';
import { ServerError, internal } from '../../errors/server-error.js';
import type { InferRequestInit } from '../../request/infer-request-init.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { Parameters, ParameterValue, Tensor } from '../../tensor/tensor.js';
import type { Frame } from './frames.js';

/** Request parameters the core consumes itself; the model does not see them in `parameters()`. */
const CORE_PARAMETERS = new Set([
  'sequence_id',
  'sequence_start',
  'sequence_end',
  'priority',
  'timeout',
  'binary_data_output',
]);

const FLAG_SEQUENCE_START = 1;
const FLAG_SEQUENCE_END = 2;

type JsonParameter = boolean | number | string;

function jsonParameter(value: ParameterValue): JsonParameter {
  if (typeof value !== 'bigint') return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : String(value);
}

/** The header of an EXECUTE frame and the input tensors it carries, request after request. */
export function executeFrame(requests: readonly InferenceRequest[]): { header: Record<string, unknown>; tensors: Tensor[] } {
  const tensors: Tensor[] = [];
  const specs = requests.map((request) => {
    const params: Record<string, JsonParameter> = {};
    for (const key in request.parameters) {
      if (!CORE_PARAMETERS.has(key)) params[key] = jsonParameter(request.parameters[key]!);
    }
    for (const input of request.inputs) tensors.push(input);
    const sequence = request.sequence;
    let flags = 0;
    if (sequence?.start === true) flags |= FLAG_SEQUENCE_START;
    if (sequence?.end === true) flags |= FLAG_SEQUENCE_END;
    return {
      id: request.id,
      corr: sequence === undefined ? 0 : jsonParameter(sequence.id),
      flags,
      timeout: request.timeoutMicroseconds,
      params,
      inputs: request.inputs.length,
      outputs: request.requestedOutputs.map((output) => output.name),
      model: request.modelName,
      version: Number(request.modelVersion),
    };
  });
  return { header: { requests: specs }, tensors };
}

interface ResponseSpec {
  readonly outputs: number;
  readonly params?: Parameters;
  readonly error?: [number, string];
}

/** One EXECUTE reply, per request: outputs or error, and the response's parameters. */
export interface ExecuteResults {
  readonly responses: Array<readonly Tensor[] | ServerError>;
  readonly parameters: Array<Parameters | undefined>;
}

/**
 * The responses of an EXECUTE reply, one per request: its output tensors or its error. A failed
 * execute (an exception in `execute`) fails every request with the stub's message.
 */
export function executeResults(frame: Frame, count: number, instanceName: string): ExecuteResults {
  const parameters: Array<Parameters | undefined> = new Array(count).fill(undefined);
  if (frame.header['ok'] !== true) {
    const failure = internal(String(frame.header['error']));
    return { responses: new Array(count).fill(failure), parameters };
  }
  const specs = frame.header['responses'] as Array<ResponseSpec | null>;
  const results: Array<readonly Tensor[] | ServerError> = [];
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    const spec = specs[i];
    if (spec === null || spec === undefined) {
      results.push(internal(`model instance '${instanceName}' returned no response for a request`));
    } else if (spec.error !== undefined) {
      results.push(new ServerError(errorCodeOf(spec.error[0]), spec.error[1]));
    } else {
      results.push(frame.tensors.slice(cursor, cursor + spec.outputs));
      cursor += spec.outputs;
      if (spec.params !== undefined && Object.keys(spec.params).length > 0) parameters[i] = spec.params;
    }
  }
  return { responses: results, parameters };
}

/** TRITONSERVER_Error_Code numbers, as pb_utils.TritonError carries them. */
export function errorCodeOf(code: number): ErrorCode {
  return ERROR_CODES[code] ?? 'INTERNAL';
}

export function errorCodeNumber(code: ErrorCode): number {
  return ERROR_CODES.indexOf(code);
}

/** A BLS call from a stub as the request a client would send the core. */
export function blsRequest(frame: Frame): InferRequestInit {
  const header = frame.header;
  const parameters: Record<string, ParameterValue> = { ...((header['params'] as Parameters | undefined) ?? {}) };
  const corr = header['corr'];
  const flags = Number(header['flags'] ?? 0);
  if ((typeof corr === 'number' && corr !== 0) || (typeof corr === 'string' && corr !== '')) {
    parameters['sequence_id'] = typeof corr === 'number' ? BigInt(corr) : corr;
  }
  if ((flags & FLAG_SEQUENCE_START) !== 0) parameters['sequence_start'] = true;
  if ((flags & FLAG_SEQUENCE_END) !== 0) parameters['sequence_end'] = true;
  const timeout = Number(header['timeout'] ?? 0);
  if (timeout > 0) parameters['timeout'] = timeout;
  const version = Number(header['version'] ?? -1);
  const outputs = (header['outputs'] as string[] | undefined) ?? [];
  return {
    modelName: String(header['model']),
    modelVersion: version < 0 ? '' : String(version),
    id: String(header['id'] ?? ''),
    parameters,
    inputs: frame.tensors.map((tensor) => ({ ...tensor, parameters: {} })),
    outputs: outputs.length === 0 ? undefined : outputs.map((name) => ({ name, parameters: {} })),
  };
}
