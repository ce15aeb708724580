import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clone } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { CoreRequestRunner, CoreStreamRunner } from '../backends/backend.js';
import type { BackendRegistry } from '../backends/backend-registry.js';
import { backendSearchPaths, loadBackendModule } from '../backends/backend-modules.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { isEnsemble } from '../config/ensemble-graph.js';
import { toServerError, unavailable } from '../errors/index.js';
import { ModelVersion } from '../model/model-version.js';
import type { ModelVersionLoadOptions } from '../model/version-loading.js';
import type { Logger } from '../observability/logger.js';
import type { RateLimiter } from '../scheduler/rate-limiter.js';
import type { StepRunner } from '../scheduler/ensemble/ensemble-scheduler.js';
import { noteModelReleased } from '../util/memory-relief.js';
import { Semaphore } from '../util/semaphore.js';
import { UNLOADED, type ModelEntry, type VersionEntry } from './model-entry.js';
import { resolveBackend } from './resolve-backend.js';

/** What making a model version needs: the part of RepositoryManagerOptions that reaches every version. */
export interface VersionLoadOptions {
  readonly registry: BackendRegistry;
  readonly autoCompleteConfig: boolean;
  readonly backendConfig: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly rateLimiter: RateLimiter;
  readonly logger: Logger;
  /** The server's response cache, handed to every model version (each decides whether to use it). */
  readonly responseCache?: ResponseCache | undefined;
  /** `--model-load-thread-count`. */
  readonly loadThreadCount?: number;
  /** `--model-load-retry-count`. */
  readonly loadRetryCount?: number;
  /** `--backend-directory`: where custom backends are looked for (`<dir>/<backend>/backend.js`). */
  readonly backendDirectory?: string;
  /** How ensembles run their steps: an inference request to a member, through the core. */
  readonly runStep?: StepRunner;
  /** How backends call other models (BLS), through the core as a client's request goes. */
  readonly runRequest?: CoreRequestRunner;
  /** How backends stream from other models (decoupled ones answer many times), through the core. */
  readonly runStreamRequest?: CoreStreamRunner;
  /** The server's Prometheus metrics, handed to every model version. */
  readonly metrics?: ModelVersionLoadOptions['metrics'];
}

/**
 * One version slot's life (Triton's ModelLifeCycle): makes a version beside the one serving and
 * swaps it in once ready, changes a loaded version's instances in place, and releases versions
 * once their requests in flight have finished. At most `--model-load-thread-count` versions load
 * at once; which versions to load is the repository manager's decision.
 */
export class VersionLifecycle {
  readonly #options: VersionLoadOptions;
  /** The version that serves a request (RepositoryManager.get): an ensemble reads its members' configs there. */
  readonly #serving: (name: string, version: string) => ModelVersion;
  readonly #loads: Semaphore;
  /** Old versions being released after a swap; awaited by `settled`. */
  readonly #releasing = new Set<Promise<void>>();

  constructor(options: VersionLoadOptions, serving: (name: string, version: string) => ModelVersion) {
    this.#options = options;
    this.#serving = serving;
    this.#loads = new Semaphore(options.loadThreadCount ?? 4);
  }

