/**
 * The native engine against an oracle: every model of examples/models/ and of the test fixtures,
 * found by listing those folders, runs through Nereid's onnxruntime backend (ONNX Runtime's C API
 * through koffi) and, with the same inputs, through onnxruntime-node's InferenceSession in this
 * process. Outputs must agree exactly: datatype, shape and every byte (so NaN payloads too).
 *
 * Inputs are deterministic: a PRNG seeded by the model's name fills every element with arbitrary bit
 * patterns (floats often get NaNs with payloads, ±Inf, -0 and subnormals), BOOL with 0/1 and BYTES
 * with printable ASCII, the one string content onnxruntime-node carries exactly (it cannot carry NUL
 * or non-UTF-8 bytes; exact arbitrary bytes are covered by onnxruntime.test.ts). Dynamic dims are
 * 3, batches 1 and 2, and a batch of requests goes through one execute() too. Optional inputs
 * (overridable initializers) are both left out and fed; onnxruntime-node ignores a fed initializer,
 * so fed runs are checked against the same model with that initializer removed (withoutInitializers).
 *
 * A model the generic path cannot check (onnxruntime-node refuses it, or its inputs must be
 * special) is listed in SPECIAL with the reason and what is checked instead; any other model
 * that the oracle cannot open or run fails the test, so a new model is never skipped silently.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeBytesElements, elementByteSize, encodeBytesElements, type Datatype } from '@nereid/protocol';
import { DataType, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendInstance } from '../../../src/backends/backend.js';
import type { OnnxRuntimeInstance } from '../../../src/backends/onnxruntime/instance.js';
import {
  encodeBytesField,
  findField,
  payload,
  readFields,
  stringValue,
} from '../../../src/backends/onnxruntime/protobuf-wire.js';
import type { SessionRunResult } from '../../../src/backends/onnxruntime/native/native-session.js';
import type { TensorInfo } from '../../../src/backends/onnxruntime/tensor-info.js';
import { ServerError } from '../../../src/errors/server-error.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { EXAMPLES, FIXTURES, createInstance, loadModel, request, type Loaded } from './onnxruntime-harness.js';

// ---------------------------------------------------------------------------------------------
// Models

interface ModelCase {
  /** `examples/<name>` or `fixtures/<name>` (plus `@<version>` for versions other than 1). */
  readonly label: string;
  readonly repository: string;
  readonly name: string;
  /** `<version>/model.onnx`: a file, or a folder holding model.onnx and its external data. */
  readonly modelPath: string;
  /** The file onnxruntime-node opens (external data is found next to it). */
  readonly modelFile: string;
  readonly hasConfig: boolean;
}

const REPOSITORIES = [
  { prefix: 'examples', dir: EXAMPLES },
  { prefix: 'fixtures', dir: FIXTURES },
] as const;

/** Every `<repo>/<name>/<version>/model.onnx`; models laid out otherwise are listed as problems. */
function discoverModels(): { cases: ModelCase[]; problems: string[] } {
  const cases: ModelCase[] = [];
  const problems: string[] = [];
  for (const { prefix, dir } of REPOSITORIES) {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      const modelDir = path.join(dir, entry.name);
      const versions = readdirSync(modelDir, { withFileTypes: true })
        .filter((version) => version.isDirectory() && /^\d+$/.test(version.name))
        .map((version) => version.name)
        .sort((a, b) => Number(a) - Number(b));
      let found = 0;
      for (const version of versions) {
        const modelPath = path.join(modelDir, version, 'model.onnx');
        if (!existsSync(modelPath)) continue;
        found += 1;
        const modelFile = statSync(modelPath).isDirectory() ? path.join(modelPath, 'model.onnx') : modelPath;
        cases.push({
          label: `${prefix}/${entry.name}${version === '1' ? '' : `@${version}`}`,
          repository: dir,
          name: entry.name,
          modelPath,
          modelFile,
          hasConfig: existsSync(path.join(modelDir, 'config.pbtxt')),
        });
      }
      if (found === 0) problems.push(`${prefix}/${entry.name}: no <version>/model.onnx to test`);
    }
  }
  return { cases, problems };
}

