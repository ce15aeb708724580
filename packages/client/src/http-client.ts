import { AsyncQueue } from './async-queue.js';
import { InferenceServerError, httpError } from './errors.js';
import { decodeInferResponse, encodeInferRequest } from './http-infer-codec.js';
import { parseSse } from './sse.js';
import type { InferRequest, InferResult } from './tensor.js';
import type {
  CallOptions,
  CudaSharedMemoryRegion,
  InferenceClient,
  LoadOptions,
  LogSettings,
  ModelMetadata,
  RepositoryModel,
  ServerMetadata,
  SystemSharedMemoryRegion,
  TraceSettings,
  TraceSettingsUpdate,
  UnloadOptions,
} from './types.js';

/** The statistics extension's JSON (`model_stats`: one entry per model version). */
export interface ModelStatisticsJson {
  readonly model_stats: Array<{
    readonly name: string;
    readonly version: string;
    readonly last_inference: number;
    readonly inference_count: number;
    readonly execution_count: number;
    readonly inference_stats: Record<string, { readonly count: number; readonly ns: number }>;
    readonly batch_stats: unknown[];
    readonly [key: string]: unknown;
  }>;
}

/** A model configuration in Triton's JSON form. */
export type ModelConfigJson = Record<string, unknown> & { readonly name: string };

/** One generate / generate_stream body (Triton's generate extension): input names and parameters as JSON. */
export type GenerateRequest = Record<string, unknown>;
export type GenerateResponse = Record<string, unknown>;

/**
 * A client of the KServe v2 HTTP/REST API with Triton's extensions, over the built-in fetch:
 * `new HttpClient('http://127.0.0.1:8000')`. Every call takes an AbortSignal; failures reject with
 * InferenceServerError carrying the HTTP status and Triton's message.
 */
