/**
 * Tensor helpers of the oracle test (onnxruntime-oracle.test.ts): deterministic data, wire datatypes
 * and onnxruntime-node tensors, rows of a batch, and exact comparison.
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { decodeBytesElements, elementByteSize, encodeBytesElements, type Datatype } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import type { Tensor } from '../../../src/tensor/tensor.js';

// ---------------------------------------------------------------------------------------------
// Deterministic data

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export class Prng {
  #state: number;

  constructor(seed: string) {
    // FNV-1a of the seed text.
    let hash = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193);
    this.#state = hash >>> 0;
  }

  uint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.uint32() % (max - min + 1));
  }

  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.uint32() & 0xff;
    return out;
  }
}

/** Printable ASCII (0x20–0x7e), 0 to 12 characters. */
export function asciiText(rng: Prng): string {
  return String.fromCharCode(...Array.from({ length: rng.int(0, 12) }, () => rng.int(0x20, 0x7e)));
}

/**
 * Float bit patterns random bits rarely hit in a handful of elements: a quiet NaN with a payload, a
 * signaling NaN, a negative quiet NaN, +Inf, -Inf, -0 and the smallest subnormal.
 */
const FLOAT_SPECIALS: Readonly<Partial<Record<Datatype, readonly bigint[]>>> = {
  FP16: [0x7e01n, 0x7c01n, 0xfe00n, 0x7c00n, 0xfc00n, 0x8000n, 0x0001n],
  BF16: [0x7fc1n, 0x7f81n, 0xffc0n, 0x7f80n, 0xff80n, 0x8000n, 0x0001n],
  FP32: [0x7fc00001n, 0x7f800001n, 0xffc00000n, 0x7f800000n, 0xff800000n, 0x80000000n, 0x00000001n],
  FP64: [
    0x7ff8000000000001n,
    0x7ff0000000000001n,
    0xfff8000000000000n,
    0x7ff0000000000000n,
    0xfff0000000000000n,
    0x8000000000000000n,
    0x0000000000000001n,
  ],
};