  /** Loads one version beside the one serving (if any) and swaps it in; returns the failure text. */
  async load(entry: ModelEntry, modelDir: string, baseConfig: ModelConfig, version: bigint, fingerprint: string): Promise<string | undefined> {
    let slot = entry.versions.get(version);
    if (slot === undefined) {
      slot = { version, state: 'LOADING', reason: '', model: undefined, loadedFrom: '' };
      entry.versions.set(version, slot);
    } else if (slot.model === undefined) {
      slot.state = 'LOADING';
      slot.reason = '';
    }
    const { logger } = this.#options;
    const attempts = 1 + (this.#options.loadRetryCount ?? 0);
    let failure = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const model = await this.#loads.run(() => this.#create(entry.name, modelDir, baseConfig, version));
        const previous = slot.model;
        slot.model = model;
        slot.state = 'READY';
        slot.reason = '';
        slot.loadedFrom = fingerprint;
        logger.info(`successfully loaded '${entry.name}' version ${version}`);
        if (previous !== undefined) {
          const released = previous.unload().then(noteModelReleased, (error) =>
            logger.error(`unloading the previous '${entry.name}' version ${version}: ${toServerError(error).message}`),
          );
          this.track(released);
        }
        return undefined;
      } catch (error) {
        failure = toServerError(error).message;
        logger.error(`failed to load '${entry.name}' version ${version}${attempts > 1 ? ` (attempt ${attempt} of ${attempts})` : ''}: ${failure}`);
      }
    }
    if (slot.model === undefined) {
      slot.state = 'UNAVAILABLE';
      slot.reason = failure;
      return `version ${version} is at UNAVAILABLE state: ${failure};`;
    }
    // The previous load of this version keeps serving.
    return `version ${version} failed to reload, the previous one keeps serving: ${failure};`;
  }

  /** Serves a loaded version's weights with the new config's instance groups; returns the failure text. */
  async reshape(entry: ModelEntry, slot: VersionEntry, config: ModelConfig): Promise<string | undefined> {
    const previous = slot.model;
    if (previous === undefined) return undefined;
    try {
      slot.model = await previous.withInstanceGroups(config.instanceGroup);
    } catch (error) {
      const failure = toServerError(error).message;
      this.#options.logger.error(`failed to update the instances of '${entry.name}' version ${slot.version}: ${failure}`);
      return `version ${slot.version} failed to update its instances, the previous ones keep serving: ${failure};`;
    }
    this.#options.logger.info(`updated the instances of '${entry.name}' version ${slot.version} in place`);
    this.track(previous.unload().catch((error) => this.#options.logger.error(`releasing the previous instances of '${entry.name}': ${toServerError(error).message}`)));
    return undefined;
  }

  async #create(name: string, modelDir: string, baseConfig: ModelConfig, version: bigint): Promise<ModelVersion> {
    const config = clone(ModelConfigSchema, baseConfig);
    if (isEnsemble(config)) {
      if (config.name === '') config.name = name;
      const runStep = this.#options.runStep;
      if (runStep === undefined) throw unavailable(`ensemble '${name}' cannot run without a server core`);
      return ModelVersion.loadEnsemble({
        modelName: name,
        version,
        modelDir,
        config,
        autoCompleteConfig: this.#options.autoCompleteConfig,
        rateLimiter: this.#options.rateLimiter,
        logger: this.#options.logger,
        responseCache: this.#options.responseCache,
        metrics: this.#options.metrics,
        runStep,
        memberConfig: (step) => this.#serving(step.modelName, step.modelVersion < 0n ? '' : String(step.modelVersion)).config,
      });
    }
    const versionDir = join(modelDir, String(version));
    const files = await readdir(versionDir);
    const registry = this.#options.registry;
    if (config.backend !== '' && registry.byName(config.backend) === undefined) {
      // Not built in: a custom backend module (Triton's backend directory search).
      const searched = backendSearchPaths(config.backend, versionDir, modelDir, this.#options.backendDirectory ?? '');
      registry.register(await loadBackendModule(config.backend, name, searched));
    }
    const backend = resolveBackend(config, name, files, registry);
    const global = this.#options.backendConfig.get('') ?? new Map<string, string>();
    const specific = this.#options.backendConfig.get(backend.name) ?? new Map<string, string>();
    return ModelVersion.load({
      modelName: name,
      version,
      modelDir,
      config,
      backend,
      backendConfig: new Map([...global, ...specific]),
      runRequest: this.#options.runRequest,
      runStreamRequest: this.#options.runStreamRequest,
      autoCompleteConfig: this.#options.autoCompleteConfig,
      rateLimiter: this.#options.rateLimiter,
      logger: this.#options.logger,
      responseCache: this.#options.responseCache,
      metrics: this.#options.metrics,
    });
  }

  /** Stops serving a version now; it is released once its requests in flight have finished. */
  release(entry: ModelEntry, slot: VersionEntry, reason = UNLOADED): Promise<void> {
    const model = slot.model;
    if (model === undefined) return Promise.resolve();
    slot.model = undefined;
    slot.state = 'UNLOADING';
    slot.loadedFrom = '';
    const done = model.unload().then(
      () => {
        // A load may have put a new model in this slot meanwhile.
        if (slot.model === undefined) {
          slot.state = 'UNAVAILABLE';
          slot.reason = reason;
        }
        this.#options.logger.info(`successfully unloaded '${entry.name}' version ${slot.version}`);
        noteModelReleased();
      },
      (error) => this.#options.logger.error(`failed to unload '${entry.name}' version ${slot.version}: ${toServerError(error).message}`),
    );
    this.track(done);
    return done;
  }

  /** Background clean-up (a release, a removal of an old override folder) that `settled` waits for. */
  track(work: Promise<void>): void {
    this.#releasing.add(work);
    void work.finally(() => this.#releasing.delete(work));
  }

  /** Resolves once every release started so far has finished (successfully or not). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#releasing]);
  }
}
