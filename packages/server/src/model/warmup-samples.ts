/**
 * The requests of a model's warm-up samples (`model_warmup` in config.pbtxt), built as Triton's
 * TritonModelInstance::GenerateWarmupData builds them (core backend_model_instance.cc), with its
 * errors: each sample is `batch_size` requests of one row each, inputs from zeros, random bytes or
 * a file under `<model>/warmup/`, checked by the same normalisation as a client's request.
 */
import { randomFill } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { configTypeToDatatype, elementByteSize, type Datatype } from '@nereid/protocol';
import { DataType, type ModelConfig, type ModelWarmup, type ModelWarmup_Input } from '@nereid/protocol/generated/model_config_pb';
import { readModelFileBytes } from '../config/model-file.js';
import { internal, invalidArg, ServerError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { InputTensorInit } from '../request/infer-request-init.js';
import type { InferenceRequest } from '../request/inference-request.js';
import type { ModelSignature } from '../request/model-signature.js';
import { normalizeRequest } from '../request/normalize.js';
import type { Tensor } from '../tensor/tensor.js';

/** Triton's folder, inside the model folder, for `input_data_file` (core constants.h kWarmupDataFolder). */
export const WARMUP_FOLDER = 'warmup';

/** One sample ready to run: the same requests for every instance and every iteration. */
export interface WarmupSample {
  readonly name: string;
  /** Iterations; Triton runs a sample at least once (`count: 0` means 1). */
  readonly count: number;
  /** `batch_size` requests of one row each, executed together as one batch. */
  readonly requests: readonly InferenceRequest[];
}

/** Where the samples come from: the final configuration and the version's request checks. */
export interface WarmupSource {
  readonly config: ModelConfig;
  readonly signature: ModelSignature;
  readonly version: bigint;
  /** The model folder; input files are read from its `warmup/` folder. */
  readonly modelDir: string;
  readonly logger: Logger;
}

const INT64_MAX = (1n << 63n) - 1n;
const WILDCARD = -1n;
/** Triton's prefix for messages about a request without an id (InferenceRequest::LogRequest). */
const LOG_REQUEST = '[request id: <id_unknown>] ';

const randomFillAsync = promisify(randomFill);

/**
 * Builds every sample of the configuration; samples with `batch_size: 0` are skipped, as in Triton.
 * Throws INVALID_ARG (or INTERNAL for an unreadable file) with Triton's messages.
 */
export async function buildWarmupSamples(source: WarmupSource): Promise<WarmupSample[]> {
  const samples: WarmupSample[] = [];
  for (const setting of source.config.modelWarmup) {
    if (setting.batchSize === 0) {
      source.logger.verbose(1, `Skipping batch 0 warmup sample '${setting.name}'`);
      continue;
    }
    source.logger.verbose(1, `Generating warmup sample data for '${setting.name}'`);
    samples.push(await buildSample(source, setting));
  }
  return samples;
}

async function buildSample(source: WarmupSource, setting: ModelWarmup): Promise<WarmupSample> {
  const { signature } = source;
  const entries = Object.entries(setting.inputs);
  // First pass (as Triton's): every input's byte size is known, and the synthetic buffers' sizes.
  let zeroBytes = 0;
  let randomBytes = 0;
  const sizes = new Map<string, number>();
  for (const [name, input] of entries) {
    const size = byteSize(input, name);
    sizes.set(name, size);
    const kind = input.inputDataType.case;
    if (kind === 'zeroData' || (kind === 'randomData' && input.dataType === DataType.TYPE_STRING)) {
      // Random BYTES are zeros too: each element an empty string (a zero length prefix).
      zeroBytes = Math.max(zeroBytes, size);
    } else if (kind === 'randomData') {
      randomBytes = Math.max(randomBytes, size);
    }
  }
  const zeros = new Uint8Array(zeroBytes);
  const random = new Uint8Array(randomBytes);
  if (randomBytes > 0) await randomFillAsync(random);
  // Second pass: the tensors of one request (every request of the batch holds the same data).
  const batching = signature.maxBatchSize > 0;
  const originals: InputTensorInit[] = [];
  const overrides: Tensor[] = [];
  for (const [name, input] of entries) {
    const size = sizes.get(name)!;
    let data: Uint8Array;
    switch (input.inputDataType.case) {
      case 'zeroData':
        data = zeros.subarray(0, size);
        break;
      case 'randomData':
        data = input.dataType === DataType.TYPE_STRING ? zeros.subarray(0, size) : random.subarray(0, size);
        break;
      case 'inputDataFile':
        data = await readInputFile(source.modelDir, input.inputDataType.value, input.dataType, size);
        break;
      default:
        throw invalidArg(`${LOG_REQUEST}warmup setting expects input '${name}' to have input_data_type set`);
    }
    const datatype = datatypeOf(input);
    const dims = input.dims.map(Number);
    if (signature.inputs.has(name)) {
      // A model input: one batch row when the model batches, checked like a client's input.
      originals.push({ name, datatype, shape: batching ? [1, ...dims] : dims, data, parameters: {} });
    } else {
      // Anything else (sequence control or state tensors) goes to the backend as given, as
      // Triton's override inputs do.
      overrides.push({ name, datatype, shape: batching ? [1, ...dims] : dims, data });
    }
  }
  const normalized = normalizeRequest(
    { modelName: signature.modelName, modelVersion: '', id: '', parameters: {}, inputs: originals, outputs: undefined },
    signature,
    source.version,
  );
  const request: InferenceRequest = overrides.length === 0 ? normalized : { ...normalized, inputs: [...normalized.inputs, ...overrides] };
  checkBatchSize(setting, signature);
  return { name: setting.name, count: Math.max(1, setting.count), requests: new Array<InferenceRequest>(setting.batchSize).fill(request) };
}

/**
 * A sample is one execution of `batch_size` one-row requests. Triton's core does not check the
 * size; its backends refuse a batch beyond max_batch_size (a model that does not batch takes one
 * request a run) and fail every request of it (onnxruntime_backend onnxruntime.cc, "batch size ...
 * max allowed is ..."), so the load fails with that text once per request. Checked here, before
 * `batch_size` requests are made.
 */
function checkBatchSize(setting: ModelWarmup, signature: ModelSignature): void {
  const total = setting.batchSize;
  if (total === 1 || total <= signature.maxBatchSize) return;
  const failure = `batch size ${total} for '${signature.modelName}', max allowed is ${signature.maxBatchSize}`;
  throw warmupFailure(setting.name, new Array<string>(total).fill(failure));
}

/** Triton's message for a sample whose run failed: every response's error, each followed by '; '. */
export function warmupFailure(sample: string, errors: readonly string[]): ServerError {
  return invalidArg(`failed to run warmup sample '${sample}': ${errors.map((error) => `${error}; `).join('')}`);
}

function datatypeOf(input: ModelWarmup_Input): Datatype {
  // byteSize has refused TYPE_INVALID already (a zero element size reads as variable-size).
  return configTypeToDatatype(DataType[input.dataType] ?? '') ?? 'BYTES';
}

/**
 * The byte size of one row of an input (Triton's GetByteSize, model_config_utils.h): 4 bytes per
 * element for STRING (empty strings), the element size times the element count otherwise.
 */
function byteSize(input: ModelWarmup_Input, name: string): number {
  const dims = input.dims;
  const count = elementCount(dims);
  let size: bigint;
  if (input.dataType === DataType.TYPE_STRING) {
    if (count === 'invalid') throw invalidArg(`tensor '${name}' contains an invalid dimension in shape ${dimsText(dims)}`);
    if (count === 'overflow') throw invalidArg(`element count for tensor '${name}' exceeds maximum size of ${INT64_MAX}`);
    if (count === 'wildcard') throw variableSize(name);
    if (count > INT64_MAX / 4n) throw invalidArg(`byte size for tensor '${name}' exceeds maximum size of ${INT64_MAX}`);
    size = count * 4n;
  } else {
    const datatype = configTypeToDatatype(DataType[input.dataType] ?? '');
    const elementSize = datatype === undefined ? 0n : BigInt(elementByteSize(datatype));
    // Triton: a type of unknown element size (TYPE_INVALID, i.e. data_type left out) sizes as a wildcard.
    if (elementSize === 0n || count === 'wildcard') throw variableSize(name);
    if (count === 'invalid') throw invalidArg(`tensor '${name}' contains an invalid dimension ${dimsText(dims)}`);
    if (count === 'overflow' || count > INT64_MAX / elementSize) {
      throw invalidArg(`byte size for tensor '${name}' exceeds maximum size of ${INT64_MAX}`);
    }
    size = count * elementSize;
  }
  if (size > BigInt(bufferConstants.MAX_LENGTH)) {
    throw invalidArg(`warmup input '${name}' needs ${size} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`);
  }
  return Number(size);
}

function variableSize(name: string): ServerError {
  return invalidArg(`warmup setting expects all variable-size dimensions are specified for input '${name}'`);
}

/** Triton's GetElementCount (common model_config.h): no dims count 0 elements. */
function elementCount(dims: readonly bigint[]): bigint | 'wildcard' | 'invalid' | 'overflow' {
  let count = 0n;
  let first = true;
  for (const dim of dims) {
    if (dim === WILDCARD) return 'wildcard';
    if (dim < 0n) return 'invalid';
    if (first) {
      count = dim;
      first = false;
    } else if (dim !== 0n && count > INT64_MAX / dim) {
      return 'overflow';
    } else {
      count *= dim;
    }
  }
  return count;
}

function dimsText(dims: readonly bigint[]): string {
  return `[${dims.join(',')}]`;
}

/**
 * `<model>/warmup/<file>` as raw bytes: for STRING the whole file (length-prefixed elements, checked
 * by normalisation), otherwise its first `size` bytes, refused when it has fewer. The name must stay
 * inside `warmup/` and, links resolved, inside the model folder.
 */
async function readInputFile(modelDir: string, file: string, dataType: DataType, size: number): Promise<Uint8Array> {
  const relativePath = normalize(join(WARMUP_FOLDER, file));
  const path = join(modelDir, relativePath);
  if (isAbsolute(file) || !relativePath.startsWith(`${WARMUP_FOLDER}${sep}`)) {
    throw invalidArg(`warmup input_data_file '${file}' must name a file inside the model's '${WARMUP_FOLDER}/' folder`);
  }
  let data: Uint8Array;
  try {
    data = await readModelFileBytes(modelDir, relativePath, 'warmup input_data_file');
  } catch (error) {
    // Triton's LocalFileSystem::ReadTextFile text for a file that cannot be opened.
    if (error instanceof ServerError && error.code === 'NOT_FOUND') {
      throw internal(`failed to open text file for read ${path}: No such file or directory`);
    }
    throw error;
  }
  if (dataType === DataType.TYPE_STRING) return data;
  if (data.byteLength < size) {
    // Triton's text, its missing space before "only" included.
    throw invalidArg(
      `${LOG_REQUEST}warmup setting expects ${size} bytes, but the data provided from ${file}only has ${data.byteLength} bytes`,
    );
  }
  return data.subarray(0, size);
}
