/**
 * The API of a JavaScript / TypeScript model (`backend: "javascript"`), published as `nereid/model`.
 * A model's `model.js` or `model.ts` exports Triton's Python-model life cycle:
 *
 *   export async function initialize(args, nereid) {}          // optional
 *   export async function execute(requests, nereid) { return requests.map(...) }
 *   export async function finalize(nereid) {}                   // optional
 *   export function autoCompleteConfig(config, nereid) {}       // optional
 *
 * The second argument of each hook is the server's API (`Nereid`): calls to other models (BLS) and
 * logging. The same object is exported here as `nereid`, for code that imports it instead.
 * This file is self-contained (it imports nothing from the server) so a model can bundle it.
 */

/** Triton's datatypes, as KServe v2 names them. */
export type Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BF16' | 'BYTES';

/** The TypedArray holding each datatype's elements (FP16 and BF16: their bit patterns; BOOL: 0 or 1). */
export interface TypedArrayOf {
  BOOL: Uint8Array; UINT8: Uint8Array; UINT16: Uint16Array; UINT32: Uint32Array; UINT64: BigUint64Array;
  INT8: Int8Array; INT16: Int16Array; INT32: Int32Array; INT64: BigInt64Array;
  FP16: Uint16Array; FP32: Float32Array; FP64: Float64Array; BF16: Uint16Array;
  /** One Uint8Array per element, exact bytes (NUL and non-UTF-8 bytes included). */
  BYTES: Uint8Array[];
}

/** A tensor a model receives: row-major elements of `shape` (batch dimension first when the model batches). */
export interface Tensor<D extends Datatype = Datatype> {
  readonly name: string;
  readonly datatype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf[D];
}

/**
 * A tensor a model answers with. `datatype` may be left out: the output's datatype in the model
 * configuration is used, else the TypedArray's. `data` may also be a plain array (numbers, bigints,
 * booleans) or, for BYTES, strings (UTF-8). `shape` defaults to `[data.length]`.
 * A TypedArray that covers its whole ArrayBuffer is handed to the server without a copy: its buffer
 * is transferred, so the model must not use it again (give a copy of constants: `data.slice()`).
 */
export interface OutputTensor {
  readonly name: string;
  readonly datatype?: Datatype;
  readonly shape?: readonly number[];
  readonly data:
    | TypedArrayOf[Exclude<Datatype, 'BYTES'>]
    | readonly Uint8Array[]
    | readonly string[]
    | readonly number[]
    | readonly bigint[]
    | readonly boolean[];
}

/** Request and response parameters. */
export type ParameterValue = boolean | number | bigint | string;
export type Parameters = Readonly<Record<string, ParameterValue>>;

/** One response: outputs (and parameters), or an error for this request alone. */
export interface Response {
  readonly outputs?: readonly OutputTensor[];
  readonly parameters?: Parameters;
  /** A failed request: an Error (a `ModelError` carries an error code) or its message. */
  readonly error?: Error | string;
}

/** Sends a decoupled model's responses: any number, at any time (also after `execute` returned), the last one final. */
export interface ResponseSender {
  send(response?: Response, options?: { readonly final?: boolean }): void;
}

/** One inference request, as `execute` receives it. */
export interface Request {
  /** The client's request id ('' when it sent none). */
  readonly id: string;
  /** The sequence's correlation id (0 when the request names no sequence). */
  readonly correlationId: bigint | string;
  /** `sequence_start` / `sequence_end` of a sequence request. */
  readonly sequenceStart: boolean;
  readonly sequenceEnd: boolean;
  readonly parameters: Parameters;
  readonly inputs: readonly Tensor[];
  /** The outputs the client asked for (every output of the model when it named none). */
  readonly requestedOutputNames: readonly string[];
  /** The input of that name, or undefined. */
  input(name: string): Tensor | undefined;
  /** The client went away or the request's deadline passed: the model may stop working on it. */
  isCancelled(): boolean;
  /** Decoupled models answer through this (Triton's get_response_sender). */
  responseSender(): ResponseSender;
}

/** Triton's error codes; a `ModelError` with one decides the HTTP and gRPC status the client gets. */
export type ErrorCode = 'UNKNOWN' | 'INTERNAL' | 'NOT_FOUND' | 'INVALID_ARG' | 'UNAVAILABLE' | 'UNSUPPORTED' | 'ALREADY_EXISTS' | 'CANCELLED';

/** An error with Triton's code (Triton's pb_utils.TritonError). Other errors are INTERNAL. */
export class ModelError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'INTERNAL') {
    super(message);
    this.name = 'ModelError';
    this.code = code;
  }
}

/** `initialize`'s first argument: Triton's `args` keys, the configuration parsed. */
export interface InitializeArgs {
  /** The final model configuration, as `GET /v2/models/<m>/config` shows it. */
  readonly model_config: ModelConfigJson;
  readonly model_instance_kind: string;
  readonly model_instance_name: string;
  readonly model_instance_device_id: string;
  readonly model_repository: string;
  readonly model_version: string;
  readonly model_name: string;
}

