import { elementByteSize } from '@nereid/protocol';
import { MAX_REQUEST_STRING_ELEMENTS } from '../../../request/limits.js';
import { invalidArg, type ServerError } from '../../../errors/index.js';
import type { InferRequestInit, InputTensorInit, RequestedOutputInit } from '../../../request/infer-request-init.js';
import type { ParameterValue, Parameters } from '../../../tensor/tensor.js';
import {
  asBool,
  asParameterValue,
  asSize,
  asString,
  asUInt,
  fieldError,
  isJsonObject,
  isUInt,
  member,
  memberArray,
  memberString,
  scalarParameters,
} from './json-fields.js';
import type { JsonValue } from './json-parse.js';
import { bytesLeavesSize, encodeJsonLeaves, flattenData, jsonInputDatatype } from './json-tensor.js';

/**
 * The JSON inference request (KServe v2 `$inference_request` with Triton's keys) into an
 * `InferRequestInit`. Inputs carry JSON `data`, or `binary_data_size` bytes taken in input order
 * from the binary tail (views, no copies), or a shared-memory region (left to the core: the input
 * goes on with empty data and its `shared_memory_*` parameters). The order of checks and the error
 * texts follow Triton's http_server.cc.
 */

/**
 * How one output goes back: JSON `data`, a slice of the binary tail, or nothing but its description
 * (`shm`: the core wrote it into the client's shared-memory region).
 */
export type OutputKind = 'json' | 'binary' | 'shm';

export interface OutputPlan {
  /** Kind of every output the request did not name (`binary_data_output`). */
  readonly defaultKind: 'json' | 'binary';
  /** Kinds of the outputs the request named; undefined when it named none. */
  readonly named: ReadonlyMap<string, OutputKind> | undefined;
}

export interface DecodedInferRequest {
  readonly init: InferRequestInit;
  readonly plan: OutputPlan;
}

export interface InferDecodeOptions {
  /** `--http-max-input-size`: also bounds the decoded size of each JSON input. */
  readonly maxInputSize: number;
}

const EMPTY_PARAMETERS: Parameters = Object.freeze({});
const EMPTY_DATA = new Uint8Array(0);
const INT64_MAX = 2n ** 63n - 1n;

/** Decodes a parsed request header; `tail` is the body after the header (empty for pure JSON). */
export function decodeInferRequest(
  modelName: string,
  modelVersion: string,
  header: JsonValue,
  tail: Buffer,
  options: InferDecodeOptions,
): DecodedInferRequest {
  const idValue = member(header, 'id');
  const id = idValue === undefined ? '' : asString(idValue, "Unable to parse 'id'");
  const { parameters, defaultKind } = decodeRequestParameters(member(header, 'parameters'));
  const rawInputs = memberArray(header, 'inputs', "Unable to parse 'inputs'");
  const cursor = new TailCursor(tail, modelName);
  const inputs: InputTensorInit[] = new Array(rawInputs.length);
  for (let i = 0; i < rawInputs.length; i++) {
    inputs[i] = decodeInput(rawInputs[i] as JsonValue, cursor, options);
  }
  cursor.expectConsumed();
  const { outputs, named } = decodeOutputs(member(header, 'outputs'), defaultKind);
  return {
    init: { modelName, modelVersion, id, parameters, inputs, outputs },
    plan: { defaultKind, named },
  };
}

/** Hands out consecutive slices of the binary tail. */
export class TailCursor {
  private offset = 0;

  constructor(
    private readonly tail: Buffer,
    private readonly modelName: string,
  ) {}

  take(inputName: string, byteSize: number): Buffer {
    const available = this.tail.length - this.offset;
    if (byteSize > available) {
      throw invalidArg(
        `unexpected size for input '${inputName}', expecting ${byteSize - available} additional bytes ` +
          `for model '${this.modelName}'`,
      );
    }
    const slice = this.tail.subarray(this.offset, this.offset + byteSize);
    this.offset += byteSize;
    return slice;
  }

  expectConsumed(): void {
    if (this.offset !== this.tail.length) {
      throw invalidArg(`unexpected additional input data for model '${this.modelName}'`);
    }
  }
}

