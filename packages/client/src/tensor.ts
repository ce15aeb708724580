import { elementCount, encodeBytesElements, decodeBytesElements, typedView, type Datatype, type NumericTypedArray } from '@nereid/protocol';

/**
 * Tensors as the client takes and returns them: every datatype as its TypedArray. FP16 and BF16 are
 * their exact bit patterns in a Uint16Array (see float16 helpers), BOOL a Uint8Array of 0/1 (or
 * boolean[] on input), BYTES a Uint8Array[] (or string[] on input, UTF-8 encoded).
 */

export type { Datatype, NumericTypedArray };

/** Data a request input may carry. */
export type InputData = NumericTypedArray | boolean[] | readonly Uint8Array[] | readonly string[];

/** Data of a response output: numeric datatypes as their TypedArray, BYTES as Uint8Array[]. */
export type OutputData = NumericTypedArray | Uint8Array[];

/** A request parameter value (request, input or output level). */
export type ParameterValue = boolean | number | bigint | string;
export type Parameters = Record<string, ParameterValue>;

/** Where a tensor lives in a registered system shared-memory region, instead of in the message. */
export interface SharedMemoryRef {
  readonly region: string;
  readonly byteSize: number;
  readonly offset?: number;
}

export interface InferInput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /** Omitted when `sharedMemory` holds the data. */
  readonly data?: InputData;
  readonly sharedMemory?: SharedMemoryRef;
  readonly parameters?: Parameters;
}

export interface RequestedOutput {
  readonly name: string;
  /** The classification extension: the top `classCount` classes as BYTES "score:index[:label]". */
  readonly classCount?: number;
  /** HTTP only: false asks for the output in the JSON body instead of the binary extension. */
  readonly binary?: boolean;
  /** Write the output into a registered system shared-memory region. */
  readonly sharedMemory?: SharedMemoryRef;
  readonly parameters?: Parameters;
}

export interface InferRequest {
  readonly inputs: readonly InferInput[];
  /** Omitted: every output of the model. */
  readonly outputs?: readonly RequestedOutput[];
  readonly id?: string;
  readonly modelVersion?: string;
  readonly parameters?: Parameters;
  /** HTTP only: false sends the inputs as JSON (FP16/BF16 inputs always go binary). */
  readonly binary?: boolean;
  readonly signal?: AbortSignal;
  /** Extra HTTP headers or gRPC metadata. */
  readonly headers?: Record<string, string>;
}

export interface OutputTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  /** Empty when the output went to shared memory. */
  readonly data: OutputData;
  readonly parameters: Parameters;
}

export interface InferResult {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
  readonly parameters: Parameters;
  /** Outputs by name, in the order the server sent them. */
  readonly outputs: Record<string, OutputTensor>;
}

