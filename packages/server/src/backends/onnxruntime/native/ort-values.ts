/**
 * Wire tensors ↔ OrtValues. Numeric inputs are created over the request's own bytes (no copy unless
 * misaligned); BYTES inputs are copied element by element into ONNX Runtime's std::strings, so NUL
 * and non-UTF-8 bytes survive. Outputs are copied out into wire-layout Buffers, after which their
 * OrtValue may be released.
 */
import { elementByteSize, scanBytesElements, type Datatype } from '@nereid/protocol';
import { koffi } from './ffi.js';
import { internal, invalidArg } from '../../../errors/server-error.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { datatypeOfOnnx, onnxTypeCode, onnxTypeName, onnxTypeOf } from '../dtype-map.js';
import { copyFromNative } from './native-memory.js';
import type { NullablePointer, OrtApi, Pointer } from './ort-api.js';
import { check, OutSlot } from './ort-status.js';
import { OFF_THREAD_STRING_ELEMENTS, fillStringTensor, readStringTensor } from './string-tensors.js';
import { runThreads } from './run-thread.js';
import { COMPOUND_FAILED, NativeOp } from './run-thread-protocol.js';

const COMPOUND_STATUS = BigInt.asUintN(64, COMPOUND_FAILED);

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
    const { type, dims } = this.#typeAndShape(value);
    const datatype = datatypeOfOnnx(onnxTypeName(type));
    if (datatype === undefined) {
      throw internal(`output '${name}' has ONNX type '${onnxTypeName(type)}', which has no Triton datatype`);
    }
    const count = dims.reduce((product, dim) => product * dim, 1);
    const data = datatype === 'BYTES' ? this.#readStrings(value, count) : this.#readNumeric(value, datatype, count);
    return { name, datatype, shape: dims, data };
  }

  /** A value's ONNX element type and dimensions. */
  #typeAndShape(value: Pointer): { type: number; dims: number[] } {
    const api = this.#api;
    check(api, api.GetTensorTypeAndShape(value, this.#out.arg));
    const info = this.#out.pointer();
    try {
      check(api, api.GetTensorElementType(info, this.#out.arg));
      const type = this.#out.int32();
      check(api, api.GetDimensionsCount(info, this.#out.arg));
      const rank = this.#out.size();
      if (rank > this.#dims.length) this.#dims = new BigInt64Array(new ArrayBuffer(8 * rank));
      check(api, api.GetDimensions(info, this.#dims, rank));
      const dims = new Array<number>(rank);
      for (let i = 0; i < rank; i++) dims[i] = Number(this.#dims[i]);
      return { type, dims };
    } finally {
      api.ReleaseTensorTypeAndShapeInfo(info);
    }
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
    check(this.#api, this.#api.GetStringTensorDataLength(value, this.#out.arg));
    const total = this.#out.size();
    const wire = Buffer.allocUnsafe(4 * count + total);
    readStringTensor(this.#api, value, wire, count, total);
    return wire;
  }

  #createStrings(tensor: Tensor, shape: BigInt64Array, rank: number): Pointer {
    const api = this.#api;
    const count = stringCount(tensor, shape, rank);
    check(api, api.CreateTensorAsOrtValue(this.#allocator, shape, rank, STRING_TYPE, this.#out.arg));
    const value = this.#out.pointer();
    try {
      fillStringTensor(api, value, tensor.data, count);
    } catch (error) {
      api.ReleaseValue(value);
      throw error;
    }
    return value;
  }

  /**
   * A string tensor of many elements: made and filled on a run thread, because onnxruntime builds one
   * std::string per element (~100 ns each: 0.4 s for 4 million) and that must not hold the event
   * loop. Elements holding NUL (rare) still go the synchronous way.
   */
  async createStringsOffThread(tensor: Tensor, dims: readonly number[]): Promise<Pointer> {
    const shape = new BigInt64Array(new ArrayBuffer(8 * Math.max(1, dims.length)));
    for (let i = 0; i < dims.length; i++) shape[i] = BigInt(dims[i] ?? 0);
    const count = stringCount(tensor, shape, dims.length);
    const out = new OutSlot();
    await this.#offThread(NativeOp.CreateTensorAsOrtValue, [
      this.#allocator,
      koffi.address(shape) as bigint,
      BigInt(dims.length),
      BigInt(STRING_TYPE),
      koffi.address(out.arg) as bigint,
    ], [shape, out]);
    const value = out.pointer();
    if (count === 0) return value;
    // The thread reads the request's bytes in place (kept alive by the call's keepAlive).
    const data = tensor.data.byteLength > 0 ? tensor.data : EMPTY;
    try {
      await this.#offThread(NativeOp.FillStringTensorFromWire, [
        value,
        (koffi.address(data) as bigint),
        BigInt(data.byteLength),
        BigInt(count),
      ], [data, tensor]);
    } catch (error) {
      this.releaseOffThread(value);
      throw error;
    }
    return value;
  }

  /** Whether reading `value` is work for a run thread: a string tensor of many elements. */
  isLargeStringTensor(value: Pointer): boolean {
    let described: { type: number; dims: number[] };
    try {
      described = this.#typeAndShape(value);
    } catch {
      // Not a tensor (a sequence or map output): not a string tensor either.
      return false;
    }
    const { type, dims } = described;
    return type === STRING_TYPE && dims.reduce((product, dim) => product * dim, 1) >= OFF_THREAD_STRING_ELEMENTS;
  }

  /** read() for a large string tensor: onnxruntime's copy out runs on a run thread. */
  async readOffThread(name: string, value: Pointer): Promise<Tensor> {
    const { dims } = this.#typeAndShape(value);
    const count = dims.reduce((product, dim) => product * dim, 1);
    const out = new OutSlot();
    await this.#offThread(NativeOp.GetStringTensorDataLength, [value, koffi.address(out.arg) as bigint], [out]);
    const total = out.size();
    const wire = Buffer.allocUnsafe(4 * count + total);
    if (count > 0) {
      await this.#offThread(NativeOp.ReadStringTensorToWire, [
        value,
        koffi.address(wire) as bigint,
        BigInt(count),
        BigInt(total),
      ], [wire]);
    }
    return { name, datatype: 'BYTES', shape: dims, data: wire };
  }

  /** Releases a value on a run thread (a large string tensor frees one std::string per element). */
  releaseOffThread(value: Pointer): void {
    this.#offThread(NativeOp.ReleaseValue, [value], []).catch(() => this.#api.ReleaseValue(value));
  }

  async #offThread(op: NativeOp, args: readonly bigint[], keepAlive: readonly unknown[]): Promise<void> {
    const outcome = await runThreads.call({ op, args, keepAlive });
    if (outcome.status === COMPOUND_STATUS) throw internal(`onnxruntime could not build or read a string tensor (op ${op})`);
    check(this.#api, outcome.status);
  }


}

/**
 * Bytes at an offset their element type can be read from (copied when they are not). Small copies
 * come from Node's buffer pool, whose slices start at multiples of 8 (every element size divides 8),
 * sparing an ArrayBuffer per input (gRPC raw contents are rarely aligned).
 */
function aligned(bytes: Uint8Array, elementSize: number): Uint8Array {
  if (bytes.byteOffset % elementSize === 0) return bytes;
  const copy = bytes.byteLength < POOLED_COPY_BYTES ? Buffer.allocUnsafe(bytes.byteLength) : new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}

/** Below this, aligning copies use Node's pool (it serves allocUnsafe under half its 8 KiB size). */
const POOLED_COPY_BYTES = 4 * 1024;

/** The element count of a BYTES input, after checking its data holds exactly that many. */
function stringCount(tensor: Tensor, shape: BigInt64Array, rank: number): number {
  let count = 1;
  for (let i = 0; i < rank; i++) count *= Number(shape[i]);
  // The request layer checked the layout; checked again because a run must never read past it.
  if (scanBytesElements(tensor.data, count) !== undefined) {
    throw invalidArg(`input '${tensor.name}': BYTES data does not hold ${count} elements`);
  }
  return count;
}
