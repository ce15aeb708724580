import type { ModelConfig, ModelInstanceGroup } from '@nereid/protocol/generated/model_config_pb';
import type { Backend, BackendModel } from '../backends/backend.js';
import { ModelResponseCache } from '../cache/model-response-cache.js';
import { invalidArg } from '../errors/index.js';
import type { ModelMetricsSample } from '../metrics/prometheus-metrics.js';
import { ModelStatisticsRecorder } from '../metrics/statistics.js';
import type { ModelStatistics } from '../metrics/statistics-types.js';
import type { Logger } from '../observability/logger.js';
import type { InferenceTrace } from '../observability/tracing/request-trace.js';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { InferResponse, StreamListener } from '../request/infer-response.js';
import type { InferenceRequest } from '../request/inference-request.js';
import type { ModelSignature } from '../request/model-signature.js';
import { createScheduler } from '../scheduler/create-scheduler.js';
import type { StepRunner } from '../scheduler/ensemble/ensemble-scheduler.js';
import type { ExecutionTarget, Scheduler } from '../scheduler/scheduler.js';
import type { StateSpec } from '../scheduler/sequence/implicit-state.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { nowNs } from '../util/clock.js';
import { InferPath } from './infer-path.js';
import { createInstances, limitInstances, type ModelInstance } from './instances.js';
import { RequestRecorder } from './request-recording.js';
import {
  buildVersionParts,
  ensembleSignature,
  loadBackendModel,
  regroupedConfig,
  type EnsembleLoadOptions,
  type ModelVersionLoadOptions,
  type VersionOptions,
} from './version-loading.js';
import { reporterOf, startsPending } from './version-metrics.js';
import { warmUp } from './warmup.js';
import { buildWarmupSamples, type WarmupSample } from './warmup-samples.js';

type ConstructionOptions = VersionOptions & { readonly backend?: Backend; readonly runStep?: StepRunner };

/** A backend model and how many versions serve from it. */
interface SharedBackendModel {
  readonly model: BackendModel;
  users: number;
}

/**
 * One loaded version of a model: final configuration, instances, scheduler and statistics. Created
 * only through `load`, which completes, normalises and validates the configuration first.
 */
export class ModelVersion {
  readonly name: string;
  readonly version: bigint;
  readonly config: ModelConfig;
  readonly signature: ModelSignature;
  /** Shared with the versions made from this one by `withInstanceGroups`; closed by the last. */
  readonly #backendModel: SharedBackendModel | undefined;
  readonly #options: ConstructionOptions;
  readonly #sequenceStates: readonly StateSpec[];
  readonly #instances: readonly ModelInstance[];
  readonly #scheduler: Scheduler;
  /** This version's statistics and latency reporter (shared with the versions made by `withInstanceGroups`). */
  readonly #recorder: RequestRecorder;
  readonly #releaseLimits: () => void;
  /** Normalisation, cache, scheduler and recording of each request. */
  readonly #requests: InferPath;
  /** The instances that take requests, as the scheduler reaches them (rate-limited when it is on). */
  readonly #targets: readonly ExecutionTarget[];
  /** Set when both the model and the server enable the response cache. */
  readonly #cache: ModelResponseCache | undefined;
  /** With metrics on: requests received and not yet handed to an instance (Triton's pending count). */
  readonly #pending: Set<InferenceRequest> | undefined;
  /** Seconds `load` took, for `nv_model_load_duration_secs`. */
  #loadDurationSecs = 0;

