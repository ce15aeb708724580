import type { InputTensorInit, RequestedOutputInit } from '../../../request/infer-request-init.js';
import type { Parameters } from '../../../tensor/tensor.js';
import {
  TailCursor,
  decodeInferRequest,
  type DecodedInferRequest,
  type InferDecodeOptions,
  type OutputPlan,
} from './json-infer.js';
import { parseJson, type JsonValue } from './json-parse.js';
import { member } from './json-fields.js';

/**
 * Decoded JSON headers of inference requests, by their exact bytes. A client sends the same header
 * for every request of one shape (tritonclient's binary requests do), so parsing and checking it
 * (JSON.parse and the field walk, ~5 µs of the ~75 µs a small request costs) is done once per
 * distinct header; later requests only slice their binary tail. Only headers whose every input is
 * carried in the tail (`binary_data_size`) are kept: everything then follows from the header, and
 * only the tail's length can still fail the decode, with the messages a fresh decode gives.
 */

/** Longer headers are decoded every time (they are rarely repeated, and memory stays bounded). */
export const MAX_CACHED_HEADER_BYTES = 4096;
/** Distinct headers kept; the oldest one makes room. */
export const MAX_CACHED_HEADERS = 64;
/**
 * Headers of one byte length kept (the oldest of them makes room), so a lookup compares at most
 * this many candidates however the cache is filled.
 */
export const MAX_CACHED_HEADERS_OF_ONE_LENGTH = 8;

interface InputTemplate {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters: Parameters;
  readonly byteSize: number;
}

interface HeaderTemplate {
  /** The header's bytes (a copy), compared byte for byte on lookup. */
  readonly bytes: Buffer;
  readonly id: string;
  readonly parameters: Parameters;
  readonly inputs: readonly InputTemplate[];
  readonly outputs: readonly RequestedOutputInit[] | undefined;
  readonly plan: OutputPlan;
}

/**
 * Templates by header length, compared byte for byte: cheaper than a string key, which costs a
 * latin1 copy and a hash of the whole header on every request (~0.5 µs for 300 bytes).
 */
const byLength = new Map<number, HeaderTemplate[]>();
/** Every template, oldest first. */
const inOrder: HeaderTemplate[] = [];

/** decodeInferRequest(parseJson(header)), served from the cache when this header was decoded before. */
export function decodeInferHeader(
  modelName: string,
  modelVersion: string,
  header: Buffer,
  tail: Buffer,
  options: InferDecodeOptions,
): DecodedInferRequest {
  if (header.length > MAX_CACHED_HEADER_BYTES) {
    return decodeInferRequest(modelName, modelVersion, parseJson(header), tail, options);
  }
  const candidates = byLength.get(header.length);
  if (candidates !== undefined) {
    for (const template of candidates) {
      if (header.equals(template.bytes)) return fromTemplate(template, modelName, modelVersion, tail);
    }
  }
  const json = parseJson(header);
  const decoded = decodeInferRequest(modelName, modelVersion, json, tail, options);
  if (allInputsInTail(json)) remember(Buffer.from(header), decoded);
  return decoded;
}

/** Headers held now (for tests). */
export function cachedHeaderCount(): number {
  return inOrder.length;
}

function fromTemplate(template: HeaderTemplate, modelName: string, modelVersion: string, tail: Buffer): DecodedInferRequest {
  const cursor = new TailCursor(tail, modelName);
  const inputs: InputTensorInit[] = new Array(template.inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const input = template.inputs[i] as InputTemplate;
    inputs[i] = {
      name: input.name,
      datatype: input.datatype,
      // A copy: the request's shape is its own, whatever later layers do with it.
      shape: input.shape.slice(),
      data: cursor.take(input.name, input.byteSize),
      parameters: input.parameters,
    };
  }
  cursor.expectConsumed();
  return {
    init: { modelName, modelVersion, id: template.id, parameters: template.parameters, inputs, outputs: template.outputs },
    plan: template.plan,
  };
}

/** Whether every input of a header that decoded takes its bytes from the tail. */
function allInputsInTail(json: JsonValue): boolean {
  const inputs = member(json, 'inputs');
  if (!Array.isArray(inputs)) return false;
  return inputs.every((input) => member(member(input, 'parameters'), 'binary_data_size') !== undefined);
}

function remember(bytes: Buffer, decoded: DecodedInferRequest): void {
  const sameLength = byLength.get(bytes.length) ?? [];
  if (sameLength.length >= MAX_CACHED_HEADERS_OF_ONE_LENGTH) forget(sameLength[0] as HeaderTemplate);
  else if (inOrder.length >= MAX_CACHED_HEADERS) forget(inOrder[0] as HeaderTemplate);
  const { init, plan } = decoded;
  // Shared by every request decoded from this header: frozen, so no layer can change them for the others.
  const template: HeaderTemplate = {
    bytes,
    id: init.id,
    parameters: Object.freeze(init.parameters),
    inputs: init.inputs.map((input) => ({
      name: input.name,
      datatype: input.datatype,
      shape: Object.freeze(input.shape.slice()),
      parameters: Object.freeze(input.parameters),
      byteSize: input.data.byteLength,
    })),
    outputs: init.outputs === undefined ? undefined : Object.freeze(init.outputs.map((output) => Object.freeze({ ...output, parameters: Object.freeze(output.parameters) }))),
    plan,
  };
  sameLength.push(template);
  byLength.set(bytes.length, sameLength);
  inOrder.push(template);
}

function forget(template: HeaderTemplate): void {
  inOrder.splice(inOrder.indexOf(template), 1);
  const sameLength = byLength.get(template.bytes.length) ?? [];
  sameLength.splice(sameLength.indexOf(template), 1);
  if (sameLength.length === 0) byLength.delete(template.bytes.length);
}
