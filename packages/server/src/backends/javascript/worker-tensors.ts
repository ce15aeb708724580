import { decodeBytesElements, elementByteSize, encodeBytesElements, isDatatype, typedView, type Datatype } from '@nereid/protocol';
import type { OutputTensor, Tensor } from './model-api.js';
import type { WireTensor } from './wire.js';

/**
 * Tensors in a model worker: wire layout in, typed views out (no copies), and a model's outputs
 * back to wire layout, handing over the buffers it no longer needs instead of copying them.
 */
export function modelTensor(wire: WireTensor): Tensor {
  const datatype = wire.datatype as Datatype;
  const data = datatype === 'BYTES' ? decodeBytesElements(wire.data) : typedView(datatype, wire.data);
  return { name: wire.name, datatype, shape: wire.shape, data } as Tensor;
}

/** What one output becomes: its wire tensor, and the buffer to transfer with it (if any). */
export interface PackedOutput {
  readonly tensor: WireTensor;
  readonly transfer: ArrayBuffer | undefined;
}

const TYPED_DATATYPE: ReadonlyArray<[Function, Datatype]> = [
  [Float32Array, 'FP32'], [Float64Array, 'FP64'], [Int32Array, 'INT32'], [BigInt64Array, 'INT64'], [Uint8Array, 'UINT8'],
  [Int8Array, 'INT8'], [Int16Array, 'INT16'], [Uint16Array, 'UINT16'], [Uint32Array, 'UINT32'], [BigUint64Array, 'UINT64'],
];

/**
 * One output of a model as a wire tensor. `configured` is the datatype the model configuration
 * gives the output, if any. Throws a plain Error naming the output when it cannot be converted.
 */
export function packOutput(output: OutputTensor, configured: Datatype | undefined): PackedOutput {
  const name = output.name;
  if (typeof name !== 'string') throw new Error('an output tensor has no name');
  const source = output.data as unknown;
  const datatype = output.datatype ?? configured ?? inferDatatype(source);
  if (datatype === undefined || !isDatatype(datatype)) throw new Error(`output '${name}': unknown datatype '${String(datatype)}'`);
  const length = (source as { length?: unknown }).length;
  if (typeof length !== 'number') throw new Error(`output '${name}': data must be a TypedArray or an array`);
  const shape = output.shape ?? [length];
  if (datatype === 'BYTES') {
    if (!Array.isArray(source)) throw new Error(`output '${name}': BYTES data must be an array of Uint8Array or string`);
    const elements = source.map((element: unknown) => (typeof element === 'string' ? encoder.encode(element) : (element as Uint8Array)));
    checkCount(name, shape, elements.length);
    const data = encodeBytesElements(elements);
    return { tensor: { name, datatype, shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }, transfer: undefined };
  }
  const bytes = ArrayBuffer.isView(source) ? typedBytes(source, datatype, name) : fromArray(source as readonly unknown[], datatype, name);
  const size = elementByteSize(datatype);
  if (bytes.byteLength % size !== 0) throw new Error(`output '${name}': ${bytes.byteLength} bytes is not a whole number of ${datatype} elements`);
  checkCount(name, shape, bytes.byteLength / size);
  // Only an ArrayBuffer the view covers whole is handed over; shared or partial buffers are copied.
  const own =
    bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.byteLength > 0;
  const data = own ? bytes : Uint8Array.prototype.slice.call(bytes);
  return { tensor: { name, datatype, shape, data }, transfer: data.byteLength > 0 ? (data.buffer as ArrayBuffer) : undefined };
}

const encoder = new TextEncoder();

function checkCount(name: string, shape: readonly number[], count: number): void {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isInteger(dim) && dim >= 0)) {
    throw new Error(`output '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const expected = shape.reduce((product, dim) => product * dim, 1);
  if (expected !== count) throw new Error(`output '${name}': shape [${shape.join(',')}] holds ${expected} elements but the data has ${count}`);
}

function inferDatatype(data: unknown): Datatype | undefined {
  for (const [type, datatype] of TYPED_DATATYPE) if (data instanceof (type as new () => unknown)) return datatype;
  if (Array.isArray(data) && data.length > 0) {
    const first: unknown = data[0];
    if (typeof first === 'string' || first instanceof Uint8Array) return 'BYTES';
    if (typeof first === 'boolean') return 'BOOL';
    if (typeof first === 'bigint') return 'INT64';
    if (typeof first === 'number') return 'FP32';
  }
  return undefined;
}

function typedBytes(view: ArrayBufferView, datatype: Datatype, name: string): Uint8Array {
  if (view instanceof DataView) throw new Error(`output '${name}': a DataView is not tensor data`);
  const element = (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (element !== 1 && element !== elementByteSize(datatype)) {
    throw new Error(`output '${name}': a ${view.constructor.name} cannot hold ${datatype} elements`);
  }
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function fromArray(values: readonly unknown[], datatype: Datatype, name: string): Uint8Array {
  const converted = values.map((value) => (typeof value === 'boolean' ? Number(value) : value));
  const size = elementByteSize(datatype);
  const bytes = new Uint8Array(converted.length * size);
  let view;
  try {
    if (datatype === 'FP16' || datatype === 'BF16') throw new Error('give FP16 and BF16 as Uint16Array bit patterns (float32ToFp16, float32ToBf16)');
    view = typedView(datatype as Exclude<Datatype, 'BYTES'>, bytes) as unknown as { set(values: readonly unknown[]): void };
    view.set(converted);
  } catch (error) {
    throw new Error(`output '${name}': ${(error as Error).message}`);
  }
  return bytes;
}
