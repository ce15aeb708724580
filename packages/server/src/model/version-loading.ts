/**
 * Loading a model version up to the parts it is made of: what it is loaded from, the backend model,
 * the configuration completed, normalised and validated (Triton's defaults and checks), the
 * signature with its labels, the implicit states, the warm-up samples and the instances.
 * `ModelVersion` puts them together, warms the instances up and serves.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { clone } from '@bufbuild/protobuf';
import { ModelConfigSchema, ModelInstanceGroupSchema, type ModelConfig, type ModelInstanceGroup } from '@nereid/protocol/generated/model_config_pb';
import type { Backend, BackendModel, CoreRequestRunner, CoreStreamRunner } from '../backends/backend.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { validateEnsembleMembers, type EnsembleStep } from '../config/ensemble-graph.js';
import { readModelFile } from '../config/model-file.js';
import { normalizeInstanceGroups, normalizeModelConfig } from '../config/normalize.js';
import { validateModelConfig } from '../config/validate.js';
import { invalidArg } from '../errors/index.js';
import type { ServerMetrics } from '../metrics/prometheus-metrics.js';
import type { Logger } from '../observability/logger.js';
import { buildModelSignature, type ModelSignature } from '../request/model-signature.js';
import type { StepRunner } from '../scheduler/ensemble/ensemble-scheduler.js';
import type { RateLimiter } from '../scheduler/rate-limiter.js';
import { loadStateSpecs, type StateSpec } from '../scheduler/sequence/implicit-state.js';
import { createInstances, type ModelInstance } from './instances.js';
import { buildWarmupSamples, type WarmupSample } from './warmup-samples.js';

/** What every model version is made from. */
export interface VersionOptions {
  readonly modelName: string;
  /** int64, exact: its folder is `<modelDir>/<version>`. */
  readonly version: bigint;
  readonly modelDir: string;
  /** Configuration with name, backend, platform and default_model_filename resolved. */
  readonly config: ModelConfig;
  readonly autoCompleteConfig: boolean;
  /** The server's rate limiter; instances are registered with it (a no-op when it is off). */
  readonly rateLimiter?: RateLimiter;
  readonly logger: Logger;
  /** The server's response cache (`--cache-config`), if it has one. */
  readonly responseCache?: ResponseCache | undefined;
  /** The server's Prometheus metrics (`--allow-metrics`), if it has them. */
  readonly metrics?: Pick<ServerMetrics, 'reporterFor' | 'custom'> | undefined;
}

/** A model run by a backend. */
export interface ModelVersionLoadOptions extends VersionOptions {
  readonly backend: Backend;
  readonly backendConfig: ReadonlyMap<string, string>;
  /** How the backend reaches other models through the core (Python BLS). */
  readonly runRequest?: CoreRequestRunner | undefined;
  /** How the backend streams from other models through the core (JavaScript BLS to decoupled models). */
  readonly runStreamRequest?: CoreStreamRunner | undefined;
}

/** An ensemble: its steps run on the member models (`platform: "ensemble"`). */
export interface EnsembleLoadOptions extends VersionOptions {
  /** Runs one step's request on a member, through the core (so the member's scheduler and statistics see it). */
  readonly runStep: StepRunner;
  /** The completed config of the member a step runs (the member is loaded before the ensemble). */
  readonly memberConfig: (step: EnsembleStep) => ModelConfig;
}

/** What a version run by a backend is made of once its configuration is final. */
export interface VersionParts {
  readonly signature: ModelSignature;
  readonly sequenceStates: readonly StateSpec[];
  readonly warmup: readonly WarmupSample[];
  readonly instances: readonly ModelInstance[];
}

/** GPU ids this build can use: none, Nereid serves on CPU. */
const NO_GPUS: readonly number[] = [];

/** Has the backend load the model, once its model file is found (unless the backend needs none). */
export async function loadBackendModel(options: ModelVersionLoadOptions): Promise<BackendModel> {
  const { config, backend, modelDir, version } = options;
  const versionDir = join(modelDir, String(version));
  const modelPath = join(versionDir, config.defaultModelFilename);
  if (backend.requiresModelFile !== false) {
    await access(modelPath).catch(() => {
      throw invalidArg(`unable to find '${modelPath}' for model '${options.modelName}'`);
    });
  }
  return backend.loadModel({
    modelName: options.modelName,
    version,
    modelDir,
    versionDir,
    modelPath,
    config,
    backendConfig: options.backendConfig,
    autoCompleteConfig: options.autoCompleteConfig,
    logger: options.logger,
    runRequest: options.runRequest,
    runStreamRequest: options.runStreamRequest,
    customMetrics: options.metrics?.custom,
  });
}

/**
 * Completes the configuration from the loaded model, applies defaults and Triton's checks, then
 * builds the signature, the implicit states, the warm-up samples and (last) the instances.
 */
export async function buildVersionParts(options: ModelVersionLoadOptions, backendModel: BackendModel): Promise<VersionParts> {
  const { config, backend, modelDir, version } = options;
  backendModel.completeConfig(config, { autoComplete: options.autoCompleteConfig });
  normalizeModelConfig(config, { defaultCpuInstanceCount: backend.defaultCpuInstanceCount, gpus: NO_GPUS });
  validateModelConfig(config, { gpus: NO_GPUS });
  const signature = buildModelSignature(config, await readLabels(config, modelDir));
  const sequenceStates = await loadStateSpecs(config, modelDir);
  const warmup = await buildWarmupSamples({ config, signature, version, modelDir, logger: options.logger });
  const instances = await createInstances(backendModel, config);
  return { signature, sequenceStates, warmup, instances };
}

/**
 * An ensemble's signature, once its configuration is normalised and validated and its pipeline is
 * checked against the members' completed configs (Triton's ValidateEnsembleConfig).
 */
export async function ensembleSignature(options: EnsembleLoadOptions): Promise<ModelSignature> {
  const { config } = options;
  normalizeModelConfig(config, { defaultCpuInstanceCount: 0, gpus: NO_GPUS });
  validateModelConfig(config, { gpus: NO_GPUS });
  validateEnsembleMembers(config, options.memberConfig);
  return buildModelSignature(config, await readLabels(config, options.modelDir));
}

/** A copy of a loaded version's configuration with other instance groups, given defaults and checked as at load. */
export function regroupedConfig(config: ModelConfig, groups: readonly ModelInstanceGroup[], backend: Backend): ModelConfig {
  const regrouped = clone(ModelConfigSchema, config);
  regrouped.instanceGroup = groups.map((group) => clone(ModelInstanceGroupSchema, group));
  normalizeInstanceGroups(regrouped, { defaultCpuInstanceCount: backend.defaultCpuInstanceCount, gpus: NO_GPUS });
  validateModelConfig(regrouped, { gpus: NO_GPUS });
  return regrouped;
}

/** Labels for the classification extension: one per line of each output's `label_filename`. */
async function readLabels(config: ModelConfig, modelDir: string): Promise<Map<string, string[]>> {
  const labels = new Map<string, string[]>();
  for (const output of config.output) {
    if (output.labelFilename === '') continue;
    const text = await readModelFile(modelDir, output.labelFilename, `label file of output '${output.name}'`);
    labels.set(output.name, text.split(/\r?\n/).filter((line, i, all) => line !== '' || i < all.length - 1));
  }
  return labels;
}