export class HttpClient implements InferenceClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;

  /** `url`: the server's HTTP endpoint; `headers`: sent with every request. */
  constructor(url: string, options: { readonly headers?: Record<string, string> } = {}) {
    this.#base = url.replace(/\/+$/, '');
    this.#headers = { ...options.headers };
  }

  /** Nothing to release: connections belong to fetch's global pool. */
  close(): void {}

  // ---- health and metadata ----

  isServerLive(options: CallOptions = {}): Promise<boolean> {
    return this.#ok('/v2/health/live', options);
  }

  isServerReady(options: CallOptions = {}): Promise<boolean> {
    return this.#ok('/v2/health/ready', options);
  }

  isModelReady(model: string, version = '', options: CallOptions = {}): Promise<boolean> {
    return this.#ok(`${modelPath(model, version)}/ready`, options);
  }

  serverMetadata(options: CallOptions = {}): Promise<ServerMetadata> {
    return this.#json('GET', '/v2', options);
  }

  modelMetadata(model: string, version = '', options: CallOptions = {}): Promise<ModelMetadata> {
    return this.#json('GET', modelPath(model, version), options);
  }

  modelConfig(model: string, version = '', options: CallOptions = {}): Promise<ModelConfigJson> {
    return this.#json('GET', `${modelPath(model, version)}/config`, options);
  }

  /** Statistics of one model (and version), or of every model when `model` is omitted. */
  modelStatistics(model = '', version = '', options: CallOptions = {}): Promise<ModelStatisticsJson> {
    return this.#json('GET', model === '' ? '/v2/models/stats' : `${modelPath(model, version)}/stats`, options);
  }

  // ---- inference ----

  /** Runs one inference; outputs come back by name as typed arrays with their shapes. */
  async infer(model: string, request: InferRequest): Promise<InferResult> {
    const { body, headerLength } = encodeInferRequest(request);
    const headers: Record<string, string> = { ...request.headers };
    if (headerLength !== undefined) {
      headers['Inference-Header-Content-Length'] = String(headerLength);
      headers['Content-Type'] = 'application/octet-stream';
    } else {
      headers['Content-Type'] = 'application/json';
    }
    const response = await this.#request('POST', `${modelPath(model, request.modelVersion ?? '')}/infer`, { ...optionalSignal(request.signal), headers }, body);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!response.ok) throw httpError(response.status, bytes);
    const length = response.headers.get('inference-header-content-length');
    return decodeInferResponse(bytes, length === null ? bytes.byteLength : Number(length));
  }

  /** The generate extension: one JSON response (a decoupled model's responses are merged by the server). */
  generate(model: string, request: GenerateRequest, options: CallOptions & { readonly version?: string } = {}): Promise<GenerateResponse> {
    return this.#json('POST', `${modelPath(model, options.version ?? '')}/generate`, options, JSON.stringify(request));
  }

  /**
   * The generate extension's server-sent events as an async iterator of JSON responses; an error
   * event rejects the iteration with InferenceServerError. Stopping the iteration early aborts the request.
   */
  generateStream(model: string, request: GenerateRequest, options: CallOptions & { readonly version?: string } = {}): AsyncIterableIterator<GenerateResponse> {
    const controller = new AbortController();
    const queue = new AsyncQueue<GenerateResponse>(() => controller.abort());
    const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
    void (async () => {
      try {
        const response = await this.#request('POST', `${modelPath(model, options.version ?? '')}/generate_stream`, { ...options, signal }, JSON.stringify(request));
        if (!response.ok) throw httpError(response.status, new Uint8Array(await response.arrayBuffer()));
        for await (const data of parseSse(response.body!)) {
          const event = JSON.parse(data) as GenerateResponse;
          if (typeof event['error'] === 'string' && Object.keys(event).length === 1) {
            throw new InferenceServerError(event['error'], 'http', response.status);
          }
          queue.push(event);
        }
        queue.end();
      } catch (error) {
        queue.fail(options.signal?.aborted ? options.signal.reason : error);
      }
    })();
    return queue;
  }

  // ---- model repository ----

  async repositoryIndex(options: CallOptions & { readonly ready?: boolean } = {}): Promise<RepositoryModel[]> {
    const body = options.ready === undefined ? '{}' : JSON.stringify({ ready: options.ready });
    return this.#json('POST', '/v2/repository/index', options, body);
  }

  /** Loads (or reloads) a model, optionally with a config override and `file:` overrides. */
  async loadModel(model: string, options: LoadOptions = {}): Promise<void> {
    const parameters: Record<string, unknown> = { ...options.parameters };
    if (options.config !== undefined) parameters['config'] = typeof options.config === 'string' ? options.config : JSON.stringify(options.config);
    for (const [path, content] of Object.entries(options.files ?? {})) {
      parameters[`file:${path}`] = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64');
    }
    const body = Object.keys(parameters).length === 0 ? '{}' : JSON.stringify({ parameters });
    await this.#json('POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, options, body);
  }

  async unloadModel(model: string, options: UnloadOptions = {}): Promise<void> {
    const body = options.unloadDependents === undefined ? '{}' : JSON.stringify({ parameters: { unload_dependents: options.unloadDependents } });
    await this.#json('POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`, options, body);
  }

  // ---- system shared memory ----

  /** Registers `byteSize` bytes at `offset` of the POSIX shared-memory object `key` (e.g. '/my_region') as `name`. */
  async registerSystemSharedMemory(name: string, key: string, byteSize: number, offset = 0, options: CallOptions = {}): Promise<void> {
    await this.#json('POST', `/v2/systemsharedmemory/region/${encodeURIComponent(name)}/register`, options, JSON.stringify({ key, offset, byte_size: byteSize }));
  }

  /** Unregisters one region, or every region when `name` is omitted. */
  async unregisterSystemSharedMemory(name = '', options: CallOptions = {}): Promise<void> {
    await this.#json('POST', `/v2/systemsharedmemory${regionPath(name)}/unregister`, options, '');
  }

  async systemSharedMemoryStatus(name = '', options: CallOptions = {}): Promise<SystemSharedMemoryRegion[]> {
    const regions = await this.#json<Array<{ name: string; key: string; offset: number; byte_size: number }>>('GET', `/v2/systemsharedmemory${regionPath(name)}/status`, options);
    return regions.map((region) => ({ name: region.name, key: region.key, offset: region.offset, byteSize: region.byte_size }));
  }

  // ---- CUDA shared memory (a CPU-only Nereid lists none and refuses registrations) ----

  /** Registers a CUDA IPC memory handle (cudaIpcMemHandle_t, 64 bytes) of device `deviceId` as `name`. */
  async registerCudaSharedMemory(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number, options: CallOptions = {}): Promise<void> {
    const b64 = Buffer.from(rawHandle.buffer, rawHandle.byteOffset, rawHandle.byteLength).toString('base64');
    await this.#json('POST', `/v2/cudasharedmemory/region/${encodeURIComponent(name)}/register`, options, JSON.stringify({ raw_handle: { b64 }, device_id: deviceId, byte_size: byteSize }));
  }

  async unregisterCudaSharedMemory(name = '', options: CallOptions = {}): Promise<void> {
    await this.#json('POST', `/v2/cudasharedmemory${regionPath(name)}/unregister`, options, '');
  }

  async cudaSharedMemoryStatus(name = '', options: CallOptions = {}): Promise<CudaSharedMemoryRegion[]> {
    const regions = await this.#json<Array<{ name: string; device_id: number; byte_size: number }>>('GET', `/v2/cudasharedmemory${regionPath(name)}/status`, options);
    return regions.map((region) => ({ name: region.name, deviceId: region.device_id, byteSize: region.byte_size }));
  }

  // ---- logging and trace settings ----

  /** The logging settings; with `update`, changes them first and returns the result. */
  logSettings(update?: LogSettings, options: CallOptions = {}): Promise<LogSettings> {
    return update === undefined ? this.#json('GET', '/v2/logging', options) : this.#json('POST', '/v2/logging', options, JSON.stringify(update));
  }

  /** The global (or one model's) trace settings; with `update`, changes them first. */
  traceSettings(update?: TraceSettingsUpdate, model = '', options: CallOptions = {}): Promise<TraceSettings> {
    const path = model === '' ? '/v2/trace/setting' : `/v2/models/${encodeURIComponent(model)}/trace/setting`;
    return update === undefined ? this.#json('GET', path, options) : this.#json('POST', path, options, JSON.stringify(update));
  }

  // ---- plumbing ----

  async #request(method: string, path: string, options: CallOptions, body?: string | Uint8Array): Promise<Response> {
    const init: RequestInit = { method, headers: { ...this.#headers, ...options.headers } };
    if (body !== undefined) init.body = body;
    if (options.signal !== undefined) init.signal = options.signal;
    return fetch(this.#base + path, init);
  }

  /** A health probe: 200 is true, any other status false. The body is read so the connection is reused. */
  async #ok(path: string, options: CallOptions): Promise<boolean> {
    const response = await this.#request('GET', path, options);
    await response.arrayBuffer();
    return response.ok;
  }

  async #json<T>(method: string, path: string, options: CallOptions, body?: string): Promise<T> {
    const headers = body === undefined ? options.headers : { 'Content-Type': 'application/json', ...options.headers };
    const response = await this.#request(method, path, { ...optionalSignal(options.signal), ...(headers === undefined ? {} : { headers }) }, body);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!response.ok) throw httpError(response.status, bytes);
    return (bytes.byteLength === 0 ? undefined : JSON.parse(new TextDecoder().decode(bytes))) as T;
  }
}

function optionalSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

function modelPath(model: string, version: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version === '' ? '' : `/versions/${encodeURIComponent(version)}`}`;
}

function regionPath(name: string): string {
  return name === '' ? '' : `/region/${encodeURIComponent(name)}`;
}
