import { create } from '@bufbuild/protobuf';
import { isDatatype, type Datatype } from '@nereid/protocol';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type {
  CudaSharedMemoryRegion,
  InferenceCore,
  LogSettingsPayload,
  ModelMetadata,
  ModelStatistics,
  ModelStatisticsPayload,
  RepositoryIndexEntry,
  ServerMetadata,
  SystemSharedMemoryRegion,
  TensorMetadata,
} from '../../src/core/types.js';
import { ServerError, invalidArg, notFound, unavailable, unsupported, type ErrorCode } from '../../src/errors/index.js';
import type { InferRequestInit } from '../../src/request/infer-request-init.js';
import { DEFAULT_TRACE_OPTIONS, TraceSettings, type TraceSettingUpdate, type TraceSettingView } from '../../src/observability/tracing/trace-manager.js';
import type { InferResponse, OutputTensor, StreamListener } from '../../src/request/infer-response.js';

/**
 * A deterministic InferenceCore for frontend tests. Every ready model echoes each input back as an
 * output named `OUTPUT<suffix>` for `INPUT<suffix>` (other names unchanged), same datatype, shape
 * and bytes. Request parameters steer it:
 * - `fail: "<CODE>:<message>"` throws ServerError(CODE, message); `fail: "plain:<message>"` throws a
 *   plain Error (a bug, as far as the frontend knows);
 * - `delay_ms: N` waits N ms (aborts with CANCELLED when the signal fires);
 * - `echo_parameters: true` returns the request parameters as response parameters.
 * It records what it was called with, for assertions.
 */

export interface EchoModelSpec {
  readonly name: string;
  readonly ready: boolean;
  readonly maxBatchSize: number;
  /** Dims without the batch dimension, as in config.pbtxt. */
  readonly inputs: readonly { readonly name: string; readonly datatype: Datatype; readonly dims: readonly number[] }[];
}

export const ECHO_MODELS: readonly EchoModelSpec[] = [
  { name: 'echo', ready: true, maxBatchSize: 8, inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [-1] }, { name: 'INPUT1', datatype: 'FP32', dims: [-1] }] },
  { name: 'not_ready', ready: false, maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [4] }] },
  { name: 'raw_fp32', ready: true, maxBatchSize: 8, inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [-1] }] },
  { name: 'raw_fixed', ready: true, maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'INT32', dims: [2, 2] }] },
  { name: 'raw_bytes', ready: true, maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'BYTES', dims: [1] }] },
  { name: 'raw_bytes_many', ready: true, maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'BYTES', dims: [-1] }] },
  { name: 'raw_two_var', ready: true, maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'FP16', dims: [-1, -1] }] },
];

export class EchoCore implements InferenceCore {
  live = true;
  ready = true;
  readonly inferCalls: InferRequestInit[] = [];
  readonly loadCalls: { name: string; parameters: Readonly<Record<string, unknown>> }[] = [];
  readonly unloadCalls: { name: string; unloadDependents: boolean }[] = [];
  /** Signals of the requests in flight, by request id. */
  readonly signals = new Map<string, AbortSignal>();
  /** Registered system shared-memory regions (bookkeeping only; nothing is mapped). */
  readonly systemRegions = new Map<string, SystemSharedMemoryRegion>();
  allowClientShm = true;
  logs: LogSettingsPayload = {
    log_file: '',
    log_info: true,
    log_warning: true,
    log_error: true,
    log_verbose_level: 0,
    log_format: 'default',
  };
  private readonly models: ReadonlyMap<string, EchoModelSpec>;

  constructor(models: readonly EchoModelSpec[] = ECHO_MODELS) {
    this.models = new Map(models.map((model) => [model.name, model]));
  }

  isLive(): boolean {
    return this.live;
  }

  isReady(): boolean {
    return this.ready;
  }

  serverMetadata(): ServerMetadata {
    return { name: 'triton', version: '2.73.0', extensions: ['binary_tensor_data', 'statistics'] };
  }

  isModelReady(name: string, version: string): boolean {
    const model = this.models.get(name);
    return model !== undefined && model.ready && (version === '' || version === '1');
  }

