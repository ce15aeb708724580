import { rm } from 'node:fs/promises';
import { clone } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { isEnsemble } from '../config/ensemble-graph.js';
import { ServerError, internal, invalidArg, toServerError, unavailable } from '../errors/index.js';
import type { ModelBudgetStatistics } from '../metrics/statistics-types.js';
import type { ModelVersion } from '../model/model-version.js';
import { EnsembleMembers } from './ensemble-members.js';
import { NO_OVERRIDES, materializeOverrides, type LoadOverrides } from './load-overrides.js';
import { compareVersions, listVersions, scanRepositories, validateModelName } from './model-dir.js';
import { UNLOADED, newModelEntry, servingVersion, type ModelEntry } from './model-entry.js';
import { fingerprintDigest, fingerprintOf, readSourceConfig, resolveSource, type ModelFingerprint, type ModelSource } from './model-source.js';
import { OnDemandBudget } from './on-demand-budget.js';
import { configChangeRequiresReload, sameInstanceGroups } from './reload-rules.js';
import { repositoryIndex, type IndexEntry } from './repository-index.js';
import { VersionLifecycle, type VersionLoadOptions } from './version-lifecycle.js';
import { selectVersions } from './version-policy.js';

export type { VersionState } from './model-entry.js';
export type { IndexEntry } from './repository-index.js';

/** The version-loading options (VersionLoadOptions) and what the manager itself uses. */
export interface RepositoryManagerOptions extends VersionLoadOptions {
  readonly repositories: readonly string[];
  /** `--model-config-name` ('' for config.pbtxt only). */
  readonly modelConfigName?: string;
  /** `--model-memory-budget` in bytes; 0 or absent: no budget and no loading on demand. */
  readonly memoryBudgetBytes?: number;
  /** Runs before every scan of the repositories (brings the local copies of s3:// ones up to date). */
  readonly beforeScan?: (() => Promise<void>) | undefined;
}

/** What `loadModel` did, for logs and tests. */
export interface LoadOutcome {
  /** Versions that were (re)loaded; empty when nothing had changed. */
  readonly loaded: readonly bigint[];
  /** Versions whose instances changed in place (same weights). */
  readonly reshaped: readonly bigint[];
  readonly unloaded: readonly bigint[];
  /** Memory budget: an unrequested load (start-up, poll) left for when a request names the model. */
  readonly deferred?: boolean;
}

/**
 * Decides what is loaded (Triton's ModelRepositoryManager): finds models in the repositories,
 * loads each model's versions as its version policy says, reloads what changed and unloads what
 * went away, and answers which version serves a request. A reload loads the new version beside
 * the old one and switches traffic only once it is ready; requests already on the old one finish
 * there, then it is released. Loads and unloads of one model never overlap.
 */
export class RepositoryManager {
  readonly #options: RepositoryManagerOptions;
  readonly #models = new Map<string, ModelEntry>();
  /** Makes, swaps, reshapes and releases the versions this manager decides to (un)load. */
  readonly #versions: VersionLifecycle;
  /** Ensembles' members: loaded first, cycles refused, checked before an ensemble serves. */
  readonly #members: EnsembleMembers;
  /** `--model-memory-budget`: loads on demand, evictions. */
  readonly #budget: OnDemandBudget;