/** A tensor's place in shared memory as the request parameters both protocols carry it in (none without one). */
export function sharedMemoryParameters(ref: SharedMemoryRef | undefined): Parameters {
  if (ref === undefined) return {};
  return { shared_memory_region: ref.region, shared_memory_byte_size: ref.byteSize, ...(ref.offset === undefined ? {} : { shared_memory_offset: ref.offset }) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 encodes strings for a BYTES input. */
export function stringsToBytes(values: readonly string[]): Uint8Array[] {
  return values.map((value) => encoder.encode(value));
}

/** UTF-8 decodes BYTES elements (an output's `data`). */
export function bytesToStrings(values: OutputData | readonly Uint8Array[]): string[] {
  if (!Array.isArray(values)) throw new TypeError('bytesToStrings takes the elements of a BYTES tensor');
  return (values as readonly Uint8Array[]).map((value) => decoder.decode(value));
}

/** One class of a classification output. */
export interface Classification {
  readonly score: number;
  readonly index: number;
  readonly label?: string;
}

/** Parses a classification output ("score:index[:label]" elements). */
export function parseClassifications(output: OutputTensor): Classification[] {
  return bytesToStrings(output.data).map((text) => {
    const [score = '', index = '', ...label] = text.split(':');
    return label.length > 0 ? { score: Number(score), index: Number(index), label: label.join(':') } : { score: Number(score), index: Number(index) };
  });
}

const TYPED_ARRAY_OF: Record<Exclude<Datatype, 'BYTES' | 'BOOL'>, string> = {
  UINT8: 'Uint8Array',
  UINT16: 'Uint16Array',
  UINT32: 'Uint32Array',
  UINT64: 'BigUint64Array',
  INT8: 'Int8Array',
  INT16: 'Int16Array',
  INT32: 'Int32Array',
  INT64: 'BigInt64Array',
  FP16: 'Uint16Array',
  BF16: 'Uint16Array',
  FP32: 'Float32Array',
  FP64: 'Float64Array',
};

function constructorName(value: unknown): string {
  return (value as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof value;
}

/** The little-endian wire bytes of an input's data (BYTES length-prefixed), checked against its datatype and shape. */
export function inputBytes(input: InferInput): Uint8Array {
  const { name, datatype, data } = input;
  if (data === undefined) throw new TypeError(`input '${name}' has neither data nor sharedMemory`);
  const expected = elementCount(input.shape);
  let bytes: Uint8Array;
  let count: number;
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) throw new TypeError(`input '${name}' (BYTES) takes Uint8Array[] or string[], got ${constructorName(data)}`);
    const elements = (data as unknown as readonly (Uint8Array | string)[]).map((element) => (typeof element === 'string' ? encoder.encode(element) : element));
    bytes = encodeBytesElements(elements);
    count = elements.length;
  } else if (datatype === 'BOOL') {
    if (Array.isArray(data)) {
      bytes = Uint8Array.from(data as readonly unknown[], (value) => (value ? 1 : 0));
    } else if (data instanceof Uint8Array) {
      bytes = data;
    } else {
      throw new TypeError(`input '${name}' (BOOL) takes Uint8Array or boolean[], got ${constructorName(data)}`);
    }
    count = bytes.length;
  } else {
    const wanted = TYPED_ARRAY_OF[datatype];
    if (constructorName(data) !== wanted && !(wanted === 'Uint8Array' && data instanceof Uint8Array)) {
      throw new TypeError(`input '${name}' (${datatype}) takes a ${wanted}, got ${constructorName(data)}`);
    }
    const typed = data as NumericTypedArray;
    bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    count = typed.length;
  }
  if (count !== expected) {
    throw new TypeError(`input '${name}' has ${count} elements but shape [${input.shape.join(',')}] holds ${expected}`);
  }
  return bytes;
}

/** Decodes an output's wire bytes into its TypedArray (or BYTES elements). */
export function outputData(datatype: Datatype, bytes: Uint8Array): OutputData {
  if (datatype === 'BYTES') return decodeBytesElements(bytes);
  return typedView(datatype, bytes);
}

/** An empty tensor of the datatype (outputs written to shared memory). */
export function emptyData(datatype: Datatype): OutputData {
  return datatype === 'BYTES' ? [] : typedView(datatype, new Uint8Array(0));
}

// ---- FP16 / BF16: exact conversions between bit patterns and numbers ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The number an IEEE binary16 bit pattern holds (exact). */
export function fp16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The binary16 bit pattern nearest to `value` (round to nearest, ties to even; overflow to infinity). */
export function numberToFp16(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) return sign | 0x7c00;
  // Subnormals and zero: multiples of 2^-24.
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude * 2 ** 24);
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  else if (2 ** (exponent + 1) <= magnitude) exponent++;
  const fraction = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  // A fraction that rounds up to 1024 carries into the exponent; the bit layout makes that addition exact.
  const bits = ((exponent + 15) << 10) + fraction;
  return bits >= 0x7c00 ? sign | 0x7c00 : sign | bits;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The number a bfloat16 bit pattern holds (exact: the upper half of a float32). */
export function bf16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** The bfloat16 bit pattern nearest to `value` as a float32 (round to nearest, ties to even). */
export function numberToBf16(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if (Number.isNaN(f32[0])) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Numbers → FP16 bit patterns, for an FP16 input. */
export function toFloat16Array(values: ArrayLike<number>): Uint16Array {
  return Uint16Array.from(Array.from(values), numberToFp16);
}

/** FP16 bit patterns (an FP16 output's data) → numbers. */
export function fromFloat16Array(bits: ArrayLike<number>): Float64Array {
  return Float64Array.from(Array.from(bits), fp16ToNumber);
}

/** Numbers → BF16 bit patterns, for a BF16 input. */
export function toBFloat16Array(values: ArrayLike<number>): Uint16Array {
  return Uint16Array.from(Array.from(values), numberToBf16);
}

/** BF16 bit patterns (a BF16 output's data) → numbers. */
export function fromBFloat16Array(bits: ArrayLike<number>): Float32Array {
  return Float32Array.from(Array.from(bits), bf16ToNumber);
}