  modelMetadata(name: string, version: string): ModelMetadata {
    const model = this.model(name, version);
    const batch = model.maxBatchSize > 0 ? [-1] : [];
    const tensors = (prefix: string): TensorMetadata[] =>
      model.inputs.map((input) => ({
        name: input.name.replace(/^INPUT/, prefix),
        datatype: input.datatype,
        shape: [...batch, ...input.dims],
      }));
    return { name, versions: ['1'], platform: 'echo', inputs: tensors('INPUT'), outputs: tensors('OUTPUT') };
  }

  modelConfig(name: string, version: string): ModelConfig {
    const model = this.model(name, version);
    return create(ModelConfigSchema, {
      name,
      maxBatchSize: model.maxBatchSize,
      input: model.inputs.map((input) => ({ name: input.name, dims: input.dims.map((d) => BigInt(d)) })),
    });
  }

  modelConfigJson(name: string, version: string): Record<string, unknown> {
    const model = this.model(name, version);
    // int64 dims as bigints on purpose: the frontend must still print exact JSON numbers.
    return {
      name,
      max_batch_size: model.maxBatchSize,
      input: model.inputs.map((input) => ({ name: input.name, data_type: `TYPE_${input.datatype}`, dims: input.dims.map((d) => BigInt(d)) })),
    };
  }

  modelStatistics(name: string, version: string): ModelStatisticsPayload {
    const names = name === '' ? [...this.models.keys()] : [this.model(name, version).name];
    return { model_stats: names.map((model) => statistics(model)) };
  }