/** `count` random elements of `datatype` in the wire layout. */
export function randomData(datatype: Datatype, count: number, rng: Prng, text: (rng: Prng) => string): Uint8Array {
  if (datatype === 'BYTES') {
    return encodeBytesElements(Array.from({ length: count }, () => Buffer.from(text(rng), 'latin1')));
  }
  if (datatype === 'BOOL') return Uint8Array.from({ length: count }, () => rng.int(0, 1));
  // Any bit pattern; for floats, one element in four is one of FLOAT_SPECIALS.
  const size = elementByteSize(datatype);
  const data = rng.bytes(count * size);
  const specials = FLOAT_SPECIALS[datatype];
  if (specials !== undefined) {
    for (let i = 0; i < count; i++) {
      if (rng.int(0, 3) !== 0) continue;
      let bits = specials[rng.int(0, specials.length - 1)] ?? 0n;
      for (let b = 0; b < size; b++, bits >>= 8n) data[i * size + b] = Number(bits & 0xffn);
    }
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Datatypes, independent of the backend's own tables

const WIRE_OF_CONFIG: ReadonlyMap<DataType, Datatype> = new Map([
  [DataType.TYPE_BOOL, 'BOOL'],
  [DataType.TYPE_UINT8, 'UINT8'],
  [DataType.TYPE_UINT16, 'UINT16'],
  [DataType.TYPE_UINT32, 'UINT32'],
  [DataType.TYPE_UINT64, 'UINT64'],
  [DataType.TYPE_INT8, 'INT8'],
  [DataType.TYPE_INT16, 'INT16'],
  [DataType.TYPE_INT32, 'INT32'],
  [DataType.TYPE_INT64, 'INT64'],
  [DataType.TYPE_FP16, 'FP16'],
  [DataType.TYPE_BF16, 'BF16'],
  [DataType.TYPE_FP32, 'FP32'],
  [DataType.TYPE_FP64, 'FP64'],
  [DataType.TYPE_STRING, 'BYTES'],
]);

export function datatypeOf(type: DataType, where: string): Datatype {
  const datatype = WIRE_OF_CONFIG.get(type);
  if (datatype === undefined) throw new Error(`${where}: config data type ${DataType[type]} has no wire datatype`);
  return datatype;
}

/** onnxruntime-node's tensor type names (bfloat16 has none there). */
const ORT_OF_WIRE: Readonly<Record<Exclude<Datatype, 'BF16'>, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const WIRE_OF_ORT: ReadonlyMap<string, Datatype> = new Map(
  Object.entries(ORT_OF_WIRE).map(([wire, type]) => [type, wire as Datatype]),
);

/** A copy of wire bytes in a fresh, aligned buffer. */
function copyBytes(data: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy.buffer;
}

export function toOrtTensor(datatype: Datatype, dims: readonly number[], data: Uint8Array): ort.Tensor {
  const dimsCopy = [...dims];
  switch (datatype) {
    case 'BYTES':
      return new ort.Tensor(
        'string',
        decodeBytesElements(data).map((element) => Buffer.from(element).toString('latin1')),
        dimsCopy,
      );
    case 'BOOL':
      return new ort.Tensor('bool', new Uint8Array(copyBytes(data)), dimsCopy);
    case 'UINT8':
      return new ort.Tensor('uint8', new Uint8Array(copyBytes(data)), dimsCopy);
    case 'INT8':
      return new ort.Tensor('int8', new Int8Array(copyBytes(data)), dimsCopy);
    case 'UINT16':
      return new ort.Tensor('uint16', new Uint16Array(copyBytes(data)), dimsCopy);
    case 'INT16':
      return new ort.Tensor('int16', new Int16Array(copyBytes(data)), dimsCopy);
    case 'FP16':
      // Bit patterns: onnxruntime-node takes float16 data as a Uint16Array.
      return new ort.Tensor('float16', new Uint16Array(copyBytes(data)), dimsCopy);
    case 'UINT32':
      return new ort.Tensor('uint32', new Uint32Array(copyBytes(data)), dimsCopy);
    case 'INT32':
      return new ort.Tensor('int32', new Int32Array(copyBytes(data)), dimsCopy);
    case 'FP32':
      return new ort.Tensor('float32', new Float32Array(copyBytes(data)), dimsCopy);
    case 'UINT64':
      return new ort.Tensor('uint64', new BigUint64Array(copyBytes(data)), dimsCopy);
    case 'INT64':
      return new ort.Tensor('int64', new BigInt64Array(copyBytes(data)), dimsCopy);
    case 'FP64':
      return new ort.Tensor('float64', new Float64Array(copyBytes(data)), dimsCopy);
    case 'BF16':
      throw new Error('onnxruntime-node has no bfloat16 tensors');
  }
}

/** A tensor as the comparison sees it: wire datatype, shape and wire bytes. */
export interface WireTensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export function fromOrtTensor(name: string, value: ort.Tensor): WireTensor {
  const datatype = WIRE_OF_ORT.get(value.type);
  if (datatype === undefined) throw new Error(`oracle output '${name}' has type ${value.type}, which has no datatype`);
  const shape = [...value.dims];
  if (datatype === 'BYTES') {
    const strings = value.data as string[];
    return { datatype, shape, data: encodeBytesElements(strings.map((s) => Buffer.from(s, 'utf8'))) };
  }
  const view = value.data as ArrayBufferView;
  return { datatype, shape, data: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) };
}

/** Rows `[start, end)` of a wire tensor along dim 0. */
export function rowsOf(tensor: WireTensor, start: number, end: number): WireTensor {
  const inner = tensor.shape.slice(1);
  const perRow = inner.reduce((product, dim) => product * dim, 1);
  const shape = [end - start, ...inner];
  if (tensor.datatype === 'BYTES') {
    const elements = decodeBytesElements(tensor.data).slice(start * perRow, end * perRow);
    return { datatype: tensor.datatype, shape, data: encodeBytesElements(elements) };
  }
  const size = perRow * elementByteSize(tensor.datatype);
  return { datatype: tensor.datatype, shape, data: tensor.data.subarray(start * size, end * size) };
}

/** Tensors of the same input joined along dim 0, the way a batch of requests is. */
export function joinRows(tensors: readonly WireTensor[]): WireTensor {
  const first = tensors[0];
  assert.ok(first);
  const rows = tensors.reduce((sum, t) => sum + (t.shape[0] ?? 0), 0);
  return {
    datatype: first.datatype,
    shape: [rows, ...first.shape.slice(1)],
    data: Buffer.concat(tensors.map((t) => t.data)),
  };
}

// ---------------------------------------------------------------------------------------------
// Comparison

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Exact equality of datatype, shape and bytes; on a difference, names the first element that differs. */
export function assertSameTensor(where: string, got: Tensor | undefined, expected: WireTensor): void {
  assert.ok(got, `${where}: the engine returned no tensor`);
  assert.equal(got.datatype, expected.datatype, `${where}: datatype`);
  assert.deepEqual([...got.shape], [...expected.shape], `${where}: shape`);
  if (Buffer.from(got.data).equals(Buffer.from(expected.data))) return;
  if (expected.datatype === 'BYTES') {
    const a = decodeBytesElements(got.data).map((e) => Buffer.from(e).toString('latin1'));
    const b = decodeBytesElements(expected.data).map((e) => Buffer.from(e).toString('latin1'));
    assert.deepEqual(a, b, `${where}: BYTES elements differ`);
    assert.fail(`${where}: BYTES wire layout differs: ${hex(got.data)} vs ${hex(expected.data)}`);
  }
  const size = elementByteSize(expected.datatype);
  assert.equal(got.data.byteLength, expected.data.byteLength, `${where}: byte length`);
  for (let i = 0; i < got.data.byteLength; i += size) {
    const a = got.data.subarray(i, i + size);
    const b = expected.data.subarray(i, i + size);
    if (!Buffer.from(a).equals(Buffer.from(b))) {
      assert.fail(
        `${where}: element ${i / size} of ${expected.datatype} differs: ` +
          `engine 0x${hex(a)}, expected 0x${hex(b)} (little-endian bytes)`,
      );
    }
  }
}
