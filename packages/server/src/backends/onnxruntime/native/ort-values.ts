/**
 * Wire tensors ↔ OrtValues. Numeric inputs are created over the request's own bytes (no copy unless
 * misaligned); BYTES inputs are copied element by element into ONNX Runtime's std::strings, so NUL
 * and non-UTF-8 bytes survive. Outputs are copied out into wire-layout Buffers, after which their
 * OrtValue may be released.
 */
import { bytesElementLength, bytesElementStarts, elementByteSize, scanBytesElements, type Datatype } from '@nereid/protocol';
import { koffi } from './ffi.js';
import { internal, invalidArg } from '../../../errors/server-error.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { datatypeOfOnnx, onnxTypeCode, onnxTypeName, onnxTypeOf } from '../dtype-map.js';
import { copyFromNative, copyToNative } from './native-memory.js';
import type { NullablePointer, OrtApi, Pointer } from './ort-api.js';
import { check, OutSlot } from './ort-status.js';

const STRING_TYPE = onnxTypeCode('string');
/** Stands in for the data of empty tensors, which onnxruntime still wants an address for. */
const EMPTY = new Uint8Array(new ArrayBuffer(8));

/** The event-loop thread's helpers that turn tensors into OrtValues and back. */
export class OrtValues {
  readonly #api: OrtApi;
  readonly #out = new OutSlot();
  readonly #memoryInfo: Pointer;
  readonly #allocator: Pointer;
  /** Scratch dims (grown on demand): onnxruntime copies shapes in and out, so one buffer serves all. */
  #dims = new BigInt64Array(new ArrayBuffer(8 * 8));