  async repositoryIndex(options: { readonly readyOnly: boolean }): Promise<RepositoryIndexEntry[]> {
    return [...this.models.values()]
      .filter((model) => !options.readyOnly || model.ready)
      .map((model) =>
        model.ready
          ? { name: model.name, version: '1', state: 'READY' }
          : { name: model.name, version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      );
  }

  async loadModel(name: string, parameters: Readonly<Record<string, unknown>>): Promise<void> {
    this.loadCalls.push({ name, parameters });
    if (name === 'bad') throw invalidArg("failed to load 'bad'");
  }

  async unloadModel(name: string, options: { readonly unloadDependents: boolean }): Promise<void> {
    this.unloadCalls.push({ name, unloadDependents: options.unloadDependents });
    if (!this.models.has(name)) throw notFound(`Request for unknown model: '${name}' is not found`);
  }

  systemSharedMemoryStatus(name: string): SystemSharedMemoryRegion[] {
    if (name === '') return [...this.systemRegions.values()];
    const region = this.systemRegions.get(name);
    if (region === undefined) throw notFound(`Unable to find system shared memory region: '${name}'`);
    return [region];
  }

  registerSystemSharedMemory(name: string, key: string, offset: number, byteSize: number): void {
    this.checkShmAllowed();
    if (this.systemRegions.has(name)) throw new ServerError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    this.systemRegions.set(name, { name, key, offset, byte_size: byteSize });
  }

  unregisterSystemSharedMemory(name: string): void {
    this.checkShmAllowed();
    if (name === '') this.systemRegions.clear();
    else this.systemRegions.delete(name);
  }

  cudaSharedMemoryStatus(name: string): CudaSharedMemoryRegion[] {
    if (name === '') return [];
    throw notFound(`Unable to find cuda shared memory region: '${name}'`);
  }

  registerCudaSharedMemory(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number): void {
    this.checkShmAllowed();
    throw unsupported(`cannot register CUDA region '${name}' (${rawHandle.byteLength} byte handle, device ${deviceId}, ${byteSize} bytes)`);
  }

  unregisterCudaSharedMemory(): void {
    this.checkShmAllowed();
  }

  logSettings(): LogSettingsPayload {
    return this.logs;
  }

  /** Triton's trace settings, real ones, with tracing off and no file (as a server started without --trace-config). */
  readonly traces = new TraceSettings(DEFAULT_TRACE_OPTIONS, () => {});

  traceSetting(model: string): TraceSettingView {
    return this.traces.view(model);
  }

  updateTraceSetting(model: string, update: TraceSettingUpdate): TraceSettingView {
    this.traces.update(model, update);
    return this.traces.view(model);
  }

  updateLogSettings(update: Readonly<Record<string, unknown>>): LogSettingsPayload {
    for (const [key, value] of Object.entries(update)) {
      if (key === 'log_file') throw unsupported('log file location can not be updated through network protocol');
      if (key === 'log_verbose_level' && typeof value !== 'number') throw invalidArg(`expected unsigned integer for '${key}'`);
      if ((key === 'log_info' || key === 'log_warning' || key === 'log_error') && typeof value !== 'boolean') {
        throw invalidArg(`expected boolean for '${key}'`);
      }
    }
    this.logs = { ...this.logs, ...update };
    return this.logs;
  }

  private checkShmAllowed(): void {
    if (!this.allowClientShm) {
      throw unsupported("Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.");
    }
  }

  /** One final response per request: the echo core has no decoupled models. */
  async inferStream(request: InferRequestInit, options: { readonly signal?: AbortSignal; readonly listen: StreamListener }): Promise<void> {
    const response = await this.infer(request, options.signal === undefined ? {} : { signal: options.signal });
    options.listen({ response, final: true });
  }

  isModelDecoupled(): boolean {
    return false;
  }

  async infer(request: InferRequestInit, options?: { readonly signal?: AbortSignal }): Promise<InferResponse> {
    this.inferCalls.push(request);
    const model = this.model(request.modelName, request.modelVersion);
    if (!model.ready) throw unavailable(`Request for unknown model: '${model.name}' has no available versions`);
    failOnDemand(request.parameters['fail']);
    const delay = request.parameters['delay_ms'];
    if (typeof delay === 'number') await this.wait(request.id, delay, options?.signal);
    return {
      modelName: model.name,
      modelVersion: '1',
      id: request.id,
      parameters: request.parameters['echo_parameters'] === true ? request.parameters : {},
      outputs: echoOutputs(request),
    };
  }

  private async wait(id: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal !== undefined) this.signals.set(id, signal);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new ServerError('CANCELLED', 'request cancelled'));
      });
    });
  }

  private model(name: string, version: string): EchoModelSpec {
    const model = this.models.get(name);
    if (model === undefined) throw notFound(`Request for unknown model: '${name}' is not found`);
    if (version !== '' && version !== '1') {
      throw notFound(`Request for unknown model: '${name}' version ${version} is not found`);
    }
    return model;
  }
}

function failOnDemand(value: unknown): void {
  if (typeof value !== 'string') return;
  const colon = value.indexOf(':');
  const code = value.slice(0, colon);
  const message = value.slice(colon + 1);
  if (code === 'plain') throw new Error(message);
  throw new ServerError(code as ErrorCode, message);
}

function echoOutputs(request: InferRequestInit): OutputTensor[] {
  const all = request.inputs.map((input): OutputTensor => {
    if (!isDatatype(input.datatype)) throw invalidArg(`invalid datatype '${input.datatype}' for input '${input.name}'`);
    return {
      name: input.name.replace(/^INPUT/, 'OUTPUT'),
      datatype: input.datatype,
      shape: input.shape,
      data: input.data,
      parameters: {},
    };
  });
  if (request.outputs === undefined) return all;
  return request.outputs.map((wanted) => {
    const output = all.find((candidate) => candidate.name === wanted.name);
    if (output === undefined) {
      throw invalidArg(`unexpected inference output '${wanted.name}' for model '${request.modelName}'`);
    }
    return { ...output, parameters: wanted.parameters };
  });
}

function statistics(name: string): ModelStatistics {
  const zero = { count: 0, ns: 0 };
  return {
    name,
    version: '1',
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: {
      success: zero,
      fail: zero,
      queue: zero,
      compute_input: zero,
      compute_infer: zero,
      compute_output: zero,
      cache_hit: zero,
      cache_miss: zero,
    },
    response_stats: {},
    batch_stats: [],
    memory_usage: [],
  };
}
