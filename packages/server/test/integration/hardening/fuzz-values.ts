import { fuzzSeed, Random } from '../../helpers/fuzz-random.js';
import { bytesTensor, tensorBytes } from '../../helpers/http-client.js';

/** Building blocks of the fuzz test (fuzz.test.ts): its limits, random JSON values, valid requests. */

export const SEED = fuzzSeed(0x6e657265);
/** Cases and wall-time budget per stream; whichever runs out first ends the stream. */
export const HTTP_CASES = 1500;
export const HTTP_BUDGET_MS = 3500;
export const GRPC_CASES = 400;
export const GRPC_BUDGET_MS = 1700;
/** A reply slower than this counts as a hang. */
export const REPLY_TIMEOUT_MS = 5000;
export const CONCURRENCY = 4;
/** Small, so "too large" paths are reached with cheap bodies. */
export const MAX_INPUT_SIZE = 2 * 1024 * 1024;
/** The server clips error messages to this many UTF-8 bytes. */
export const MAX_ERROR_BYTES = 4096;
export const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;

/** Case streams: each has its own sequence of case seeds. */
export const Stream = { Http: 1, GrpcMessages: 2, GrpcFrames: 3 } as const;

export const MODELS = ['simple', 'simple_string', 'identity_fp32', 'simple_identity'] as const;
export type ModelName = (typeof MODELS)[number];

/** Error texts of models failing on their input (simple_string casts strings to numbers): Triton's INTERNAL. */
export const MODEL_FAILURE = /^onnx runtime error(?: \d+)?: /;

// ---------------------------------------------------------------------------------------------
// Random values

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A string value `RAW + literal` is written into the JSON text as the bare literal. */
export const RAW = '\u0001raw:';
export const RAW_NUMBERS = [
  '18446744073709551616',
  '-9223372036854775809',
  '9223372036854775807',
  '99999999999999999999999999999999',
  '4294967296',
  '2147483648',
  '-2147483649',
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '0.0',
  '1.0000000000000002',
];

export function jsonText(value: Json): string {
  return JSON.stringify(value).replace(/"\\u0001raw:([^"]*)"/g, '$1');
}

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32',
  'FP64', 'BF16', 'BYTES', 'int32', '', 'STRING', 'TYPE_INT32', 'FP8', ' INT32', 'X'.repeat(300),
];
export const DIMS: readonly Json[] = [0, 1, 1, 2, 8, 9, 16, 16, -1, -2, 3.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e20, '1', null, `${RAW}99999999999999999999`, `${RAW}-0`];
export const KEYS = [
  'name', 'datatype', 'shape', 'data', 'parameters', 'binary_data_size', 'binary_data', 'binary_data_output',
  'classification', 'id', 'inputs', 'outputs', 'sequence_id', 'sequence_start', 'priority', 'timeout',
  'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', '', '__proto__', 'constructor',
];

export function randomShape(r: Random): Json {
  if (r.chance(0.05)) return Array.from({ length: r.range(20, 200) }, () => r.pick([1, 2]));
  return Array.from({ length: r.int(5) }, () => r.pick(DIMS));
}

export function randomValue(r: Random, key = ''): Json {
  if (key === 'shape' && r.chance(0.6)) return randomShape(r);
  if (key === 'datatype' && r.chance(0.6)) return r.pick(DATATYPES);
  switch (r.int(17)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 1e300, -1e-300]);
    case 3: return r.range(-1_000_000, 1_000_000);
    case 4: return `${RAW}${r.pick(RAW_NUMBERS)}`;
    case 5: return '';
    case 6: return r.text(r.int(20));
    case 7: return 'a'.repeat(r.pick([300, 5000, 70_000]));
    case 8: return [];
    case 9: return {};
    case 10: return [[[]]];
    case 11: return Array.from({ length: r.int(40) }, () => r.range(-5, 5));
    case 12: return Array.from({ length: r.int(6) }, () => r.text(r.int(6)));
    case 13: return { [r.pick(KEYS)]: randomValue(r) };
    case 14: return { binary_data_size: r.pick([0, -1, 64, 2 ** 40, 1.5]) };
    case 15: return Array.from({ length: r.int(4) }, () => ({ name: r.pick(['INPUT0', 'INPUT1', 'OUTPUT0', r.text(4)]) }));
    default: return randomShape(r);
  }
}

/** 1–3 edits to a JSON tree: a value replaced, a key added or deleted, an array cut or grown. */
export function mutateTree(r: Random, root: Json): Json {
  const edits = r.range(1, 3);
  for (let e = 0; e < edits; e++) {
    const containers: (Json[] | { [key: string]: Json })[] = [];
    const walk = (node: Json): void => {
      if (node === null || typeof node !== 'object') return;
      containers.push(node);
      for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child);
    };
    walk(root);
    if (containers.length === 0) return randomValue(r);
    const target = r.pick(containers);
    if (Array.isArray(target)) {
      const at = r.int(target.length + 1);
      if (r.chance(0.5)) target[at] = randomValue(r);
      else if (r.chance(0.5)) target.splice(at, 1);
      else target.length = 0;
    } else {
      const keys = Object.keys(target);
      const key = keys.length > 0 && r.chance(0.7) ? r.pick(keys) : r.pick(KEYS);
      if (r.chance(0.2)) delete target[key];
      else Object.defineProperty(target, key, { value: randomValue(r, key), enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Valid requests to start from

export interface ValidTensor {
  readonly name: string;
  readonly datatype: 'INT32' | 'BYTES' | 'FP32';
  readonly shape: number[];
  readonly values: (number | string)[];
}

export function validTensors(r: Random, model: ModelName): ValidTensor[] {
  const ints = (): number[] => Array.from({ length: 16 }, () => r.range(-1000, 1000));
  switch (model) {
    case 'simple':
      return ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], values: ints() }));
    case 'simple_string':
      return ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], values: ints().map(String) }));
    case 'identity_fp32': {
      const n = r.int(9);
      return [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], values: Array.from({ length: n }, () => Math.fround(r.next() * 100 - 50)) }];
    }
    case 'simple_identity': {
      const n = r.int(7);
      return [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, n], values: Array.from({ length: n }, () => r.text(r.int(10))) }];
    }
  }
}

/** A tensor's elements in the wire layout of its datatype. */
export function wireBytes(tensor: ValidTensor): Buffer {
  if (tensor.datatype === 'BYTES') return bytesTensor(tensor.values.map(String));
  const values = tensor.values.map(Number);
  return tensorBytes(tensor.datatype === 'INT32' ? Int32Array.from(values) : Float32Array.from(values));
}

export function validInferJson(r: Random, model: ModelName, tensors: ValidTensor[]): { [key: string]: Json } {
  const body: { [key: string]: Json } = {};
  if (r.chance(0.3)) body['id'] = r.text(r.int(12));
  if (r.chance(0.2)) body['parameters'] = { binary_data_output: r.chance(0.5) };
  body['inputs'] = tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values }));
  if (r.chance(0.3)) {
    const outputs = model === 'simple' || model === 'simple_string' ? ['OUTPUT0', 'OUTPUT1'] : ['OUTPUT0'];
    body['outputs'] = outputs.filter(() => r.chance(0.7)).map((name) => ({ name, parameters: { binary_data: r.chance(0.5) } }));
  }
  return body;
}