  private constructor(
    options: ConstructionOptions,
    signature: ModelSignature,
    backendModel: SharedBackendModel | undefined,
    instances: readonly ModelInstance[],
    sequenceStates: readonly StateSpec[],
    recorder?: RequestRecorder,
  ) {
    this.name = options.modelName;
    this.version = options.version;
    this.config = options.config;
    this.signature = signature;
    this.#options = options;
    this.#sequenceStates = sequenceStates;
    this.#backendModel = backendModel;
    this.#instances = instances;
    this.#cache = ModelResponseCache.forModel(this.config, options.responseCache, this.name, this.version);
    this.#recorder = recorder ?? new RequestRecorder(new ModelStatisticsRecorder(this.name, this.version), reporterOf(options, this.#cache !== undefined));
    // Ensemble requests are never pending: their steps are the members' requests (Triton's metrics.md).
    this.#pending = options.metrics !== undefined && options.runStep === undefined ? new Set() : undefined;
    const pending = this.#pending;
    const active = instances.filter((instance) => !instance.passive);
    const counted = pending === undefined ? active : active.map((instance) => startsPending(instance, pending));
    const limited = limitInstances(options.rateLimiter, options.modelName, counted);
    this.#releaseLimits = () => limited.forEach((entry) => entry.release());
    this.#targets = limited.map((entry) => entry.target);
    this.#scheduler = createScheduler({
      config: this.config,
      targets: this.#targets,
      onExecution: (batchSize, timings) =>
        this.#recorder.statistics.recordExecution(batchSize, timings.computeInputNs, timings.computeInferNs, timings.computeOutputNs),
      logger: options.logger,
      sequenceStates,
      runStep: options.runStep,
    });
    this.#requests = new InferPath({
      name: this.name,
      version: this.version,
      signature,
      scheduler: this.#scheduler,
      cache: this.#cache,
      pending: this.#pending,
      recorder: this.#recorder,
      ensemble: options.runStep !== undefined,
    });
  }

  /**
   * An ensemble version: no backend and no instances; its scheduler runs the steps on the members,
   * whose completed configs the pipeline is checked against first (Triton's ValidateEnsembleConfig).
   */
  static async loadEnsemble(options: EnsembleLoadOptions): Promise<ModelVersion> {
    const startNs = nowNs();
    const signature = await ensembleSignature(options);
    const model = new ModelVersion(options, signature, undefined, [], []);
    model.#loadDurationSecs = (nowNs() - startNs) / 1e9;
    return model;
  }

  static async load(options: ModelVersionLoadOptions): Promise<ModelVersion> {
    const startNs = nowNs();
    const backendModel = await loadBackendModel(options);
    try {
      const { signature, sequenceStates, warmup, instances } = await buildVersionParts(options, backendModel);
      let model: ModelVersion;
      try {
        model = new ModelVersion(options, signature, { model: backendModel, users: 1 }, instances, sequenceStates);
      } catch (error) {
        await Promise.allSettled(instances.map((instance) => instance.close()));
        throw error;
      }
      // Ready only once warm: a reload keeps the previous version serving until this resolves.
      await model.#warmUp(warmup, options.logger).catch(async (error: unknown) => {
        await model.unload();
        throw error;
      });
      model.#loadDurationSecs = (nowNs() - startNs) / 1e9;
      return model;
    } catch (error) {
      await backendModel.close().catch(() => undefined);
      throw error;
    }
  }

  /** Normalises, schedules and runs one request; statistics record its outcome (`InferPath.infer`). */
  infer(init: InferRequestInit, signal: CancelSignal | undefined, startNs: number, trace?: InferenceTrace): Promise<InferResponse> {
    return this.#requests.infer(init, signal, startNs, trace);
  }

  /** `infer` with callbacks, one called exactly once, maybe before this returns (`InferPath.submit`). */
  submit(...args: Parameters<InferPath['submit']>): void {
    this.#requests.submit(...args);
  }

  /** `model_transaction_policy { decoupled: true }`: zero or more responses per request. */
  get decoupled(): boolean {
    return this.config.modelTransactionPolicy?.decoupled === true;
  }

  /**
   * Runs a request whose responses arrive as events (ModelStreamInfer, generate_stream): a decoupled
   * model's backend sends them through the request's responder; any other model answers once, final.
   * Resolves after the final event. Rejects, sending no event, when the request fails before its
   * first response (so a frontend can still answer with an error status); a later failure is an
   * error event, final.
   */
  inferStream(init: InferRequestInit, signal: CancelSignal | undefined, startNs: number, listen: StreamListener): Promise<void> {
    if (!this.decoupled) return this.infer(init, signal, startNs).then((response) => listen({ response, final: true }));
    return this.#requests.inferDecoupled(init, signal, startNs, listen);
  }

  /** Every active instance can serve (a Python stub being restarted cannot). */
  get healthy(): boolean {
    for (const instance of this.#instances) if (!instance.passive && !instance.ready()) return false;
    return true;
  }

  /** Requests queued or running on this version (0: it can be unloaded without waiting). */
  get inFlight(): number {
    return this.#requests.inFlight;
  }

  statistics(): ModelStatistics {
    const snapshot = this.#recorder.statistics.snapshot();
    const memory = this.#backendModel?.model.memoryUsage?.();
    if (memory !== undefined) snapshot.memory_usage = [...memory];
    const batcher = this.#scheduler.statistics?.();
    return batcher === undefined ? snapshot : { ...snapshot, batcher_stats: batcher };
  }

  /** What the Prometheus metrics read from this version at scrape time. */
  metricsSample(): ModelMetricsSample {
    return {
      statistics: this.#recorder.statistics.snapshot(),
      failures: this.#recorder.statistics.failureCounts(),
      pendingRequests: this.#pending?.size ?? 0,
      loadDurationSecs: this.#loadDurationSecs,
      cacheEnabled: this.#cache !== undefined,
    };
  }

  /**
   * The same loaded weights served by other instance groups: Triton applies a config change that
   * touches only `instance_group` in place, without reloading the model. The new version shares the
   * backend model and the statistics; this one is unloaded by the caller once traffic has moved.
   */
  async withInstanceGroups(groups: readonly ModelInstanceGroup[]): Promise<ModelVersion> {
    const backend = this.#options.backend;
    const shared = this.#backendModel;
    if (backend === undefined || shared === undefined) throw invalidArg(`instance group should not be specified for ensemble '${this.name}'`);
    const config = regroupedConfig(this.config, groups, backend);
    const { modelDir, logger } = this.#options;
    const warmup = await buildWarmupSamples({ config, signature: this.signature, version: this.version, modelDir, logger });
    const instances = await createInstances(shared.model, config);
    shared.users++;
    let next: ModelVersion;
    try {
      next = new ModelVersion({ ...this.#options, config }, this.signature, shared, instances, this.#sequenceStates, this.#recorder);
      next.#loadDurationSecs = this.#loadDurationSecs;
    } catch (error) {
      shared.users--;
      await Promise.allSettled(instances.map((instance) => instance.close()));
      throw error;
    }
    // New instances are warmed before they take traffic, as Triton warms every instance it creates.
    await next.#warmUp(warmup, logger).catch(async (error: unknown) => {
      await next.unload();
      throw error;
    });
    return next;
  }

  #warmUp(samples: readonly WarmupSample[], logger: Logger): Promise<void> {
    return warmUp({ modelName: this.name, targets: this.#targets, samples, statistics: this.#recorder.statistics, logger });
  }

  /** Waits for in-flight requests, then frees instances and (if no other version shares it) the backend model. */
  async unload(): Promise<void> {
    await this.#scheduler.stop();
    this.#releaseLimits();
    this.#cache?.close();
    await Promise.allSettled(this.#instances.map((instance) => instance.close()));
    const lastUser = this.#backendModel === undefined || --this.#backendModel.users === 0;
    // A version made by withInstanceGroups shares the series; the last one takes them away.
    if (lastUser) this.#recorder.reporter?.close();
    if (this.#backendModel !== undefined && this.#backendModel.users === 0) await this.#backendModel.model.close();
  }
}