function decodeRequestParameters(value: JsonValue | undefined): {
  parameters: Parameters;
  defaultKind: 'json' | 'binary';
} {
  if (value === undefined) return { parameters: EMPTY_PARAMETERS, defaultKind: 'json' };
  if (!isJsonObject(value)) throw fieldError("Unable to parse 'parameters'", 'attempt to access JSON non-object as object');
  const parameters: Record<string, ParameterValue> = {};
  let defaultKind: 'json' | 'binary' = 'json';
  for (const key of Object.keys(value)) {
    const v = value[key] as JsonValue;
    const prefix = `Unable to parse '${key}'`;
    switch (key) {
      case 'sequence_id':
        // uint64 correlation id, or a string one.
        parameters[key] = isUInt(v) ? v : asString(v, prefix);
        break;
      case 'sequence_start':
      case 'sequence_end':
        parameters[key] = asBool(v, prefix);
        break;
      case 'priority':
      case 'timeout':
        parameters[key] = asUInt(v, prefix);
        break;
      case 'binary_data_output':
        // A transport setting: decides the output encoding here and goes no further.
        defaultKind = asBool(v, prefix) ? 'binary' : 'json';
        break;
      default:
        if (key.startsWith('triton_')) {
          throw invalidArg("parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
        }
        parameters[key] = asParameterValue(key, v);
    }
  }
  return { parameters, defaultKind };
}

function decodeInput(raw: JsonValue, cursor: TailCursor, options: InferDecodeOptions): InputTensorInit {
  validateInputContentType(raw);
  const name = memberString(raw, 'name', "Unable to parse 'name'");
  const datatype = memberString(raw, 'datatype', "Unable to parse 'datatype'");
  const dims = memberArray(raw, 'shape', "Unable to parse 'shape'");
  const { shape, count } = decodeShape(name, datatype, dims);
  const params = member(raw, 'parameters');
  const parameters = params === undefined ? EMPTY_PARAMETERS : scalarParameters(params);
  const binarySize = member(params, 'binary_data_size');
  let data: Uint8Array;
  if (binarySize !== undefined) {
    data = cursor.take(name, asSize(binarySize, "Unable to parse 'binary_data_size'"));
  } else if (member(params, 'shared_memory_region') !== undefined) {
    checkSharedMemoryParameters(params as JsonValue);
    data = EMPTY_DATA;
  } else {
    data = jsonInputData(name, datatype, count, member(raw, 'data') as JsonValue, options.maxInputSize);
  }
  return { name, datatype, shape, data, parameters };
}

function validateInputContentType(raw: JsonValue): void {
  const params = member(raw, 'parameters');
  const hasData = member(raw, 'data') !== undefined;
  const hasBinary = member(params, 'binary_data_size') !== undefined;
  const hasShm = member(params, 'shared_memory_region') !== undefined;
  const setCount = Number(hasData) + Number(hasBinary) + Number(hasShm);
  if (setCount === 1) return;
  let message =
    "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', " +
    "'shared_memory_region' in 'parameters'. But";
  if (setCount === 0) {
    message += ' no field is set';
  } else {
    message += ' set';
    if (hasData) message += " 'data'";
    if (hasBinary) message += " 'binary_data_size'";
    if (hasShm) message += " 'shared_memory_region'";
  }
  throw invalidArg(message);
}

function decodeShape(name: string, datatype: string, dims: readonly JsonValue[]): { shape: number[]; count: number } {
  const shape: number[] = new Array(dims.length);
  let count = 1;
  let exact = true;
  for (let i = 0; i < dims.length; i++) {
    const dim = asUInt(dims[i] as JsonValue, "Unable to parse 'shape'");
    if (typeof dim === 'bigint') exact = false;
    else {
      shape[i] = dim;
      count *= dim;
    }
  }
  if (exact && Number.isSafeInteger(count)) return { shape, count };
  throw oversizedShape(name, datatype, dims as readonly (number | bigint)[]);
}

function oversizedShape(name: string, datatype: string, dims: readonly (number | bigint)[]): ServerError {
  const text = `[${dims.join(',')}]`;
  const count = dims.reduce<bigint>((product, dim) => product * BigInt(dim), 1n);
  if (count > INT64_MAX) {
    return invalidArg(
      `invalid shape for input '${name}': shape ${text} causes total element count to exceed maximum size of ${INT64_MAX}`,
    );
  }
  const size = datatype === 'BYTES' ? 0 : byteSizeOf(datatype);
  if (size > 1 && count > INT64_MAX / BigInt(size)) {
    return invalidArg(
      `byte size overflow for input '${name}': element count (${count}) * data type size (${size}) exceeds ` +
        `maximum allowed size (${INT64_MAX})`,
    );
  }
  return invalidArg(`invalid shape for input '${name}': shape ${text} has more elements than ${Number.MAX_SAFE_INTEGER}`);
}

function byteSizeOf(datatype: string): number {
  try {
    return elementByteSize(jsonInputDatatype('', datatype));
  } catch {
    return 0;
  }
}

function jsonInputData(name: string, datatype: string, count: number, data: JsonValue, maxInputSize: number): Uint8Array {
  // Like Triton: an empty tensor ignores `data`.
  if (count === 0) return EMPTY_DATA;
  const checked = jsonInputDatatype(name, datatype);
  if (checked !== 'BYTES') checkJsonInputSize(name, count * elementByteSize(checked), maxInputSize);
  else if (count > MAX_REQUEST_STRING_ELEMENTS) {
    throw invalidArg(
      `input '${name}' holds ${count} BYTES elements, more than the ${MAX_REQUEST_STRING_ELEMENTS} a request may hold`,
    );
  }
  const leaves = flattenData(data);
  if (checked === 'BYTES') checkJsonInputSize(name, bytesLeavesSize(leaves), maxInputSize);
  if (leaves.length !== count) {
    throw invalidArg(
      `Unable to parse 'data': Shape does not match true shape of 'data' field for input '${name}': ` +
        `expected ${count} elements, got ${leaves.length}`,
    );
  }
  return encodeJsonLeaves(name, checked, leaves);
}

function checkJsonInputSize(name: string, byteSize: number, maxInputSize: number): void {
  if (byteSize > maxInputSize) {
    throw invalidArg(
      `JSON input '${name}' has a byte_size (${byteSize} bytes) that exceeds the maximum allowed value of ` +
        `${maxInputSize} bytes. Use --http-max-input-size to increase the limit.`,
    );
  }
}

/** Type checks of a tensor's `shared_memory_*` parameters; the core resolves the region. */
function checkSharedMemoryParameters(params: JsonValue): void {
  asString(member(params, 'shared_memory_region') as JsonValue, "Unable to parse 'shared_memory_region'");
  const offset = member(params, 'shared_memory_offset');
  if (offset !== undefined) asUInt(offset, "Unable to parse 'shared_memory_offset'");
  const byteSize = member(params, 'shared_memory_byte_size');
  if (byteSize !== undefined) asUInt(byteSize, "Unable to parse 'shared_memory_byte_size'");
}

function decodeOutputs(
  value: JsonValue | undefined,
  defaultKind: 'json' | 'binary',
): { outputs: RequestedOutputInit[] | undefined; named: Map<string, OutputKind> | undefined } {
  if (value === undefined) return { outputs: undefined, named: undefined };
  if (!Array.isArray(value)) throw fieldError("Unable to parse 'outputs'", 'attempt to access JSON non-array as array');
  const outputs: RequestedOutputInit[] = [];
  const named = new Map<string, OutputKind>();
  for (const raw of value) {
    validateOutputParameters(raw);
    const name = memberString(raw, 'name', "Unable to parse 'name'");
    const params = member(raw, 'parameters');
    const classification = member(params, 'classification');
    if (classification !== undefined) asUInt(classification, "Unable to set 'classification'");
    named.set(name, outputKind(params, defaultKind));
    outputs.push({ name, parameters: params === undefined ? EMPTY_PARAMETERS : scalarParameters(params) });
  }
  return { outputs, named };
}

function outputKind(params: JsonValue | undefined, defaultKind: 'json' | 'binary'): OutputKind {
  if (member(params, 'shared_memory_region') !== undefined) {
    checkSharedMemoryParameters(params as JsonValue);
    return 'shm';
  }
  const binary = member(params, 'binary_data');
  // As extension_binary_data.md states: `binary_data` on an output overrides `binary_data_output`.
  if (binary === undefined) return defaultKind;
  return asBool(binary, "Unable to parse 'binary_data'") ? 'binary' : 'json';
}

function validateOutputParameters(raw: JsonValue): void {
  const params = member(raw, 'parameters');
  if (member(params, 'shared_memory_region') === undefined) return;
  if (member(params, 'classification') !== undefined) {
    throw invalidArg("Output can't set both 'shared_memory_region' and 'classification'");
  }
  const binary = member(params, 'binary_data');
  if (binary !== undefined && asBool(binary, "Unable to set 'binary_data'")) {
    throw invalidArg("Output can't set both 'shared_memory_region' and 'binary_data'");
  }
}
