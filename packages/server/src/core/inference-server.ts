import { RateLimiter } from '../scheduler/rate-limiter.js';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendRegistry } from '../backends/backend-registry.js';
import { createResponseCache } from '../cache/cache-config.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { modelConfigToJson } from '../config/model-config-json.js';
import { ServerError, invalidArg, notFound, toServerError, unavailable, unsupported } from '../errors/index.js';
import { readLoadOverrides } from '../repository/load-overrides.js';
import { RepositoryPoller } from '../repository/repository-poller.js';
import type { ModelStatistics } from '../metrics/statistics-types.js';
import { metricsSettings } from '../metrics/metrics-settings.js';
import { METRICS_CONTENT_TYPE, ServerMetrics } from '../metrics/prometheus-metrics.js';
import type { Logger } from '../observability/logger.js';
import { RequestLog } from '../observability/request-log.js';
import type { TraceCarrier } from '../observability/tracing/otel-export.js';
import type { RequestTrace } from '../observability/tracing/request-trace.js';
import type { TraceSettingUpdate, TraceSettingView } from '../observability/tracing/trace-manager.js';
import { Tracer } from '../observability/tracing/tracer.js';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import type { InferResponse, StreamListener } from '../request/infer-response.js';
import type { TensorSpec } from '../request/model-signature.js';
import type { ModelVersion } from '../model/model-version.js';
import { RepositoryManager } from '../repository/repository-manager.js';
import { S3Repositories } from '../repository/s3-repositories.js';
import { SharedMemoryBinding, usesSharedMemory } from '../request/shared-memory-tensors.js';
import { SystemSharedMemoryManager } from '../shm/system-shared-memory.js';
import { applyLogSettings, logSettingsPayload } from './log-settings.js';
import { nowNs } from '../util/clock.js';
import { memberStepRunner } from './step-runner.js';
import { packageVersion } from '../util/package-version.js';
import type { ServerOptions } from './server-options.js';
import type {
  CudaSharedMemoryRegion,
  InferenceCore,
  InferOptions,
  LogSettingsPayload,
  MetricsPayload,
  MetricsSource,
  ModelMetadata,
  ModelStatisticsPayload,
  RepositoryIndexEntry,
  ServerMetadata,
  SystemSharedMemoryRegion,
  TensorMetadata,
} from './types.js';

const VERSION = packageVersion();

/** Protocol extensions this server implements, as `GET /v2` lists them (Triton's order). */
const EXTENSIONS: readonly string[] = Object.freeze([
  'classification',
  'sequence',
  'model_repository',
  'model_repository(unload_dependents)',
  'schedule_policy',
  'model_configuration',
  'system_shared_memory',
  'cuda_shared_memory',
  'binary_tensor_data',
  'parameters',
  'statistics',
  'trace',
  'logging',
]);

type ServerState = 'INITIALIZING' | 'READY' | 'EXITING' | 'STOPPED';

/**
 * The facade every frontend talks to (Triton's tritonserver.h role): readiness, metadata, model
 * configuration, statistics, the repository index, and inference.
 */
export class InferenceServer implements InferenceCore, MetricsSource {
  readonly #options: ServerOptions;
  readonly #repository: RepositoryManager;
  readonly #logger: Logger;
  readonly #s3: S3Repositories;
  readonly #systemShm = new SystemSharedMemoryManager();
  /** Present with `--allow-metrics`. */
  readonly #metrics: ServerMetrics | undefined;
  #state: ServerState = 'INITIALIZING';
  #poller: RepositoryPoller | undefined;
  readonly requestLog: RequestLog | undefined;
  readonly #tracer: Tracer;