  constructor(api: OrtApi) {
    this.#api = api;
    // OrtDeviceAllocator (0), OrtMemTypeDefault (0): plain CPU memory the caller owns.
    check(api, api.CreateCpuMemoryInfo(0, 0, this.#out.arg));
    this.#memoryInfo = this.#out.pointer();
    check(api, api.GetAllocatorWithDefaultOptions(this.#out.arg));
    this.#allocator = this.#out.pointer();
  }

  get allocator(): Pointer {
    return this.#allocator;
  }

  /**
   * An OrtValue for a wire tensor with `dims` (the model's view of its shape). Numeric values borrow
   * memory: the tensor's bytes, or an aligned copy of them. The borrowed bytes are pushed onto
   * `borrowed`, which the caller keeps referenced until the value is released.
   */
  create(tensor: Tensor, dims: readonly number[], borrowed: Uint8Array[]): Pointer {
    const shape = this.#shape(dims);
    if (tensor.datatype === 'BYTES') return this.#createStrings(tensor, shape, dims.length);
    const type = onnxTypeCode(onnxTypeOf(tensor.datatype));
    const data = aligned(tensor.data, elementByteSize(tensor.datatype));
    borrowed.push(data);
    check(
      this.#api,
      this.#api.CreateTensorWithDataAsOrtValue(
        this.#memoryInfo,
        data.byteLength === 0 ? EMPTY : data,
        data.byteLength,
        shape,
        dims.length,
        type,
        this.#out.arg,
      ),
    );
    return this.#out.pointer();
  }

  /** `dims` in the scratch array (valid until the next call). */
  #shape(dims: readonly number[]): BigInt64Array {
    if (dims.length > this.#dims.length) this.#dims = new BigInt64Array(new ArrayBuffer(8 * dims.length));
    for (let i = 0; i < dims.length; i++) this.#dims[i] = BigInt(dims[i] ?? 0);
    return this.#dims;
  }

  /** The wire tensor an output OrtValue holds (copied). Does not release the value. */
  read(name: string, value: Pointer): Tensor {
    const api = this.#api;
    check(api, api.GetTensorTypeAndShape(value, this.#out.arg));
    const info = this.#out.pointer();
    let type: number;
    let dims: number[];
    try {
      check(api, api.GetTensorElementType(info, this.#out.arg));
      type = this.#out.int32();
      check(api, api.GetDimensionsCount(info, this.#out.arg));
      const rank = this.#out.size();
      if (rank > this.#dims.length) this.#dims = new BigInt64Array(new ArrayBuffer(8 * rank));
      check(api, api.GetDimensions(info, this.#dims, rank));
      dims = new Array<number>(rank);
      for (let i = 0; i < rank; i++) dims[i] = Number(this.#dims[i]);
    } finally {
      api.ReleaseTensorTypeAndShapeInfo(info);
    }
    const datatype = datatypeOfOnnx(onnxTypeName(type));
    if (datatype === undefined) {
      throw internal(`output '${name}' has ONNX type '${onnxTypeName(type)}', which has no Triton datatype`);
    }
    const count = dims.reduce((product, dim) => product * dim, 1);
    const data = datatype === 'BYTES' ? this.#readStrings(value, count) : this.#readNumeric(value, datatype, count);
    return { name, datatype, shape: dims, data };
  }

  release(value: NullablePointer): void {
    if (value !== null && value !== 0n) this.#api.ReleaseValue(value);
  }

  #readNumeric(value: Pointer, datatype: Datatype, count: number): Buffer {
    const bytes = count * elementByteSize(datatype);
    const copy = Buffer.allocUnsafe(bytes);
    if (bytes === 0) return copy;
    check(this.#api, this.#api.GetTensorMutableData(value, this.#out.arg));
    copyFromNative(copy, this.#out.pointer(), bytes);
    return copy;
  }

  /** String elements → the BYTES wire layout (4-byte little-endian length, then the bytes). */
  #readStrings(value: Pointer, count: number): Buffer {
    const api = this.#api;
    check(api, api.GetStringTensorDataLength(value, this.#out.arg));
    const total = this.#out.size();
    const wire = Buffer.allocUnsafe(4 * count + total);
    if (count === 0) return wire;
    const offsets = new BigUint64Array(new ArrayBuffer(8 * count));
    // The content lands at the end of `wire`; each element then moves left to its place behind its
    // length prefix (never over an element not yet moved), so no per-element buffer is made.
    const contentAt = 4 * count;
    check(api, api.GetStringTensorContent(value, wire.subarray(contentAt), total, offsets, count));
    // Read as 32-bit halves: a BigUint64Array read would allocate a bigint per element.
    const halves = new Uint32Array(offsets.buffer);
    const starts = new Float64Array(count);
    for (let i = 0; i < count; i++) starts[i] = halves[2 * i]! + halves[2 * i + 1]! * 0x100000000;
    let at = 0;
    for (let i = 0; i < count; i++) {
      const start = starts[i]!;
      const length = (i + 1 < count ? starts[i + 1]! : total) - start;
      wire.writeUInt32LE(length, at);
      moveBytes(wire, at + 4, contentAt + start, length);
      at += 4 + length;
    }
    return wire;
  }

  #createStrings(tensor: Tensor, shape: BigInt64Array, rank: number): Pointer {
    const api = this.#api;
    let count = 1;
    for (let i = 0; i < rank; i++) count *= Number(shape[i]);
    const data = tensor.data;
    // The request layer checked the layout; checked again because a run must never read past it.
    if (scanBytesElements(data, count) !== undefined) {
      throw invalidArg(`input '${tensor.name}': BYTES data does not hold ${count} elements`);
    }
    check(api, api.CreateTensorAsOrtValue(this.#allocator, shape, rank, STRING_TYPE, this.#out.arg));
    const value = this.#out.pointer();
    try {
      if (count > 0) this.#fillStrings(value, data, count);
    } catch (error) {
      api.ReleaseValue(value);
      throw error;
    }
    return value;
  }

  /**
   * Fills a string tensor from wire-layout `data`. The common case (no element holds a NUL) is one
   * call: a copy of the wire bytes whose length prefixes become the NUL terminators of the element
   * before them. Elements holding NUL are written one by one into buffers onnxruntime sizes.
   */
  #fillStrings(value: Pointer, data: Uint8Array, count: number): void {
    const starts = bytesElementStarts(data, count);
    const text = new Uint8Array(new ArrayBuffer(data.byteLength + 1));
    text.set(data);
    // Prefix bytes set non-zero first, so a zero left in `text` can only be inside an element.
    for (let i = 0; i < count; i++) {
      const start = starts[i]!;
      text[start - 4] = 1;
      text[start - 3] = 1;
      text[start - 2] = 1;
      text[start - 1] = 1;
    }
    if (text.subarray(0, data.byteLength).indexOf(0) !== -1) {
      this.#fillWithNuls(value, data, starts);
      return;
    }
    const pointers = new BigUint64Array(new ArrayBuffer(8 * count));
    const halves = new Uint32Array(pointers.buffer);
    const base = koffi.address(text) as bigint;
    const baseLow = Number(base & 0xffffffffn);
    const baseHigh = Number(base >> 32n);
    for (let i = 0; i < count; i++) {
      const start = starts[i]!;
      text[start + bytesElementLength(data, start)] = 0;
      const low = baseLow + start;
      halves[2 * i] = low >>> 0;
      halves[2 * i + 1] = baseHigh + Math.floor(low / 0x100000000);
    }
    check(this.#api, this.#api.FillStringTensor(value, pointers, count));
  }

  #fillWithNuls(value: Pointer, data: Uint8Array, starts: Uint32Array): void {
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!;
      const length = bytesElementLength(data, start);
      check(this.#api, this.#api.GetResizedStringTensorElementBuffer(value, i, length, this.#out.arg));
      copyToNative(this.#out.pointer(), data.subarray(start, start + length));
    }
  }
}

/** Copies `length` bytes within `buffer` from `from` to `to` (to <= from); short runs by hand. */
function moveBytes(buffer: Uint8Array, to: number, from: number, length: number): void {
  if (length > 32) {
    buffer.copyWithin(to, from, from + length);
    return;
  }
  for (let k = 0; k < length; k++) buffer[to + k] = buffer[from + k]!;
}

/** Bytes at an offset their element type can be read from (copied when they are not). */
function aligned(bytes: Uint8Array, elementSize: number): Uint8Array {
  if (bytes.byteOffset % elementSize === 0) return bytes;
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}