  constructor(options: RepositoryManagerOptions) {
    this.#options = options;
    const { logger } = options;
    this.#versions = new VersionLifecycle(options, (name, version) => this.get(name, version));
    this.#members = new EnsembleMembers({
      logger,
      loadMember: (name, chain) => this.#loadNamed(name, false, chain),
      readyVersions: (name) => this.readyVersions(name),
      isReady: (name, version) => this.isReady(name, version),
    });
    this.#budget = new OnDemandBudget(options.memoryBudgetBytes ?? 0, {
      logger,
      models: this.#models,
      entry: (name) => this.#entry(name),
      modelsOnDisk: () => this.modelsOnDisk(),
      loadModel: (name) => this.loadModel(name),
      isReady: (name, version) => this.isReady(name, version),
      release: (entry, slot, reason) => this.#versions.release(entry, slot, reason),
    });
  }

  /** Whether requests for models that are not loaded load them (a memory budget is set). */
  get loadsOnDemand(): boolean {
    return this.#budget.enabled;
  }

  /** With a memory budget: loads a model a request names; false when there is none (OnDemandBudget.loadOnDemand). */
  loadOnDemand(name: string, timeoutSecs: number): Promise<boolean> {
    return this.#budget.loadOnDemand(name, timeoutSecs);
  }

  /** What the statistics extension adds per model under a memory budget. */
  budgetStatistics(name: string): ModelBudgetStatistics | undefined {
    return this.#budget.statistics(name);
  }

  /** Names of the model folders in the repositories (a name in two repositories is refused). */
  async modelsOnDisk(): Promise<Map<string, string>> {
    await this.#options.beforeScan?.();
    const scan = await scanRepositories(this.#options.repositories);
    for (const [name, paths] of scan.duplicates) {
      const entry = this.#entry(name);
      entry.reason = `model '${name}' appears in two or more repositories: ${paths.join(', ')}`;
    }
    return new Map([...scan.models].map(([name, dir]) => [name, dir.path]));
  }

  /** Loads every model of every repository; resolves with the load errors (the server may go on). */
  async loadAll(): Promise<string[]> {
    const onDisk = await this.modelsOnDisk();
    const duplicates = [...this.#models.values()].filter((entry) => entry.reason !== '').map((entry) => entry.reason);
    const results = await Promise.all(
      [...onDisk].map(([name, dir]) => this.#loadNamed(name, true, [], dir).then(() => '', (error) => toServerError(error).message)),
    );
    return duplicates.concat(results.filter((message) => message !== ''));
  }

  /**
   * Loads a model, or reloads it when its files or config changed (a config override always
   * reloads). Failed versions leave what served before serving. Triton's errors and texts.
   */
  loadModel(name: string, overrides: LoadOverrides = NO_OVERRIDES): Promise<LoadOutcome> {
    validateModelName(name);
    return this.#serialised(name, () => this.#load(name, overrides));
  }

  /**
   * Unloads every version of a model (requests in flight finish on it). Unknown names succeed, as in
   * Triton. With `unloadDependents`, an ensemble's members are unloaded too (nested ones with theirs).
   */
  async unloadModel(name: string, options: { readonly unloadDependents?: boolean } = {}): Promise<void> {
    const entry = this.#models.get(name);
    if (entry === undefined) return;
    const members = entry.members.map((member) => member.name);
    await this.#serialised(name, () => this.#unload(entry));
    if (options.unloadDependents === true) {
      await Promise.all([...new Set(members)].filter((member) => member !== name).map((member) => this.unloadModel(member, options)));
    }
  }

  /** Poll mode: loads added and changed models, unloads removed ones. Resolves with load errors. */
  async poll(): Promise<string[]> {
    const onDisk = await this.modelsOnDisk();
    const failures: string[] = [];
    const work: Promise<unknown>[] = [];
    for (const [name, dir] of onDisk) {
      work.push(
        this.#serialised(name, async () => {
          const entry = this.#models.get(name);
          const source = await resolveSource(name, dir, this.#options.modelConfigName ?? '');
          const seen = fingerprintDigest(await fingerprintOf(source).catch(() => undefined));
          if (entry !== undefined && entry.attempted === seen) return;
          await this.#load(name, NO_OVERRIDES, true, [], dir).catch((error) => failures.push(toServerError(error).message));
        }),
      );
    }
    for (const entry of this.#models.values()) {
      if (onDisk.has(entry.name) || entry.overrideDir !== undefined) continue;
      work.push(this.#serialised(entry.name, () => this.#unload(entry, true)));
    }
    await Promise.all(work);
    return failures;
  }

  #serialised<T>(name: string, task: () => Promise<T>): Promise<T> {
    const entry = this.#entry(name);
    const result = entry.queue.then(task, task);
    entry.queue = result.catch(() => undefined);
    return result;
  }

  #entry(name: string): ModelEntry {
    let entry = this.#models.get(name);
    if (entry === undefined) {
      entry = newModelEntry(name);
      this.#models.set(name, entry);
    }
    return entry;
  }

  /**
   * A load of a model found by name (a scan, an ensemble's step), in turn with the model's other
   * loads and unloads; an invalid name rejects, as the load's own errors do.
   */
  #loadNamed(name: string, unrequested: boolean, ancestors: readonly string[], dir?: string): Promise<LoadOutcome> {
    return Promise.resolve()
      .then(() => validateModelName(name))
      .then(() => this.#serialised(name, () => this.#load(name, NO_OVERRIDES, unrequested, ancestors, dir)));
  }

  /** A load, counted as work on the model (the memory budget does not evict a model being loaded). */
  async #load(name: string, overrides: LoadOverrides, unrequested = false, ancestors: readonly string[] = [], dir?: string): Promise<LoadOutcome> {
    const entry = this.#entry(name);
    entry.busy++;
    try {
      return await this.#loadWork(name, overrides, unrequested, ancestors, dir);
    } finally {
      entry.busy--;
    }
  }

  /** `knownDir`: the model's folder when the caller has just scanned the repositories (no second scan). */
  async #loadWork(name: string, overrides: LoadOverrides, unrequested: boolean, ancestors: readonly string[], knownDir: string | undefined): Promise<LoadOutcome> {
    const entry = this.#entry(name);
    const { logger } = this.#options;
    let source: ModelSource;
    let config: ModelConfig;
    let fingerprint: ModelFingerprint;
    let overrideDir: string | undefined;
    try {
      if (overrides.files.size > 0) {
        overrideDir = await materializeOverrides(name, overrides.files);
        source = { name, dir: overrideDir, configFile: undefined };
      } else {
        const dir = knownDir ?? (await this.modelsOnDisk()).get(name);
        if (dir === undefined) {
          if (entry.reason !== '') throw invalidArg(entry.reason);
          // Not in any repository: nothing to remember, and Triton's exact text.
          if (entry.versions.size === 0 && entry.overrideDir === undefined) this.#models.delete(name);
          logger.error(`failed to load '${name}': no model folder of that name in the model repositories`);
          // Returned, not thrown: the catch below would wrap it again.
          return Promise.reject(internal(`failed to load '${name}', failed to poll from model repository`));
        }
        source = await resolveSource(name, dir, this.#options.modelConfigName ?? '');
      }
      fingerprint = await fingerprintOf(source, (message) => logger.warn(message));
      entry.attempted = fingerprintDigest(fingerprint);
      config = overrides.config ? clone(ModelConfigSchema, overrides.config) : readSourceConfig(source, fingerprint.config, this.#options.autoCompleteConfig);
      if (config.name === '') config.name = name;
      if (config.name !== name) {
        throw invalidArg(`unexpected directory name '${name}' for model '${config.name}', directory name must equal model name`);
      }
    } catch (error) {
      if (overrideDir !== undefined) await rm(overrideDir, { recursive: true, force: true });
      const reason = toServerError(error).message;
      if (entry.versions.size === 0) entry.reason = reason;
      logger.error(`failed to load '${name}': ${reason}`);
      throw internal(`failed to load '${name}', failed to poll from model repository: ${reason}`);
    }
    entry.reason = '';
    if (isEnsemble(config)) await this.#members.load(entry, config, ancestors);
    // Triton's rule (ConfigChangeRequiresReload): a config that differs in more than its instance
    // groups and version policy reloads every version; new files reload their version; a change of
    // instance groups alone is applied to the loaded weights in place.
    const previous = entry.loadedConfig;
    const reloadAll = previous === undefined || overrideDir !== undefined || configChangeRequiresReload(previous, config);
    const available = [...fingerprint.versions.keys()];
    const wanted = selectVersions(config.versionPolicy, available);
    if (wanted.length === 0) {
      const reason = available.length === 0 ? `model '${name}' has no version folders` : `version policy of model '${name}' selects none of its versions`;
      const message = `at least one version must be available under the version policy of model '${name}': ${reason}`;
      logger.error(`failed to load '${name}': ${message}`);
      if (overrideDir !== undefined) await rm(overrideDir, { recursive: true, force: true });
      if (entry.versions.size === 0) entry.reason = message;
      throw invalidArg(`load failed for model '${name}': ${message}\n`);
    }
    if (this.#budget.enabled) {
      const need = wanted.reduce((sum, version) => sum + (fingerprint.bytes.get(version) ?? 0), 0);
      // Loads nobody asked for do not push out models, they wait to be requested.
      const requested = !unrequested || [...entry.versions.values()].some((slot) => slot.model !== undefined);
      let reserved;
      try {
        reserved = this.#budget.makeRoom(entry, need, requested);
      } catch (error) {
        if (overrideDir !== undefined) await rm(overrideDir, { recursive: true, force: true });
        throw error;
      }
      if (!reserved) {
        logger.info(`'${name}' (${need} bytes) does not fit the model memory budget now; it loads when requested`);
        return { loaded: [], reshaped: [], unloaded: [], deferred: true };
      }
    }
    const changed = wanted.filter((version) => {
      const slot = entry.versions.get(version);
      return slot?.model === undefined || reloadAll || slot.loadedFrom !== fingerprint.versions.get(version);
    });
    const reshaped = reloadAll || sameInstanceGroups(previous, config) ? [] : wanted.filter((version) => !changed.includes(version));
    const results = await Promise.all([
      ...changed.map((version) => this.#versions.load(entry, source.dir, config, version, fingerprint.versions.get(version) ?? '')),
      ...reshaped.map((version) => this.#versions.reshape(entry, entry.versions.get(version)!, config)),
    ]);
    const failures = results.filter((message): message is string => message !== undefined);
    // Versions the policy no longer selects go, unless nothing new could take over.
    const stale = [...entry.versions.values()].filter((slot) => !wanted.includes(slot.version) && slot.model !== undefined);
    if (failures.length < changed.length || changed.length === 0) {
      for (const slot of stale) this.#versions.release(entry, slot);
    }
    if (![...entry.versions.values()].some((slot) => slot.model !== undefined)) entry.footprint = 0;
    if (failures.length === 0) {
      entry.loadedConfig = config;
      if (overrideDir !== undefined || entry.overrideDir !== undefined) {
        const previous = entry.overrideDir;
        entry.overrideDir = overrideDir;
        if (previous !== undefined && previous !== overrideDir) this.#versions.track(rm(previous, { recursive: true, force: true }));
      }
    } else if (overrideDir !== undefined && failures.length === changed.length) {
      await rm(overrideDir, { recursive: true, force: true });
    }
    if (failures.length > 0) throw invalidArg(failures.map((failure) => `load failed for model '${name}': ${failure}\n`).join(''));
    return { loaded: changed, reshaped, unloaded: stale.map((slot) => slot.version) };
  }

  /**
   * Stops serving every version now and returns, as Triton's unload does; each version is freed
   * once its requests in flight finish (unloadAll waits for that).
   */
  async #unload(entry: ModelEntry, forget = false): Promise<void> {
    for (const slot of entry.versions.values()) void this.#versions.release(entry, slot);
    entry.loadedConfig = undefined;
    entry.attempted = '';
    entry.footprint = 0;
    entry.members = [];
    if (entry.overrideDir !== undefined) {
      await rm(entry.overrideDir, { recursive: true, force: true });
      entry.overrideDir = undefined;
    }
    if (forget) this.#models.delete(entry.name);
  }

  /**
   * The version that serves a request; '' picks the highest READY version. Triton's messages. An
   * ensemble serves only while the member versions its steps name are ready (with a memory budget,
   * members load on demand instead).
   */
  get(name: string, version: string): ModelVersion {
    const entry = this.#models.get(name);
    const model = servingVersion(entry, name, version);
    const missing = this.#missingMember(entry!);
    if (missing !== undefined) throw unavailable(missing);
    return model;
  }

  /** Why an ensemble cannot serve now; with a memory budget its members load on demand instead. */
  #missingMember(entry: ModelEntry): string | undefined {
    return entry.members.length > 0 && !this.#budget.enabled ? this.#members.missingMember(entry) : undefined;
  }

  /** `get` for an inference request: also marks the model used (the memory budget evicts the least recently used). */
  forInference(name: string, version: string): ModelVersion {
    const model = this.get(name, version);
    this.#budget.markUsed(name);
    return model;
  }

  isReady(name: string, version: string): boolean {
    try {
      return this.get(name, version).healthy;
    } catch (error) {
      if (error instanceof ServerError) return false;
      throw error;
    }
  }

  /** Strict readiness: no model failed to load, and none is loading (unloaded ones do not count). */
  allReady(): boolean {
    for (const entry of this.#models.values()) {
      if (entry.reason !== '') return false;
      for (const slot of entry.versions.values()) {
        if (slot.state === 'READY' || (slot.state === 'UNAVAILABLE' && slot.reason.startsWith(UNLOADED)) || slot.state === 'UNLOADING') continue;
        return false;
      }
    }
    return true;
  }

  /** Versions a model serves, ascending, as strings (model metadata `versions`). */
  readyVersions(name: string): string[] {
    const entry = this.#models.get(name);
    if (!entry) return [];
    return [...entry.versions.values()]
      .filter((slot) => slot.state === 'READY')
      .map((slot) => slot.version)
      .sort(compareVersions)
      .map(String);
  }

  /** Loaded versions of one model, or of all models when `name` is ''. */
  loaded(name: string): ModelVersion[] {
    const entries = name === '' ? [...this.#models.values()] : [this.#models.get(name)].filter((e) => e !== undefined);
    return entries.flatMap((entry) =>
      [...entry.versions.values()].flatMap((slot) => (slot.state === 'READY' && slot.model ? [slot.model] : [])),
    );
  }

  /** The repository index extension (see repositoryIndex). */
  async index(readyOnly: boolean): Promise<IndexEntry[]> {
    const onDisk = await this.modelsOnDisk().catch(() => new Map<string, string>());
    return repositoryIndex(this.#models, onDisk, readyOnly, (entry) => this.#missingMember(entry));
  }

  /** Unloads everything, waiting for in-flight requests. */
  async unloadAll(): Promise<void> {
    await Promise.allSettled([...this.#models.values()].map((entry) => this.#serialised(entry.name, () => this.#unload(entry))));
    await this.#versions.settled();
  }
}

export { listVersions };
