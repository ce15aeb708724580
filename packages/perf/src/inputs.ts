import { readFileSync } from 'node:fs';
import { stringsToBytes, toBFloat16Array, toFloat16Array, type Datatype, type InferInput, type InputData, type NumericTypedArray } from '@nereid/client';
import { encodeBytesElements } from '@nereid/protocol';
import type { ModelInfo } from './connection.js';
import { GENERIC_ERROR, OPTION_ERROR, PerfError } from './types.js';

/** One input of one request: its full shape (batch included) and data. */
export interface PreparedInput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  readonly data: InputData;
  /** The tensor's bytes as they go on the wire (raw contents; BYTES length-prefixed). */
  readonly bytes: Uint8Array;
}

/** The requests a run cycles through: one per data step (one for zero/random data). */
export type PreparedRequests = PreparedInput[][];

const NUMERIC: Record<string, { make: (n: number) => NumericTypedArray; random: () => number | bigint }> = {
  BOOL: { make: (n) => new Uint8Array(n), random: () => (Math.random() < 0.5 ? 0 : 1) },
  UINT8: { make: (n) => new Uint8Array(n), random: () => randInt(0, 255) },
  UINT16: { make: (n) => new Uint16Array(n), random: () => randInt(0, 65535) },
  UINT32: { make: (n) => new Uint32Array(n), random: () => randInt(0, 2 ** 31) },
  UINT64: { make: (n) => new BigUint64Array(n), random: () => BigInt(randInt(0, 2 ** 31)) },
  INT8: { make: (n) => new Int8Array(n), random: () => randInt(-128, 127) },
  INT16: { make: (n) => new Int16Array(n), random: () => randInt(-32768, 32767) },
  INT32: { make: (n) => new Int32Array(n), random: () => randInt(-(2 ** 31), 2 ** 31 - 1) },
  INT64: { make: (n) => new BigInt64Array(n), random: () => BigInt(randInt(-(2 ** 31), 2 ** 31 - 1)) },
  FP32: { make: (n) => new Float32Array(n), random: () => Math.random() },
  FP64: { make: (n) => new Float64Array(n), random: () => Math.random() },
};

function randInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/**
 * The shape of one batch item of each input: the metadata's dims (without the batch dim when the
 * model batches), variable dims replaced by --shape. A variable dim left over is perf_analyzer's error.
 */
export function itemShapes(info: ModelInfo, shapes: Readonly<Record<string, readonly number[]>>, fromData: ReadonlySet<string> = new Set()): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const name of Object.keys(shapes)) {
    if (!info.metadata.inputs.some((i) => i.name === name)) {
      throw new PerfError(`failed to create model parser: input ${name} specified in --shape is not an input of model ${info.name}`, OPTION_ERROR);
    }
  }
  for (const input of info.metadata.inputs) {
    const dims = info.maxBatchSize > 0 ? input.shape.slice(1) : input.shape.slice();
    const given = shapes[input.name];
    let shape = dims;
    if (given !== undefined) {
      if (given.length !== dims.length || given.some((d, i) => dims[i] !== -1 && dims[i] !== d)) {
        throw new PerfError(`input ${input.name}: --shape ${given.join(',')} does not match the model's shape [${dims.join(',')}]`, OPTION_ERROR);
      }
      shape = given.slice();
    }
    if (shape.some((d) => d < 0) && !fromData.has(input.name)) {
      throw new PerfError(`input ${input.name} contains dynamic shape, provide shapes to send along with the request`, GENERIC_ERROR);
    }
    out.set(input.name, shape);
  }
  return out;
}

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fill(datatype: Datatype, n: number, mode: 'zero' | 'random'): InputData {
  if (datatype === 'BYTES') {
    // perf_analyzer's default string length is 128; zero data is an empty string of that length.
    return Array.from({ length: n }, () => (mode === 'zero' ? '\0'.repeat(0) : randomString(128)));
  }
  if (datatype === 'FP16' || datatype === 'BF16') {
    const values = Array.from({ length: n }, () => (mode === 'zero' ? 0 : Math.random()));
    return datatype === 'FP16' ? toFloat16Array(values) : toBFloat16Array(values);
  }
  const kind = NUMERIC[datatype];
  if (kind === undefined) throw new PerfError(`unsupported datatype ${datatype}`, GENERIC_ERROR);
  const array = kind.make(n);
  if (mode === 'random') for (let i = 0; i < n; i++) (array as unknown as Array<number | bigint>)[i] = kind.random();
  return array;
}

