import { create, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import {
  Client,
  Metadata,
  credentials as grpcCredentials,
  type ChannelCredentials,
  type ChannelOptions,
  type MethodDefinition,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import {
  GRPCInferenceService,
  InferParameterSchema,
  type ModelConfigResponse,
  type ModelStatisticsResponse,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus, type HealthCheckResponse } from '@nereid/protocol/generated/health_pb';
import { grpcServiceDefinition } from './grpc-definition.js';
import { grpcError } from './errors.js';
import { inferRequestMessage, inferResult } from './grpc-infer-messages.js';
import { InferStream } from './grpc-stream.js';
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

type Methods = (typeof GRPCInferenceService)['method'];
type UnaryName = { [K in keyof Methods]: Methods[K]['methodKind'] extends 'unary' ? K : never }[keyof Methods];
type RequestOf<K extends keyof Methods> = MessageInitShape<Methods[K]['input']>;
type ResponseOf<K extends keyof Methods> = MessageShape<Methods[K]['output']>;

/** Big enough for the largest tensors Triton accepts. */
const MAX_MESSAGE = 2 ** 31 - 1;

export interface GrpcClientOptions {
  /** TLS for servers started with --grpc-use-ssl (plain HTTP/2 by default). */
  readonly credentials?: ChannelCredentials;
  readonly channelOptions?: ChannelOptions;
  /** Metadata sent with every call. */
  readonly headers?: Record<string, string>;
}

/**
 * A client of Triton's GRPCInferenceService (inference.GRPCInferenceService): `new GrpcClient('127.0.0.1:8001')`.
 * The same calls as HttpClient, plus ModelStreamInfer. Failures reject with InferenceServerError
 * carrying the gRPC status code and Triton's message; an aborted call rejects with the signal's reason.
 * Model configuration and statistics come back as the generated protobuf messages.
 */
export class GrpcClient implements InferenceClient {
  readonly #client: Client;
  readonly #definitions: ServiceDefinition;
  readonly #health: ServiceDefinition;
  readonly #headers: Record<string, string>;

  constructor(address: string, options: GrpcClientOptions = {}) {
    this.#client = new Client(address, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE,
      'grpc.max_send_message_length': MAX_MESSAGE,
      ...options.channelOptions,
    });
    this.#definitions = grpcServiceDefinition(GRPCInferenceService);
    this.#health = grpcServiceDefinition(Health);
    this.#headers = { ...options.headers };
  }

  close(): void {
    this.#client.close();
  }

  // ---- health and metadata ----

  /** grpc.health.v1.Health/Check: 'SERVING', 'NOT_SERVING', ... for `service` ('' = the whole server). */
  async healthCheck(service = '', options: CallOptions = {}): Promise<keyof typeof HealthCheckResponse_ServingStatus> {
    const definition = this.#health['Check']!;
    const response = await this.#unary<HealthCheckResponse>(definition, create(HealthCheckRequestSchema, { service }), options);
    return HealthCheckResponse_ServingStatus[response.status] as keyof typeof HealthCheckResponse_ServingStatus;
  }

  async isServerLive(options: CallOptions = {}): Promise<boolean> {
    return (await this.call('serverLive', {}, options)).live;
  }

  async isServerReady(options: CallOptions = {}): Promise<boolean> {
    return (await this.call('serverReady', {}, options)).ready;
  }

  async isModelReady(model: string, version = '', options: CallOptions = {}): Promise<boolean> {
    return (await this.call('modelReady', { name: model, version }, options)).ready;
  }

  async serverMetadata(options: CallOptions = {}): Promise<ServerMetadata> {
    const { name, version, extensions } = await this.call('serverMetadata', {}, options);
    return { name, version, extensions };
  }

  async modelMetadata(model: string, version = '', options: CallOptions = {}): Promise<ModelMetadata> {
    const response = await this.call('modelMetadata', { name: model, version }, options);
    const tensor = (t: { name: string; datatype: string; shape: bigint[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) });
    return { name: response.name, versions: response.versions, platform: response.platform, inputs: response.inputs.map(tensor), outputs: response.outputs.map(tensor) };
  }

  async modelConfig(model: string, version = '', options: CallOptions = {}): Promise<ModelConfigResponse['config']> {
    return (await this.call('modelConfig', { name: model, version }, options)).config;
  }

  modelStatistics(model = '', version = '', options: CallOptions = {}): Promise<ModelStatisticsResponse> {
    return this.call('modelStatistics', { name: model, version }, options);
  }

  // ---- inference ----

  async infer(model: string, request: InferRequest): Promise<InferResult> {
    const response = await this.call('modelInfer', inferRequestMessage(model, request), { ...optional(request.signal, request.headers) });
    return inferResult(response);
  }

  /**
   * One request on ModelStreamInfer: its responses as an async iterator (many for a decoupled model),
   * ending with the response flagged final (`triton_final_response`); an error response rejects.
   * Breaking out of the loop, or aborting the signal, cancels the stream.
   */
  async *streamInfer(model: string, request: InferRequest): AsyncGenerator<InferResult> {
    const message = inferRequestMessage(model, request);
    // The final flag then always comes, alone when the last response was already sent.
    message.parameters['triton_enable_empty_final_response'] = create(InferParameterSchema, { parameterChoice: { case: 'boolParam', value: true } });
    const stream = this.stream(optional(request.signal, request.headers));
    stream.send(message);
    try {
      for await (const item of stream) {
        if (item.error !== undefined) throw item.error;
        if (!item.final || Object.keys(item.result.outputs).length > 0) yield item.result;
        if (item.final) return;
      }
    } finally {
      stream.cancel();
    }
  }

  /**
   * Opens a ModelStreamInfer stream: `send` requests (to any model), iterate the responses as they come
   * (`final` is the response's triton_final_response), `end` when there is nothing more to send.
   */
  stream(options: CallOptions = {}): InferStream {
    const definition = this.#definitions['ModelStreamInfer']!;
    const call = this.#client.makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize as (bytes: Buffer) => ModelStreamInferResponse,
      this.#metadata(options.headers),
    );
    return new InferStream(call, options.signal);
  }

  // ---- model repository ----

  async repositoryIndex(options: CallOptions & { readonly ready?: boolean } = {}): Promise<RepositoryModel[]> {
    const response = await this.call('repositoryIndex', { ready: options.ready ?? false }, options);
    // As the HTTP index has them: empty fields left out.
    return response.models.map(({ name, version, state, reason }) => ({
      name,
      ...(version === '' ? {} : { version }),
      ...(state === '' ? {} : { state }),
      ...(reason === '' ? {} : { reason }),
    }));
  }

  async loadModel(model: string, options: LoadOptions = {}): Promise<void> {
    type Choice = { case: 'stringParam'; value: string } | { case: 'bytesParam'; value: Uint8Array } | { case: 'boolParam'; value: boolean } | { case: 'int64Param'; value: bigint };
    const parameters: Record<string, { parameterChoice: Choice }> = {};
    for (const [key, value] of Object.entries(options.parameters ?? {})) {
      parameters[key] = {
        parameterChoice:
          typeof value === 'string' ? { case: 'stringParam', value } : typeof value === 'boolean' ? { case: 'boolParam', value } : { case: 'int64Param', value: BigInt(value) },
      };
    }
    if (options.config !== undefined) {
      parameters['config'] = { parameterChoice: { case: 'stringParam', value: typeof options.config === 'string' ? options.config : JSON.stringify(options.config) } };
    }
    for (const [path, content] of Object.entries(options.files ?? {})) {
      parameters[`file:${path}`] = { parameterChoice: { case: 'bytesParam', value: content } };
    }
    await this.call('repositoryModelLoad', { modelName: model, parameters }, options);
  }

  async unloadModel(model: string, options: UnloadOptions = {}): Promise<void> {
    const parameters = options.unloadDependents === undefined ? {} : { unload_dependents: { parameterChoice: { case: 'boolParam' as const, value: options.unloadDependents } } };
    await this.call('repositoryModelUnload', { modelName: model, parameters }, options);
  }

  // ---- system shared memory ----

  async registerSystemSharedMemory(name: string, key: string, byteSize: number, offset = 0, options: CallOptions = {}): Promise<void> {
    await this.call('systemSharedMemoryRegister', { name, key, offset: BigInt(offset), byteSize: BigInt(byteSize) }, options);
  }

  async unregisterSystemSharedMemory(name = '', options: CallOptions = {}): Promise<void> {
    await this.call('systemSharedMemoryUnregister', { name }, options);
  }

  async systemSharedMemoryStatus(name = '', options: CallOptions = {}): Promise<SystemSharedMemoryRegion[]> {
    const response = await this.call('systemSharedMemoryStatus', { name }, options);
    return Object.values(response.regions).map((region) => ({ name: region.name, key: region.key, offset: Number(region.offset), byteSize: Number(region.byteSize) }));
  }

  // ---- CUDA shared memory (a CPU-only Nereid lists none and refuses registrations) ----

  async registerCudaSharedMemory(name: string, rawHandle: Uint8Array, deviceId: number, byteSize: number, options: CallOptions = {}): Promise<void> {
    await this.call('cudaSharedMemoryRegister', { name, rawHandle, deviceId: BigInt(deviceId), byteSize: BigInt(byteSize) }, options);
  }

  async unregisterCudaSharedMemory(name = '', options: CallOptions = {}): Promise<void> {
    await this.call('cudaSharedMemoryUnregister', { name }, options);
  }

  async cudaSharedMemoryStatus(name = '', options: CallOptions = {}): Promise<CudaSharedMemoryRegion[]> {
    const response = await this.call('cudaSharedMemoryStatus', { name }, options);
    return Object.values(response.regions).map((region) => ({ name: region.name, deviceId: Number(region.deviceId), byteSize: Number(region.byteSize) }));
  }

  // ---- logging and trace settings ----

  async logSettings(update?: LogSettings, options: CallOptions = {}): Promise<LogSettings> {
    type Choice = { case: 'boolParam'; value: boolean } | { case: 'uint32Param'; value: number } | { case: 'stringParam'; value: string };
    const settings: Record<string, { parameterChoice: Choice }> = {};
    for (const [key, value] of Object.entries(update ?? {})) {
      settings[key] = {
        parameterChoice: typeof value === 'boolean' ? { case: 'boolParam', value } : typeof value === 'number' ? { case: 'uint32Param', value } : { case: 'stringParam', value },
      };
    }
    const response = await this.call('logSettings', { settings }, options);
    const out: LogSettings = {};
    for (const [key, value] of Object.entries(response.settings)) {
      if (value.parameterChoice.case !== undefined) out[key] = value.parameterChoice.value;
    }
    return out;
  }

  async traceSettings(update?: TraceSettingsUpdate, model = '', options: CallOptions = {}): Promise<TraceSettings> {
    const settings: Record<string, { value: string[] }> = {};
    for (const [key, value] of Object.entries(update ?? {})) {
      settings[key] = { value: value === null ? [] : typeof value === 'string' ? [value] : [...value] };
    }
    const response = await this.call('traceSetting', { settings, modelName: model }, options);
    const out: TraceSettings = {};
    for (const [key, value] of Object.entries(response.settings)) {
      out[key] = value.value.length === 1 && key !== 'trace_level' ? value.value[0]! : value.value;
    }
    return out;
  }

  /** Any unary RPC of GRPCInferenceService by its protobuf-es name, e.g. `call('modelReady', { name: 'simple' })`. */
  call<K extends UnaryName>(method: K, request: RequestOf<K>, options: CallOptions = {}): Promise<ResponseOf<K>> {
    const desc = GRPCInferenceService.method[method] as DescMethod;
    const definition = this.#definitions[desc.name]!;
    return this.#unary(definition, create(desc.input, request as MessageInitShape<DescMethod['input']>), options);
  }

  #unary<T>(definition: MethodDefinition<unknown, unknown>, message: unknown, options: CallOptions): Promise<T> {
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => call.cancel();
      const call = this.#client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        message,
        this.#metadata(options.headers),
        (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) reject(signal.reason);
          else if (error) reject(grpcError(error));
          else resolve(response as T);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #metadata(headers: Record<string, string> | undefined): Metadata {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries({ ...this.#headers, ...headers })) metadata.set(key, value);
    return metadata;
  }
}

function optional(signal: AbortSignal | undefined, headers: Record<string, string> | undefined): CallOptions {
  return { ...(signal === undefined ? {} : { signal }), ...(headers === undefined ? {} : { headers }) };
}
