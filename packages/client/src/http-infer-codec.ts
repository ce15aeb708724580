/**
 * The HTTP/REST infer request and response codecs: a request as Triton's JSON header with the inputs'
 * raw bytes after it (the binary tensor extension) or their data in the JSON (`binary: false`); a
 * response body, binary or JSON, back into an InferResult.
 */
import { elementCount, isDatatype, type Datatype } from '@nereid/protocol';
import {
  emptyData,
  inputBytes,
  numberToBf16,
  numberToFp16,
  outputData,
  sharedMemoryParameters,
  type InferInput,
  type InferRequest,
  type InferResult,
  type OutputData,
  type OutputTensor,
  type Parameters,
  type RequestedOutput,
} from './tensor.js';

const BIGINT_MARK = '\u0000bigint:';

/** JSON.stringify that writes bigints as plain JSON numbers (INT64/UINT64 data and parameters). */
function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${BIGINT_MARK}${item}` : item)).replace(
    /"\\u0000bigint:(-?\d+)"/g,
    '$1',
  );
}

/** JSON leaves of an input, for a JSON (non-binary) request. */
function jsonLeaves(input: InferInput): unknown[] {
  const data = input.data!;
  if (input.datatype === 'BYTES') {
    return Array.from(data as readonly (Uint8Array | string)[], (element) => (typeof element === 'string' ? element : new TextDecoder().decode(element)));
  }
  if (input.datatype === 'BOOL') return Array.from(data as ArrayLike<unknown>, (value) => Boolean(value));
  return Array.from(data as ArrayLike<number | bigint>);
}

/** An infer request's body and, when binary inputs follow its JSON header, the header's length (Inference-Header-Content-Length). */
export function encodeInferRequest(request: InferRequest): { body: string | Uint8Array; headerLength: number | undefined } {
  const binaryDefault = request.binary ?? true;
  const chunks: Uint8Array[] = [];
  const inputs = request.inputs.map((input) => {
    const parameters: Parameters = { ...input.parameters };
    const entry: Record<string, unknown> = { name: input.name, datatype: input.datatype, shape: input.shape };
    if (input.sharedMemory !== undefined) {
      Object.assign(parameters, sharedMemoryParameters(input.sharedMemory));
    } else if (binaryDefault || input.datatype === 'FP16' || input.datatype === 'BF16') {
      const bytes = inputBytes(input);
      chunks.push(bytes);
      parameters['binary_data_size'] = bytes.byteLength;
    } else {
      inputBytes(input); // the same checks as the binary path
      entry['data'] = jsonLeaves(input);
    }
    if (Object.keys(parameters).length > 0) entry['parameters'] = parameters;
    return entry;
  });
  const header: Record<string, unknown> = { inputs };
  if (request.id !== undefined) header['id'] = request.id;
  const parameters: Parameters = { ...request.parameters };
  if (request.outputs !== undefined) {
    header['outputs'] = request.outputs.map((output) => outputEntry(output, binaryDefault));
  } else {
    parameters['binary_data_output'] = binaryDefault;
  }
  if (Object.keys(parameters).length > 0) header['parameters'] = parameters;
  const text = stringify(header);
  if (chunks.length === 0) return { body: text, headerLength: undefined };
  const headerBytes = Buffer.from(text);
  return { body: Buffer.concat([headerBytes, ...chunks]), headerLength: headerBytes.byteLength };
}

function outputEntry(output: RequestedOutput, binaryDefault: boolean): Record<string, unknown> {
  const parameters: Parameters = { ...output.parameters };
  if (output.sharedMemory !== undefined) {
    Object.assign(parameters, sharedMemoryParameters(output.sharedMemory));
  } else {
    if (output.classCount !== undefined) parameters['classification'] = output.classCount;
    parameters['binary_data'] = output.binary ?? binaryDefault;
  }
  return { name: output.name, parameters };
}

interface JsonOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Parameters;
  data?: unknown[];
}

/** An infer response's body whose first `headerLength` bytes are its JSON header (all of them without binary outputs). */
export function decodeInferResponse(body: Uint8Array, headerLength: number): InferResult {
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength))) as {
    model_name: string;
    model_version?: string;
    id?: string;
    parameters?: Parameters;
    outputs?: JsonOutput[];
  };
  let offset = headerLength;
  const outputs: Record<string, OutputTensor> = {};
  for (const output of header.outputs ?? []) {
    if (!isDatatype(output.datatype)) throw new TypeError(`output '${output.name}' has unknown datatype ${output.datatype}`);
    const parameters: Parameters = { ...output.parameters };
    const size = parameters['binary_data_size'];
    let data: OutputData;
    if (typeof size === 'number') {
      // Copy so the TypedArray is aligned and independent of the response body.
      data = outputData(output.datatype, body.slice(offset, offset + size));
      offset += size;
    } else if (output.data !== undefined) {
      data = jsonData(output.datatype, output.data, elementCount(output.shape));
    } else {
      data = emptyData(output.datatype);
    }
    outputs[output.name] = { name: output.name, datatype: output.datatype, shape: output.shape, data, parameters };
  }
  return {
    modelName: header.model_name,
    modelVersion: header.model_version ?? '',
    id: header.id ?? '',
    parameters: header.parameters ?? {},
    outputs,
  };
}

/** JSON output data into the datatype's TypedArray (INT64/UINT64 beyond 2^53 lose precision in JSON). */
function jsonData(datatype: Datatype, leaves: unknown[], _count: number): OutputData {
  const flat = (leaves as unknown[]).flat(Infinity);
  switch (datatype) {
    case 'BYTES':
      return flat.map((value) => new TextEncoder().encode(String(value)));
    case 'BOOL':
      return Uint8Array.from(flat, (value) => (value ? 1 : 0));
    case 'UINT8':
      return Uint8Array.from(flat as number[]);
    case 'INT8':
      return Int8Array.from(flat as number[]);
    case 'UINT16':
      return Uint16Array.from(flat as number[]);
    case 'INT16':
      return Int16Array.from(flat as number[]);
    case 'UINT32':
      return Uint32Array.from(flat as number[]);
    case 'INT32':
      return Int32Array.from(flat as number[]);
    case 'UINT64':
      return BigUint64Array.from(flat as number[], (value) => BigInt(value));
    case 'INT64':
      return BigInt64Array.from(flat as number[], (value) => BigInt(value));
    case 'FP16':
      return Uint16Array.from(flat as number[], numberToFp16);
    case 'BF16':
      return Uint16Array.from(flat as number[], numberToBf16);
    case 'FP32':
      return Float32Array.from(flat as number[]);
    case 'FP64':
      return Float64Array.from(flat as number[]);
  }
}