function randomString(length: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = '';
  for (let i = 0; i < length; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/** Typed data from a JSON array of numbers/strings/booleans. */
function fromValues(datatype: Datatype, values: readonly unknown[], name: string): InputData {
  if (datatype === 'BYTES') return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  if (datatype === 'FP16') return toFloat16Array(values.map(Number));
  if (datatype === 'BF16') return toBFloat16Array(values.map(Number));
  const kind = NUMERIC[datatype];
  if (kind === undefined) throw new PerfError(`unsupported datatype ${datatype} for input ${name}`, GENERIC_ERROR);
  const array = kind.make(values.length);
  const big = datatype === 'INT64' || datatype === 'UINT64';
  values.forEach((v, i) => {
    const x = typeof v === 'boolean' ? Number(v) : v;
    (array as unknown as Array<number | bigint>)[i] = big ? BigInt(x as number) : Number(x);
  });
  return array;
}

/** Typed data from little-endian bytes (a JSON "b64" value). */
function fromBytes(datatype: Datatype, bytes: Uint8Array, name: string): InputData {
  if (datatype === 'BYTES') {
    const out: Uint8Array[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + 4 <= bytes.byteLength; ) {
      const length = view.getUint32(at, true);
      out.push(bytes.slice(at + 4, at + 4 + length));
      at += 4 + length;
    }
    return out;
  }
  const copy = new Uint8Array(bytes); // a copy of its own (a Buffer may be a view of a shared pool)
  const make: Record<string, (b: ArrayBuffer) => NumericTypedArray> = {
    BOOL: (b) => new Uint8Array(b),
    UINT8: (b) => new Uint8Array(b),
    UINT16: (b) => new Uint16Array(b),
    UINT32: (b) => new Uint32Array(b),
    UINT64: (b) => new BigUint64Array(b),
    INT8: (b) => new Int8Array(b),
    INT16: (b) => new Int16Array(b),
    INT32: (b) => new Int32Array(b),
    INT64: (b) => new BigInt64Array(b),
    FP16: (b) => new Uint16Array(b),
    BF16: (b) => new Uint16Array(b),
    FP32: (b) => new Float32Array(b),
    FP64: (b) => new Float64Array(b),
  };
  const ctor = make[datatype];
  if (ctor === undefined) throw new PerfError(`unsupported datatype ${datatype} for input ${name}`, GENERIC_ERROR);
  try {
    return ctor(copy.buffer);
  } catch {
    throw new PerfError(`provided data for input ${name} has byte size ${bytes.byteLength}, not a multiple of ${datatype}'s size`, GENERIC_ERROR);
  }
}

function wireBytes(datatype: Datatype, data: InputData): Uint8Array {
  if (datatype === 'BYTES') {
    const list = (data as readonly (string | Uint8Array)[]).map((v) => (typeof v === 'string' ? stringsToBytes([v])[0]! : v));
    return encodeBytesElements(list);
  }
  if (Array.isArray(data)) return Uint8Array.from(data as boolean[], (b) => (b ? 1 : 0));
  const typed = data as NumericTypedArray;
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

function elementsOf(data: InputData): number {
  return (data as { length: number }).length;
}

/** Repeats one item's data `batch` times (the batch of a request). */
function repeat(datatype: Datatype, data: InputData, batch: number): InputData {
  if (batch === 1) return data;
  if (datatype === 'BYTES' || Array.isArray(data)) {
    const list = data as readonly unknown[];
    return Array.from({ length: list.length * batch }, (_, i) => list[i % list.length]) as InputData;
  }
  const typed = data as NumericTypedArray;
  const out = new (typed.constructor as new (n: number) => NumericTypedArray)(typed.length * batch);
  for (let b = 0; b < batch; b++) (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(typed as unknown as ArrayLike<unknown>, b * typed.length);
  return out;
}

interface JsonStep {
  readonly [input: string]: unknown;
}

function readJsonData(path: string): JsonStep[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PerfError(`failed to read input data file ${path}: ${(error as Error).message}`, OPTION_ERROR);
  }
  const data = (parsed as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0) throw new PerfError(`The input data file ${path} must hold a non-empty "data" array`, OPTION_ERROR);
  // A list of streams (sequence models) is flattened into one list of steps.
  return (Array.isArray(data[0]) ? (data as unknown[][]).flat() : data) as JsonStep[];
}

/**
 * The requests of a run: zero or random data (generated once, as perf_analyzer does), or the steps
 * of a JSON data file (used round robin). Each input's item data is repeated over the batch.
 */
export function prepareRequests(info: ModelInfo, batchSize: number, inputData: string, shapes: Readonly<Record<string, readonly number[]>>): PreparedRequests {
  const prefix = info.maxBatchSize > 0 ? [batchSize] : [];
  if (inputData === 'zero' || inputData === 'random') {
    const itemShape = itemShapes(info, shapes);
    return [
      info.metadata.inputs.map((input) => {
        const datatype = input.datatype as Datatype;
        const shape = itemShape.get(input.name)!;
        const data = repeat(datatype, fill(datatype, count(shape), inputData), batchSize);
        return { name: input.name, datatype, shape: [...prefix, ...shape], data, bytes: wireBytes(datatype, data) };
      }),
    ];
  }
  const steps = readJsonData(inputData);
  const withShapeInData = new Set<string>();
  for (const step of steps) for (const [name, value] of Object.entries(step)) if (isObject(value) && Array.isArray(value['shape'])) withShapeInData.add(name);
  const itemShape = itemShapes(info, shapes, withShapeInData);
  return steps.map((step, index) =>
    info.metadata.inputs.map((input) => {
      const datatype = input.datatype as Datatype;
      const value = step[input.name];
      if (value === undefined) throw new PerfError(`input ${input.name} not found in the data of step ${index} of ${inputData}`, GENERIC_ERROR);
      let shape = itemShape.get(input.name)!;
      let data: InputData;
      if (Array.isArray(value)) {
        data = fromValues(datatype, value.flat(Infinity), input.name);
      } else if (isObject(value) && typeof value['b64'] === 'string') {
        data = fromBytes(datatype, Buffer.from(value['b64'], 'base64'), input.name);
      } else if (isObject(value) && Array.isArray(value['content'])) {
        data = fromValues(datatype, (value['content'] as unknown[]).flat(Infinity), input.name);
      } else if (isObject(value) && typeof value['content'] === 'object' && value['content'] !== null && typeof (value['content'] as Record<string, unknown>)['b64'] === 'string') {
        data = fromBytes(datatype, Buffer.from((value['content'] as Record<string, string>)['b64']!, 'base64'), input.name);
      } else {
        throw new PerfError(`input ${input.name}: unsupported value in step ${index} of ${inputData}`, GENERIC_ERROR);
      }
      if (isObject(value) && Array.isArray(value['shape'])) shape = (value['shape'] as unknown[]).map(Number);
      const expected = count(shape);
      if (elementsOf(data) !== expected) {
        throw new PerfError(`mismatch in the data provided for ${input.name}. Expected: ${expected} elements, Got: ${elementsOf(data)}`, GENERIC_ERROR);
      }
      const batched = repeat(datatype, data, batchSize);
      return { name: input.name, datatype, shape: [...prefix, ...shape], data: batched, bytes: wireBytes(datatype, batched) };
    }),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Client InferInputs from prepared inputs (inline data). */
export function inlineInputs(inputs: readonly PreparedInput[]): InferInput[] {
  return inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.data }));
}