  private constructor(
    options: ServerOptions,
    registry: BackendRegistry,
    logger: Logger,
    responseCache: ResponseCache | undefined,
    s3: S3Repositories,
  ) {
    this.#options = options;
    this.#logger = logger;
    this.#metrics = options.metrics.allow
      ? new ServerMetrics({
          settings: metricsSettings(options.metrics.config, logger),
          cpu: options.metrics.allowCpu,
          intervalMs: options.metrics.intervalMs,
          models: () => this.#repository.loaded('').map((model) => model.metricsSample()),
        })
      : undefined;
    this.requestLog =
      options.requestLog === '' ? undefined : new RequestLog({ destination: options.requestLog, payloadBytes: options.requestLogPayloadBytes });
    this.#s3 = s3;
    this.#tracer = new Tracer(options.trace, (message) => logger.error(message));
    this.#repository = new RepositoryManager({
      repositories: s3.localPaths,
      beforeScan: s3.remote ? s3.sync : undefined,
      registry,
      autoCompleteConfig: options.autoCompleteConfig,
      backendConfig: options.backendConfig,
      rateLimiter: new RateLimiter(options.rateLimit),
      logger,
      responseCache,
      modelConfigName: options.modelConfigName,
      loadThreadCount: options.modelLoadThreadCount,
      loadRetryCount: options.modelLoadRetryCount,
      memoryBudgetBytes: options.modelMemoryBudgetBytes,
      backendDirectory: options.backendDirectory,
      metrics: this.#metrics,
      // Ensemble steps are inference requests to their members' versions (scheduler, statistics).
      runStep: memberStepRunner({
        serving: () => this.isLive(),
        member: (name, version) => this.#repository.forInference(name, version),
        viaCore: (request, signal, trace) => this.infer(request, { signal, trace }),
      }),
      runRequest: (request, signal) => this.infer(request, { signal }),
      runStreamRequest: (request, { signal, listen }) => this.inferStream(request, signal === undefined ? { listen } : { signal, listen }),
    });
  }

  /**
   * Loads every model of the repositories. With `exitOnError` a failed model load fails start-up
   * (after unloading what did load); otherwise the model is UNAVAILABLE and the server serves the rest.
   */
  static async create(options: ServerOptions, registry: BackendRegistry, logger: Logger): Promise<InferenceServer> {
    if (options.modelRepositories.length === 0) throw invalidArg('at least one --model-repository is required');
    if (options.modelMemoryBudgetBytes > 0 && options.modelControlMode === 'none') {
      throw invalidArg("'--model-memory-budget' requires '--model-control-mode=explicit' or 'poll'");
    }
    const wildcard = options.startupModels.includes('*');
    if (wildcard && options.startupModels.length > 1) {
      throw invalidArg("Wildcard model name '*' must be the ONLY startup model if specified at all.");
    }
    const responseCache = createResponseCache(options.cacheConfig);
    if (responseCache) logger.info(`Response Cache is created with size ${responseCache.capacityBytes}`);
    const s3 = await S3Repositories.open(options.modelRepositories, logger);
    const server = new InferenceServer(options, registry, logger, responseCache, s3);
    const failures = await server.#loadAtStart();
    if (failures.length > 0 && options.exitOnError) {
      await server.stop();
      throw invalidArg(`failed to load all models:\n  ${failures.join('\n  ')}`);
    }
    server.#state = 'READY';
    if (options.modelControlMode === 'poll') server.#poller = new RepositoryPoller(server.#repository, options.repositoryPollSecs, logger);
    return server;
  }

  /** none and poll: every model of the repositories; explicit: the `--load-model` ones ('*': all). */
  async #loadAtStart(): Promise<string[]> {
    const { modelControlMode, startupModels } = this.#options;
    if (modelControlMode !== 'explicit' || startupModels.includes('*')) return this.#repository.loadAll();
    const results = await Promise.all(
      startupModels.map((name) => this.#repository.loadModel(name).then(() => '', (error: unknown) => toServerError(error).message)),
    );
    return results.filter((message) => message !== '');
  }

  isLive(): boolean {
    return this.#state === 'READY' || this.#state === 'EXITING';
  }

  isReady(): boolean {
    if (this.#state !== 'READY') return false;
    return !this.#options.strictReadiness || this.#repository.allReady();
  }

  serverMetadata(): ServerMetadata {
    return { name: this.#options.id, version: VERSION, extensions: EXTENSIONS };
  }

  isModelReady(name: string, version: string): boolean {
    return this.#state === 'READY' && this.#repository.isReady(name, version);
  }

  modelMetadata(name: string, version: string): ModelMetadata {
    const model = this.#repository.get(name, version);
    const describe = (spec: TensorSpec): TensorMetadata => ({
      name: spec.name,
      datatype: spec.datatype,
      shape: spec.clientShape,
    });
    return {
      name,
      versions: this.#repository.readyVersions(name),
      // Triton: the platform, or the backend when the config has none (python).
      platform: model.config.platform === '' ? model.config.backend : model.config.platform,
      inputs: [...model.signature.inputs.values()].map(describe),
      outputs: [...model.signature.outputs.values()].map(describe),
    };
  }

  modelConfig(name: string, version: string): ModelConfig {
    return this.#repository.get(name, version).config;
  }

  modelConfigJson(name: string, version: string): Record<string, unknown> {
    return modelConfigToJson(this.modelConfig(name, version));
  }

  modelStatistics(name: string, version: string): ModelStatisticsPayload {
    let models;
    if (name === '') models = this.#repository.loaded('');
    else if (version === '') {
      this.#repository.get(name, '');
      models = this.#repository.loaded(name);
    } else models = [this.#repository.get(name, version)];
    const stats: ModelStatistics[] = models.map((model) => {
      const budget = this.#repository.budgetStatistics(model.name);
      return budget === undefined ? model.statistics() : { ...model.statistics(), model_memory_budget: budget };
    });
    return { model_stats: stats };
  }

  /** The Prometheus text of the metrics endpoint; UNAVAILABLE when the server runs without metrics. */
  async metricsText(): Promise<MetricsPayload> {
    if (this.#metrics === undefined) throw unavailable('metrics are disabled (--allow-metrics=false)');
    return { contentType: METRICS_CONTENT_TYPE, text: await this.#metrics.text() };
  }

  repositoryIndex(options: { readonly readyOnly: boolean }): Promise<RepositoryIndexEntry[]> {
    return this.#repository.index(options.readyOnly);
  }

  /** The load API: explicit mode only (Triton refuses it in none and poll modes alike). */
  async loadModel(name: string, parameters: Readonly<Record<string, unknown>>): Promise<void> {
    this.#checkModelControl();
    await this.#repository.loadModel(name, readLoadOverrides(name, parameters));
  }

  async unloadModel(name: string, options: { readonly unloadDependents: boolean } = { unloadDependents: false }): Promise<void> {
    this.#checkModelControl();
    await this.#repository.unloadModel(name, options);
  }

  #checkModelControl(): void {
    if (this.#options.modelControlMode !== 'explicit') {
      throw unavailable('explicit model load / unload is not allowed if polling is enabled');
    }
  }

  systemSharedMemoryStatus(name: string): SystemSharedMemoryRegion[] {
    return this.#systemShm.status(name);
  }

  registerSystemSharedMemory(name: string, key: string, offset: number, byteSize: number): void {
    this.#checkClientShmAllowed();
    this.#systemShm.register(name, key, offset, byteSize);
  }

  unregisterSystemSharedMemory(name: string): void {
    this.#checkClientShmAllowed();
    if (name === '') this.#systemShm.unregisterAll();
    else this.#systemShm.unregister(name);
  }

  cudaSharedMemoryStatus(name: string): CudaSharedMemoryRegion[] {
    if (name === '') return [];
    if (this.#systemShm.has(name)) {
      throw notFound(`The region named '${name}' is registered as system shared memory, not CUDA shared memory`);
    }
    throw notFound(`Unable to find cuda shared memory region: '${name}'`);
  }

  registerCudaSharedMemory(name: string): void {
    this.#checkClientShmAllowed();
    throw unsupported(
      `failed to register CUDA shared memory region '${name}': CUDA shared memory is not supported by this CPU-only server`,
    );
  }

  unregisterCudaSharedMemory(): void {
    this.#checkClientShmAllowed();
  }

  #checkClientShmAllowed(): void {
    if (!this.#options.allowClientShm) {
      throw unsupported("Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.");
    }
  }

  logSettings(): LogSettingsPayload {
    return logSettingsPayload(this.#logger.settings, this.#logger.file);
  }

  updateLogSettings(update: Readonly<Record<string, unknown>>): LogSettingsPayload {
    applyLogSettings(this.#logger.settings, update);
    return this.logSettings();
  }

  traceSetting(model: string): TraceSettingView {
    return this.#tracer.view(model);
  }

  updateTraceSetting(model: string, update: TraceSettingUpdate): TraceSettingView {
    return this.#tracer.update(model, update);
  }

  startTrace(model: string, carrier: TraceCarrier): RequestTrace | undefined {
    return this.#tracer.start(model, carrier);
  }

  infer(request: InferRequestInit, options?: InferOptions): Promise<InferResponse> {
    const startNs = nowNs();
    if (this.#state !== 'READY' && this.#state !== 'EXITING') {
      return Promise.reject(unavailable('Server not ready'));
    }
    let model;
    try {
      model = this.#repository.forInference(request.modelName, request.modelVersion);
    } catch (error) {
      if (this.#repository.loadsOnDemand && error instanceof ServerError && error.code === 'NOT_FOUND') {
        return this.#inferOnDemand(request, options, startNs, error);
      }
      return Promise.reject(error);
    }
    return this.#inferOn(model, request, options, startNs);
  }

  /**
   * With `--model-memory-budget`: the request waits (up to `--model-load-on-demand-timeout-secs`)
   * while the model it names loads, then runs. A model in no repository keeps its not-found error.
   */
  async #inferOnDemand(request: InferRequestInit, options: InferOptions | undefined, startNs: number, notLoaded: ServerError): Promise<InferResponse> {
    if (!(await this.#repository.loadOnDemand(request.modelName, this.#options.modelLoadOnDemandTimeoutSecs))) throw notLoaded;
    return this.#inferOn(this.#repository.forInference(request.modelName, request.modelVersion), request, options, startNs);
  }

  #inferOn(model: ModelVersion, request: InferRequestInit, options: InferOptions | undefined, startNs: number): Promise<InferResponse> {
    if (!usesSharedMemory(request)) return model.infer(request, options?.signal, startNs, options?.trace);
    return this.#inferWithSharedMemory(model, request, options, startNs);
  }

  inferStream(request: InferRequestInit, options: { readonly signal?: CancelSignal; readonly listen: StreamListener }): Promise<void> {
    const startNs = nowNs();
    if (this.#state !== 'READY' && this.#state !== 'EXITING') return Promise.reject(unavailable('Server not ready'));
    let model: ModelVersion;
    try {
      model = this.#repository.forInference(request.modelName, request.modelVersion);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!model.decoupled) {
      // Shared memory and the rest of the one-response path.
      return this.infer(request, options.signal === undefined ? {} : { signal: options.signal }).then((response) =>
        options.listen({ response, final: true }),
      );
    }
    if (usesSharedMemory(request)) return Promise.reject(unsupported('shared memory is not supported for models with the decoupled transaction policy'));
    return model.inferStream(request, options.signal, startNs, options.listen);
  }

  isModelDecoupled(name: string, version: string): boolean {
    try {
      return this.#repository.get(name, version).decoupled;
    } catch {
      return false;
    }
  }

  async #inferWithSharedMemory(
    model: ModelVersion,
    request: InferRequestInit,
    options: InferOptions | undefined,
    startNs: number,
  ): Promise<InferResponse> {
    const binding = new SharedMemoryBinding(this.#systemShm);
    try {
      const response = await model.infer(binding.resolveInputs(request), options?.signal, startNs, options?.trace);
      return { ...response, outputs: binding.writeOutputs(response.outputs) };
    } finally {
      binding.release();
    }
  }

  /**
   * Starts the exit: from now on the server is live but not ready (health probes steer traffic
   * away), while requests already admitted by the frontends may still run. Triton's SERVER_EXITING.
   */
  beginExit(): void {
    if (this.#state === 'READY') this.#state = 'EXITING';
  }

  /** Stops serving: unloads every model (the frontends have let in-flight requests finish first). */
  async stop(): Promise<void> {
    if (this.#state === 'STOPPED') return;
    this.#state = 'EXITING';
    this.#poller?.stop();
    this.#logger.info('unloading models');
    await this.#repository.unloadAll();
    this.#metrics?.close();
    await this.#s3.close();
    this.#systemShm.unregisterAll();
    await this.requestLog?.close();
    await this.#tracer.close();
    this.#state = 'STOPPED';
  }
}
