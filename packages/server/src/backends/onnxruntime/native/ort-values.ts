/**
 * Wire tensors ↔ OrtValues. Numeric inputs are created over the request's own bytes (no copy unless
 * misaligned); BYTES inputs are copied element by element into ONNX Runtime's std::strings, so NUL
 * and non-UTF-8 bytes survive. Outputs are copied out into wire-layout Buffers, after which their
 * OrtValue may be released.
 */
import { decodeBytesElements, elementByteSize, type Datatype } from '@nereid/protocol';
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
    const content = Buffer.allocUnsafe(Math.max(1, total));
    const offsets = new BigUint64Array(new ArrayBuffer(8 * Math.max(1, count)), 0, count);
    if (count > 0) check(api, api.GetStringTensorContent(value, content, total, offsets, count));
    const wire = Buffer.allocUnsafe(4 * count + total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const start = Number(offsets[i]);
      const end = i + 1 < count ? Number(offsets[i + 1]) : total;
      wire.writeUInt32LE(end - start, at);
      content.copy(wire, at + 4, start, end);
      at += 4 + end - start;
    }
    return wire;
  }

  #createStrings(tensor: Tensor, shape: BigInt64Array, rank: number): Pointer {
    const api = this.#api;
    let count = 1;
    for (let i = 0; i < rank; i++) count *= Number(shape[i]);
    let elements: Uint8Array[];
    try {
      elements = decodeBytesElements(tensor.data, count);
    } catch (error) {
      throw invalidArg(`input '${tensor.name}': malformed BYTES data: ${(error as Error).message}`);
    }
    check(api, api.CreateTensorAsOrtValue(this.#allocator, shape, rank, STRING_TYPE, this.#out.arg));
    const value = this.#out.pointer();
    try {
      if (elements.every((element) => element.indexOf(0) === -1)) this.#fillText(value, elements);
      else this.#fillBytes(value, elements);
    } catch (error) {
      api.ReleaseValue(value);
      throw error;
    }
    return value;
  }

  /** Elements without NUL: one call, from NUL-terminated copies laid end to end. */
  #fillText(value: Pointer, elements: readonly Uint8Array[]): void {
    if (elements.length === 0) return;
    const size = elements.reduce((sum, element) => sum + element.byteLength + 1, 0);
    const text = new Uint8Array(new ArrayBuffer(size));
    const pointers = new BigUint64Array(new ArrayBuffer(8 * elements.length));
    const base = koffi.address(text) as bigint;
    let at = 0;
    elements.forEach((element, i) => {
      text.set(element, at);
      pointers[i] = base + BigInt(at);
      at += element.byteLength + 1;
    });
    check(this.#api, this.#api.FillStringTensor(value, pointers, elements.length));
  }

  /** Elements with NUL bytes: each written into the buffer onnxruntime sizes for it. */
  #fillBytes(value: Pointer, elements: readonly Uint8Array[]): void {
    elements.forEach((element, i) => {
      check(this.#api, this.#api.GetResizedStringTensorElementBuffer(value, i, element.byteLength, this.#out.arg));
      copyToNative(this.#out.pointer(), element);
    });
  }
}

/** Bytes at an offset their element type can be read from (copied when they are not). */
function aligned(bytes: Uint8Array, elementSize: number): Uint8Array {
  if (bytes.byteOffset % elementSize === 0) return bytes;
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}