/** A model configuration in Triton's JSON form (snake_case keys). */
export interface ModelConfigJson {
  readonly name: string;
  readonly max_batch_size: number;
  readonly input: readonly TensorConfigJson[];
  readonly output: readonly TensorConfigJson[];
  readonly parameters?: Readonly<Record<string, { readonly string_value: string }>>;
  readonly [key: string]: unknown;
}

export interface TensorConfigJson {
  readonly name: string;
  /** e.g. TYPE_FP32, TYPE_STRING. */
  readonly data_type: string;
  readonly dims: readonly number[];
  readonly optional?: boolean;
  readonly [key: string]: unknown;
}

/** `autoCompleteConfig`'s argument: Triton's auto_complete_model_config helpers. */
export interface AutoCompleteConfig {
  /** The configuration as read so far. */
  asDict(): Record<string, unknown>;
  maxBatchSize(): number;
  setMaxBatchSize(size: number): void;
  /** Adds an input (`data_type` as TYPE_FP32 or FP32); an input of that name already configured must match. */
  addInput(input: { name: string; data_type: string; dims: readonly number[]; optional?: boolean }): void;
  addOutput(output: { name: string; data_type: string; dims: readonly number[] }): void;
  setDynamicBatching(): void;
  setModelTransactionPolicy(policy: { decoupled: boolean }): void;
}

/** What a model sends to another model (BLS). */
export interface InferRequest {
  readonly model: string;
  /** '' or absent: the version the model's policy chooses. */
  readonly version?: string;
  readonly id?: string;
  readonly parameters?: Parameters;
  readonly inputs: readonly OutputTensor[];
  /** Outputs wanted; absent: all. */
  readonly outputs?: readonly string[];
  /** Aborting it cancels the call. */
  readonly signal?: AbortSignal;
}

/** A BLS response: the outputs as typed tensors, looked up by name with `output`. */
export interface InferResult {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly parameters: Parameters;
  readonly outputs: readonly Tensor[];
  output(name: string): Tensor | undefined;
}

/** The server, as a model sees it (Triton's BLS and logging). */
export interface Nereid {
  /** Runs a request on any model of the server through its scheduler (Triton's `exec`/`async_exec`). */
  infer(request: InferRequest): Promise<InferResult>;
  /** A decoupled model's responses, one by one (Triton's `exec(decoupled=True)`). Non-decoupled models yield one. */
  inferStream(request: InferRequest): AsyncIterable<InferResult>;
  readonly log: {
    info(message: string): void;
    warn(message: string): void;
    error(message: string): void;
    verbose(message: string): void;
  };
}

/** The model module's shape, for `satisfies Model` in a model.ts. */
export interface Model {
  initialize?(args: InitializeArgs, nereid: Nereid): void | Promise<void>;
  execute(requests: readonly Request[], nereid: Nereid): readonly Response[] | void | Promise<readonly Response[] | void>;
  finalize?(nereid: Nereid): void | Promise<void>;
  autoCompleteConfig?(config: AutoCompleteConfig, nereid: Nereid): void | Promise<void>;
}

const RUNTIME = Symbol.for('nereid.model.runtime');

/**
 * The server's API inside a model worker (the second argument of every hook). Outside a model
 * worker its methods throw.
 */
export const nereid: Nereid = {
  infer: (request) => runtime().infer(request),
  inferStream: (request) => runtime().inferStream(request),
  log: {
    info: (message) => runtime().log.info(message),
    warn: (message) => runtime().log.warn(message),
    error: (message) => runtime().log.error(message),
    verbose: (message) => runtime().log.verbose(message),
  },
};

function runtime(): Nereid {
  const found = (globalThis as Record<symbol, unknown>)[RUNTIME] as Nereid | undefined;
  if (found === undefined) throw new Error('nereid/model: not running inside a Nereid model worker');
  return found;
}

/** FP16 bit patterns to numbers. */
export function fp16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToNumber(bits[i]!);
  return out;
}

/** Numbers to FP16 bit patterns (round to nearest even). */
export function float32ToFp16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToHalf(values[i]!);
  return out;
}

/** BF16 bit patterns to numbers (the upper half of an FP32). */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16;
  return new Float32Array(words.buffer);
}

/** Numbers to BF16 bit patterns (round to nearest even; NaN stays NaN). */
export function float32ToBf16(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const words = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const w = words[i]!;
    out[i] = Number.isNaN(f[i]) ? (w >>> 16) | 0x40 : (w + 0x7fff + ((w >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** The UTF-8 text of a BYTES element. */
export function textOf(element: Uint8Array): string {
  return decoder.decode(element);
}

const decoder = new TextDecoder();

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function numberToHalf(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  e = half;
  return sign | e;
}