/** What a model needs beyond the generic check, and why. */
interface Special {
  readonly why: string;
  /**
   * onnxruntime-node cannot open the model ("Unsupported data type: 16" for bfloat16 inputs and
   * outputs); the model is an identity, so each output must equal the input of the same position.
   */
  readonly identityInsteadOfOracle?: true;
  /** Text of the BYTES elements when the model reads them (default: random printable ASCII). */
  readonly text?: (rng: Prng) => string;
  /** Inputs the model is built to fail on: both the engine and onnxruntime-node must fail. */
  readonly failing?: { readonly why: string; readonly dynamicDim?: number; readonly text?: (rng: Prng) => string };
}

const SPECIAL: Readonly<Record<string, Special>> = {
  'fixtures/identity_bf16': {
    why:
      'onnxruntime-node refuses bfloat16 graph inputs/outputs ("Unsupported data type: 16"): ' +
      'compared with its input instead (the model is Identity)',
    identityInsteadOfOracle: true,
  },
  'examples/simple_string': {
    why: 'parses its strings as int32 (ONNX Cast): fed decimal numbers; a non-number must fail on both sides',
    text: (rng) => String(rng.int(-1_000_000, 1_000_000)),
    failing: { why: 'a string that is not a number', text: (rng) => `n${rng.int(0, 99)}x` },
  },
  'fixtures/runtime_error': {
    why: 'Reshape to [-1, 3]: rows of 3 run (oracle), rows of 4 must fail on both sides',
    failing: { why: 'an element count not divisible by 3', dynamicDim: 4 },
  },
};

// ---------------------------------------------------------------------------------------------
// Deterministic data

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
class Prng {
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
function asciiText(rng: Prng): string {
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
function randomData(datatype: Datatype, count: number, rng: Prng, text: (rng: Prng) => string): Uint8Array {
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

function toOrtTensor(datatype: Datatype, dims: readonly number[], data: Uint8Array): ort.Tensor {
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
interface WireTensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

function fromOrtTensor(name: string, value: ort.Tensor): WireTensor {
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
function rowsOf(tensor: WireTensor, start: number, end: number): WireTensor {
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
function joinRows(tensors: readonly WireTensor[]): WireTensor {
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
function assertSameTensor(where: string, got: Tensor | undefined, expected: WireTensor): void {
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

// ---------------------------------------------------------------------------------------------
// Requests

/** One request's inputs: wire tensors, plus the dims the model sees (rank-0 inputs take none). */
interface Feed {
  readonly name: string;
  readonly wire: WireTensor;
  readonly modelDims: readonly number[];
}

interface Scenario {
  readonly batchSize: number;
  readonly feeds: readonly Feed[];
  /** Feeds an optional input (an overridable initializer), replacing the model's stored value. */
  readonly overrides: boolean;
}

function datatypeOf(type: DataType, where: string): Datatype {
  const datatype = WIRE_OF_CONFIG.get(type);
  if (datatype === undefined) throw new Error(`${where}: config data type ${DataType[type]} has no wire datatype`);
  return datatype;
}

/**
 * Random inputs for every input of the completed config: the request shape is the batch dim (when
 * the model batches), then the reshape (else the dims), dynamic dims set to `dynamicDim`.
 */
function makeScenario(
  config: ModelConfig,
  modelInputs: readonly TensorInfo[],
  batchSize: number,
  rng: Prng,
  options: { dynamicDim?: number; text?: (rng: Prng) => string; omitOptional?: boolean } = {},
): Scenario {
  const batching = config.maxBatchSize > 0;
  const optional = optionalInputs(config, modelInputs);
  const wanted = config.input.filter((input) => !(options.omitOptional === true && optional.has(input.name)));
  const feeds = wanted.map((input): Feed => {
    const datatype = datatypeOf(input.dataType, `input '${input.name}'`);
    const declared = input.reshape?.shape ?? input.dims;
    const dims = declared.map((dim) => (dim < 0n ? (options.dynamicDim ?? 3) : Number(dim)));
    const shape = batching ? [batchSize, ...dims] : dims;
    const count = shape.reduce((product, dim) => product * dim, 1);
    const info = modelInputs.find((candidate) => candidate.name === input.name);
    assert.ok(info, `the model has no input '${input.name}'`);
    return {
      name: input.name,
      wire: { datatype, shape, data: randomData(datatype, count, rng, options.text ?? asciiText) },
      modelDims: info.shape.length === 0 ? [] : shape,
    };
  });
  const overrides = feeds.some((feed) => optional.has(feed.name));
  return { batchSize: batching ? batchSize : 1, feeds, overrides };
}

/**
 * Config inputs a request may leave out: `optional: true`, or backed by an initializer of the model
 * (ONNX Runtime's overridable initializers). When fed, the value replaces the stored one.
 */
function optionalInputs(config: ModelConfig, modelInputs: readonly TensorInfo[]): Set<string> {
  const initializers = new Set(modelInputs.filter((info) => info.optional === true).map((info) => info.name));
  const optional = config.input.filter((input) => input.optional || initializers.has(input.name));
  return new Set(optional.map((input) => input.name));
}

/**
 * The model bytes without the initializers named: they stay graph inputs, so the model then takes
 * them as ordinary required inputs. onnxruntime-node cannot override an initializer (it drops feeds
 * that are not among its input names: overridable initializers are not), so runs that feed one are
 * checked against this variant, which computes the same graph with the fed value.
 */
function withoutInitializers(model: Uint8Array, names: ReadonlySet<string>): Uint8Array {
  const MODEL_GRAPH = 7;
  const GRAPH_INITIALIZER = 5;
  const TENSOR_NAME = 8;
  let removed = 0;
  const parts = readFields(model).map((field) => {
    if (field.number !== MODEL_GRAPH) return model.subarray(field.start, field.end);
    const graph = payload(model, field);
    const kept = readFields(graph).filter((graphField) => {
      if (graphField.number !== GRAPH_INITIALIZER) return true;
      const initializer = payload(graph, graphField);
      const name = findField(readFields(initializer), TENSOR_NAME);
      const drop = name !== undefined && names.has(stringValue(initializer, name));
      if (drop) removed += 1;
      return !drop;
    });
    return encodeBytesField(MODEL_GRAPH, Buffer.concat(kept.map((f) => graph.subarray(f.start, f.end))));
  });
  assert.equal(removed, names.size, `found ${removed} of the initializers ${[...names].join(', ')}`);
  return Buffer.concat(parts);
}

function toRequest(config: ModelConfig, scenario: Scenario): InferenceRequest {
  return request(
    scenario.feeds.map((feed) => ({ name: feed.name, ...feed.wire })),
    config.output.map((output) => output.name),
    scenario.batchSize,
  );
}

/** The shape the engine gives an output the oracle returned with `shape`: rank 0 takes the config's. */
function engineShapeOf(config: ModelConfig, name: string, shape: readonly number[]): readonly number[] {
  if (shape.length > 0) return shape;
  const output = config.output.find((candidate) => candidate.name === name);
  assert.ok(output, `no config output '${name}'`);
  return (output.reshape?.shape ?? output.dims).map(Number);
}

async function runOracle(
  session: ort.InferenceSession,
  config: ModelConfig,
  feeds: readonly Feed[],
): Promise<Map<string, WireTensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const feed of feeds) ortFeeds[feed.name] = toOrtTensor(feed.wire.datatype, feed.modelDims, feed.wire.data);
  const names = config.output.map((output) => output.name);
  const results = await session.run(ortFeeds, names);
  const outputs = new Map<string, WireTensor>();
  for (const name of names) {
    const value = results[name];
    assert.ok(value, `the oracle returned no '${name}'`);
    const wire = fromOrtTensor(name, value);
    outputs.set(name, { ...wire, shape: engineShapeOf(config, name, wire.shape) });
  }
  return outputs;
}

/** What each model was checked with, for the log. */
const verdicts = new Map<string, string[]>();
/** Models whose test passed, for the final coverage check. */
const passed = new Set<string>();

function note(label: string, what: string): void {
  const list = verdicts.get(label) ?? [];
  if (!list.includes(what)) list.push(what);
  verdicts.set(label, list);
}

async function withModel<T>(
  model: ModelCase,
  use: (loaded: Loaded, instance: BackendInstance) => Promise<T>,
): Promise<T> {
  const loaded = await loadModel(model.name, {
    repository: model.repository,
    useConfigFile: model.hasConfig,
    modelPath: model.modelPath,
  });
  try {
    const instance = await createInstance(loaded);
    try {
      return await use(loaded, instance);
    } finally {
      await instance.close();
    }
  } finally {
    await loaded.model.close();
  }
}

/** Fatal only: failures reach the test as errors, and onnxruntime's warnings would be noise. */
const ORACLE_OPTIONS: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4 };

/** Opens the oracle session, or returns why onnxruntime-node cannot. */
async function openOracle(model: ModelCase): Promise<ort.InferenceSession | Error> {
  try {
    return await ort.InferenceSession.create(model.modelFile, ORACLE_OPTIONS);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * The requests of a model: batches 1 and 2 when it batches (2 within max_batch_size); else two
 * requests, the second without the optional inputs (the first feeds every input).
 */
function scenarios(
  config: ModelConfig,
  inputs: readonly TensorInfo[],
  rng: Prng,
  special: Special | undefined,
): Scenario[] {
  const options = special?.text === undefined ? {} : { text: special.text };
  if (config.maxBatchSize === 0) {
    return [
      makeScenario(config, inputs, 1, rng, options),
      makeScenario(config, inputs, 1, rng, { ...options, omitOptional: true }),
    ];
  }
  const sizes = [1, Math.min(2, config.maxBatchSize)];
  return sizes.map((size) => makeScenario(config, inputs, size, rng, options));
}

async function checkWithOracle(
  model: ModelCase,
  loaded: Loaded,
  instance: BackendInstance,
  oracle: ort.InferenceSession,
  special: Special | undefined,
): Promise<void> {
  const { config } = loaded;
  const rng = new Prng(`${model.label}#oracle`);
  const cases = scenarios(config, loaded.model.io.inputs, rng, special);
  // Runs that feed an overridable initializer go to the model with that initializer removed.
  let overriding: ort.InferenceSession | undefined;
  const sessionFor = async (scenario: Scenario): Promise<ort.InferenceSession> => {
    if (!scenario.overrides) return oracle;
    if (overriding === undefined) {
      const names = optionalInputs(config, loaded.model.io.inputs);
      const bytes = withoutInitializers(await readFile(model.modelFile), names);
      overriding = await ort.InferenceSession.create(bytes, ORACLE_OPTIONS);
    }
    return overriding;
  };
  try {
    // Each request on its own.
    for (const [index, scenario] of cases.entries()) {
      const expected = await runOracle(await sessionFor(scenario), config, scenario.feeds);
      const result = await instance.execute([toRequest(config, scenario)]);
      const response = result.responses[0];
      if (response instanceof Error) {
        assert.fail(`${model.label} request ${index}: the engine failed: ${response.message}`);
      }
      assert.ok(response, `${model.label} request ${index}: no response`);
      assert.equal(response.length, config.output.length, `${model.label} request ${index}: output count`);
      for (const [i, output] of config.output.entries()) {
        assert.equal(response[i]?.name, output.name);
        const want = expected.get(output.name);
        assert.ok(want);
        assertSameTensor(`${model.label} request ${index} output '${output.name}'`, response[i], want);
      }
    }
    // The same requests in one execute(): joined along the batch dim when the model batches (the
    // oracle runs the joined inputs once and its outputs are cut back), else run one by one.
    const batching = config.maxBatchSize > 0;
    const result = await instance.execute(cases.map((scenario) => toRequest(config, scenario)));
    assert.equal(result.responses.length, cases.length);
    const expectedPerRequest: Array<Map<string, WireTensor>> = [];
    if (batching) {
      const first = cases[0];
      assert.ok(first);
      const joined = first.feeds.map((feed): Feed => {
        const parts = cases.map((scenario) => scenario.feeds.find((f) => f.name === feed.name)?.wire);
        const wire = joinRows(parts.map((part) => part ?? assert.fail(`'${feed.name}' missing from a request`)));
        return { name: feed.name, wire, modelDims: wire.shape };
      });
      const whole = await runOracle(await sessionFor(first), config, joined);
      let row = 0;
      for (const scenario of cases) {
        expectedPerRequest.push(
          new Map([...whole].map(([name, tensor]) => [name, rowsOf(tensor, row, row + scenario.batchSize)])),
        );
        row += scenario.batchSize;
      }
    } else {
      for (const scenario of cases) {
        expectedPerRequest.push(await runOracle(await sessionFor(scenario), config, scenario.feeds));
      }
    }
    for (const [index, response] of result.responses.entries()) {
      if (response instanceof Error) {
        assert.fail(`${model.label} request ${index} of a batch: the engine failed: ${response.message}`);
      }
      for (const [i, output] of config.output.entries()) {
        const want = expectedPerRequest[index]?.get(output.name);
        assert.ok(want);
        const how = batching ? 'joined' : 'one-by-one';
        assertSameTensor(`${model.label} ${how} request ${index} output '${output.name}'`, response[i], want);
      }
    }
    note(model.label, batching ? 'oracle (batch 1, batch 2, joined batch)' : 'oracle (two requests, one by one)');
    if (cases.some((scenario) => scenario.overrides)) {
      note(model.label, 'fed optional inputs checked against the model without those initializers');
    }
    if (cases.some((scenario) => scenario.feeds.length < config.input.length)) {
      note(model.label, 'optional inputs left out (stored initializer values)');
    }
  } finally {
    await overriding?.release();
  }
}

async function checkIdentity(model: ModelCase, loaded: Loaded, instance: BackendInstance): Promise<void> {
  const { config } = loaded;
  const { inputs, outputs } = loaded.model.io;
  // Only an identity-shaped signature qualifies: one output per input, same element type and shape.
  assert.equal(config.input.length, config.output.length, `${model.label}: identity needs as many outputs as inputs`);
  for (const [i, info] of outputs.entries()) {
    assert.equal(info.type, inputs[i]?.type, `${model.label}: output ${info.name} type vs input`);
    assert.deepEqual(info.shape, inputs[i]?.shape, `${model.label}: output ${info.name} shape vs input`);
  }
  const rng = new Prng(`${model.label}#identity`);
  for (const scenario of scenarios(config, inputs, rng, undefined)) {
    const result = await instance.execute([toRequest(config, scenario)]);
    const response = result.responses[0];
    if (response instanceof Error) assert.fail(`${model.label}: the engine failed: ${response.message}`);
    assert.ok(response);
    for (const [i, output] of config.output.entries()) {
      const feed = scenario.feeds[i];
      assert.ok(feed);
      assertSameTensor(`${model.label} identity output '${output.name}'`, response[i], feed.wire);
    }
  }
  note(model.label, 'identity (output == input)');
}

async function checkBothFail(
  model: ModelCase,
  loaded: Loaded,
  instance: BackendInstance,
  oracle: ort.InferenceSession,
  failing: NonNullable<Special['failing']>,
): Promise<void> {
  const { config } = loaded;
  const rng = new Prng(`${model.label}#failing`);
  const options = {
    ...(failing.dynamicDim === undefined ? {} : { dynamicDim: failing.dynamicDim }),
    ...(failing.text === undefined ? {} : { text: failing.text }),
  };
  const scenario = makeScenario(config, loaded.model.io.inputs, 1, rng, options);
  const oracleError = await runOracle(oracle, config, scenario.feeds).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  assert.ok(oracleError, `${model.label}: onnxruntime-node ran inputs meant to fail (${failing.why})`);
  const result = await instance.execute([toRequest(config, scenario)]);
  const response = result.responses[0];
  assert.ok(response instanceof ServerError, `${model.label}: the engine ran inputs meant to fail (${failing.why})`);
  assert.equal(response.code, 'INTERNAL');
  assert.match(response.message, /^onnx runtime error: /);
  // Both report onnxruntime's own message.
  assert.equal(response.message, `onnx runtime error: ${oracleError.message}`);
  note(model.label, `both fail (${failing.why})`);
}

// ---------------------------------------------------------------------------------------------
// Tests

const { cases: MODELS, problems: LAYOUT_PROBLEMS } = discoverModels();

describe('onnxruntime engine vs onnxruntime-node (oracle)', () => {
  for (const model of MODELS) {
    it(`${model.label} gives onnxruntime-node's outputs`, async (t) => {
      const special = SPECIAL[model.label];
      const oracle = await openOracle(model);
      try {
        await withModel(model, async (loaded, instance) => {
          if (oracle instanceof Error) {
            if (special?.identityInsteadOfOracle !== true) {
              assert.fail(
                `onnxruntime-node cannot open ${model.label} (${oracle.message}); give it a reason and a check in SPECIAL`,
              );
            }
            assert.match(oracle.message, /Unsupported data type: 16/, `${model.label}: refused for another reason`);
            t.diagnostic(`${model.label}: onnxruntime-node refuses it (${oracle.message}); checked as identity`);
          } else {
            await checkWithOracle(model, loaded, instance, oracle, special);
            if (special?.failing !== undefined) await checkBothFail(model, loaded, instance, oracle, special.failing);
          }
          if (special?.identityInsteadOfOracle === true) await checkIdentity(model, loaded, instance);
        });
      } finally {
        if (!(oracle instanceof Error)) await oracle.release();
      }
      passed.add(model.label);
      t.diagnostic(`${model.label}: ${(verdicts.get(model.label) ?? []).join('; ')}`);
    });
  }

  it('runs inline and on run threads alike', async () => {
    // The first runs of a session go to a run thread; once its runs are measured tiny, later runs
    // of the same size compute inline (run-placement.ts). Outputs must not depend on where.
    for (const label of ['examples/simple', 'examples/simple_identity']) {
      const model = MODELS.find((candidate) => candidate.label === label);
      assert.ok(model, `${label} is gone: pick another tiny model`);
      const oracle = await ort.InferenceSession.create(model.modelFile, ORACLE_OPTIONS);
      try {
        await withModel(model, async (loaded, instance) => {
          const session = (instance as OnnxRuntimeInstance).session;
          const runs: SessionRunResult[] = [];
          const run = session.run.bind(session);
          session.run = async (feeds, fetches) => {
            const result = await run(feeds, fetches);
            runs.push(result);
            return result;
          };
          const scenario = makeScenario(loaded.config, loaded.model.io.inputs, 1, new Prng(`${label}#placement`));
          const expected = await runOracle(oracle, loaded.config, scenario.feeds);
          const seen = new Set<boolean>();
          // ~5–20 runs usually show both; a slow run (a loaded machine) sends the session back to run
          // threads until its estimate decays (~60 runs per slow run), hence the generous cap.
          for (let i = 0; i < 1000 && (i < 5 || seen.size < 2); i++) {
            const result = await instance.execute([toRequest(loaded.config, scenario)]);
            const response = result.responses[0];
            if (response instanceof Error) assert.fail(`${label} run ${i}: ${response.message}`);
            const placement = runs.at(-1)?.inline;
            assert.ok(placement !== undefined);
            seen.add(placement);
            for (const [j, output] of loaded.config.output.entries()) {
              const want = expected.get(output.name);
              assert.ok(want);
              const where = `${label} run ${i} (${placement ? 'inline' : 'run thread'}) '${output.name}'`;
              assertSameTensor(where, response?.[j], want);
            }
          }
          assert.deepEqual([...seen].sort(), [false, true], `${label}: runs went ${[...seen].join(', ')} only`);
          const inline = runs.filter((run) => run.inline).length;
          note(label, `inline and run-thread runs agree (${inline} inline, ${runs.length - inline} on run threads)`);
        });
      } finally {
        await oracle.release();
      }
    }
  });

  it('covered every model of both repositories', (t) => {
    assert.deepEqual(LAYOUT_PROBLEMS, []);
    for (const { prefix } of REPOSITORIES) {
      assert.ok(MODELS.some((model) => model.label.startsWith(`${prefix}/`)), `no models found in ${prefix}`);
    }
    const labels = new Set(MODELS.map((model) => model.label));
    for (const label of Object.keys(SPECIAL)) assert.ok(labels.has(label), `SPECIAL names ${label}, which is gone`);
    const missing = MODELS.filter((model) => !passed.has(model.label)).map((model) => model.label);
    assert.deepEqual(missing, [], 'models without a passing check');
    for (const model of MODELS) t.diagnostic(`${model.label}: ${verdicts.get(model.label)?.join('; ')}`);
  });
});
