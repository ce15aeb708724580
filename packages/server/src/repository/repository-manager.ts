import type { CoreStreamRunner } from '../backends/backend.js';
import { rm } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clone, create } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { parseModelConfig } from '../config/read-config.js';
import { ServerError, internal, invalidArg, notFound, quoted, toServerError, unavailable } from '../errors/index.js';
import { ModelVersion, type ModelVersionLoadOptions } from '../model/model-version.js';
import type { Logger } from '../observability/logger.js';
import type { RateLimiter } from '../scheduler/rate-limiter.js';
import { compareNames } from '../util/compare.js';
import { noteModelReleased } from '../util/memory-relief.js';
import { Semaphore } from '../util/semaphore.js';
import { NO_OVERRIDES, materializeOverrides, type LoadOverrides } from './load-overrides.js';
import { compareVersions, listVersions, scanRepositories } from './model-dir.js';
import { fingerprintOf, resolveSource, type ModelFingerprint, type ModelSource } from './model-source.js';
import type { ModelBudgetStatistics } from '../metrics/statistics-types.js';
import { planEvictions } from './memory-budget.js';
import { configChangeRequiresReload, sameInstanceGroups } from './reload-rules.js';
import { ensembleSteps, isEnsemble } from '../config/ensemble-graph.js';
import type { StepRunner } from '../scheduler/ensemble/ensemble-scheduler.js';
import { backendSearchPaths, loadBackendModule } from '../backends/backend-modules.js';
import { resolveBackend } from './resolve-backend.js';
import { selectVersions } from './version-policy.js';

/** Triton's model-version states (model_lifecycle.h). */
export type VersionState = 'UNKNOWN' | 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

interface VersionEntry {
  /** int64 version, exact (see listVersions). */
  readonly version: bigint;
  state: VersionState;
  reason: string;
  /** The version serving requests; during a reload the old one serves until the new one is ready. */
  model: ModelVersion | undefined;
  /** Fingerprint of the files `model` was loaded from. */
  loadedFrom: string;
}

interface ModelEntry {
  readonly name: string;
  /** Why the model as a whole could not be loaded (duplicate name, bad config), '' otherwise. */
  reason: string;
  readonly versions: Map<bigint, VersionEntry>;
  /** The config (as read, before completion) the loaded versions were made from. */
  loadedConfig: ModelConfig | undefined;
  /** What the latest load attempt saw: poll retries a failed load only once this changes. */
  attempted: string;
  /** Temporary folder of a model loaded from `file:` overrides (removed at unload). */
  overrideDir: string | undefined;
  /** Serialises loads and unloads of this model. */
  queue: Promise<unknown>;
  /** Loads or unloads of this model running (a poll's look at unchanged files does not count). */
  busy: number;
  /** Memory budget: estimated bytes of the versions loaded or loading (0 when none). */
  footprint: number;
  /** Memory budget: monotonic ms of the last inference request. */
  lastUsedMs: number;
  onDemandLoads: number;
  evictions: number;
  /** An ensemble's member models and the versions its steps name (-1: latest); empty for other models. */
  members: readonly EnsembleMember[];
}

interface EnsembleMember {
  readonly name: string;
  readonly version: bigint;
}

export interface RepositoryManagerOptions {
  readonly repositories: readonly string[];
  readonly registry: BackendRegistry;
  readonly autoCompleteConfig: boolean;
  readonly backendConfig: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly rateLimiter: RateLimiter;
  readonly logger: Logger;
  /** The server's response cache, handed to every model version (each decides whether to use it). */
  readonly responseCache?: ResponseCache | undefined;
  /** `--model-config-name` ('' for config.pbtxt only). */
  readonly modelConfigName?: string;
  /** `--model-load-thread-count`. */
  readonly loadThreadCount?: number;
  /** `--model-load-retry-count`. */
  readonly loadRetryCount?: number;
  /** `--model-memory-budget` in bytes; 0 or absent: no budget and no loading on demand. */
  readonly memoryBudgetBytes?: number;
  /** `--backend-directory`: where custom backends are looked for (`<dir>/<backend>/backend.js`). */
  readonly backendDirectory?: string;
  /** How ensembles run their steps: an inference request to a member, through the core. */
  readonly runStep?: StepRunner;
  /** How backends stream from other models (decoupled ones answer many times), through the core. */
  readonly runStreamRequest?: CoreStreamRunner;
  /** The server's Prometheus metrics, handed to every model version. */
  readonly metrics?: ModelVersionLoadOptions['metrics'];
  /** Runs before every scan of the repositories (brings the local copies of s3:// ones up to date). */
  readonly beforeScan?: (() => Promise<void>) | undefined;
}

export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
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

const UNLOADED = 'unloaded';

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
  readonly #loads: Semaphore;
  /** Old versions being released after a swap; awaited by unloadAll. */
  readonly #releasing = new Set<Promise<void>>();

  /** `--model-memory-budget` in bytes (0: none). */
  readonly #budget: number;
  /** Ensembles loading their members, and which. */
  readonly #waitingFor = new Map<string, ReadonlySet<string>>();
  /** Loads on demand in progress, so concurrent requests for one model share one load. */
  readonly #onDemand = new Map<string, Promise<void>>();

  constructor(options: RepositoryManagerOptions) {
    this.#options = options;
    this.#loads = new Semaphore(options.loadThreadCount ?? 4);
    this.#budget = options.memoryBudgetBytes ?? 0;
  }

  /** Whether requests for models that are not loaded load them (a memory budget is set). */
  get loadsOnDemand(): boolean {
    return this.#budget > 0;
  }

  /**
   * With a memory budget: loads a model that a request names and that is in a repository but not
   * loaded. Resolves false when there is no such model (the request keeps its not-found error);
   * a model whose last load failed on unchanged files is not retried (its reason is the error).
   */
  loadOnDemand(name: string): Promise<boolean> {
    const entry = this.#models.get(name);
    if (entry !== undefined && entry.reason !== '') return Promise.reject(unavailable(entry.reason));
    const failed = entry === undefined ? undefined : [...entry.versions.values()].find((slot) => slot.state === 'UNAVAILABLE' && !slot.reason.startsWith(UNLOADED));
    if (failed !== undefined && ![...entry!.versions.values()].some((slot) => slot.state === 'READY')) {
      return Promise.reject(unavailable(`model '${name}' failed to load: ${failed.reason}`));
    }
    let pending = this.#onDemand.get(name);
    if (pending === undefined) {
      pending = (async () => {
        if (!(await this.modelsOnDisk()).has(name)) return;
        this.#entry(name).onDemandLoads++;
        this.#options.logger.info(`loading '${name}' on demand`);
        await this.loadModel(name);
      })().finally(() => this.#onDemand.delete(name));
      this.#onDemand.set(name, pending);
    }
    return pending.then(() => this.isReady(name, ''));
  }

  /**
   * Reserves `needBytes` of the budget for `entry`, unloading the least recently used idle models
   * first when `mayEvict`; throws when models in use hold too much. Without `mayEvict` (loads nobody
   * asked for: start-up, a model poll found) it returns false instead of evicting or throwing.
   */
  #makeRoom(entry: ModelEntry, needBytes: number, mayEvict: boolean): boolean {
    const others = [...this.#models.values()].filter((other) => other !== entry && other.footprint > 0);
    const plan = planEvictions(
      others.map((other) => ({ name: other.name, footprint: other.footprint, lastUsedMs: other.lastUsedMs, idle: this.#isIdle(other) })),
      needBytes,
      this.#budget,
    );
    if (!mayEvict && (!plan.fits || plan.evict.length > 0)) return false;
    if (!plan.fits) {
      throw unavailable(
        `model '${entry.name}' needs ${needBytes} bytes, but the model memory budget of ${this.#budget} bytes is held by ` +
          `models in use (${plan.shortBytes} bytes short)`,
      );
    }
    for (const name of plan.evict) this.#evict(this.#models.get(name)!, entry.name);
    entry.footprint = needBytes;
    return true;
  }

  #isIdle(entry: ModelEntry): boolean {
    return entry.busy === 0 && [...entry.versions.values()].every((slot) => (slot.model?.inFlight ?? 0) === 0);
  }

  /** Unloads an idle model to make room; poll mode does not bring it back unless its files change. */
  #evict(victim: ModelEntry, forModel: string): void {
    const reason = `${UNLOADED}: evicted, least recently used, to make room for '${forModel}' within the model memory budget of ${this.#budget} bytes`;
    this.#options.logger.info(`evicting '${victim.name}' (${victim.footprint} bytes) to load '${forModel}'`);
    victim.evictions++;
    victim.footprint = 0;
    victim.loadedConfig = undefined;
    for (const slot of victim.versions.values()) {
      if (slot.model !== undefined) void this.#release(victim, slot, reason);
    }
  }

  /** What the statistics extension adds per model under a memory budget. */
  budgetStatistics(name: string): ModelBudgetStatistics | undefined {
    const entry = this.#models.get(name);
    if (this.#budget === 0 || entry === undefined) return undefined;
    return { footprint_bytes: entry.footprint, on_demand_loads: entry.onDemandLoads, evictions: entry.evictions };
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
      [...onDisk].map(([name, dir]) =>
        Promise.resolve()
          .then(() => validateModelName(name))
          .then(() => this.#serialised(name, () => this.#load(name, NO_OVERRIDES, true, [], dir)))
          .then(() => '', (error) => toServerError(error).message),
      ),
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
          const seen = digest(await fingerprintOf(source).catch(() => undefined));
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
      entry = {
        name, reason: '', versions: new Map(), loadedConfig: undefined, attempted: '', overrideDir: undefined, queue: Promise.resolve(),
        busy: 0, footprint: 0, lastUsedMs: 0, onDemandLoads: 0, evictions: 0, members: [],
      };
      this.#models.set(name, entry);
    }
    return entry;
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
      entry.attempted = digest(fingerprint);
      config = overrides.config ? clone(ModelConfigSchema, overrides.config) : this.#readConfig(name, source, fingerprint.config);
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
    if (isEnsemble(config)) await this.#loadMembers(entry, config, ancestors);
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
    if (this.#budget > 0) {
      const need = wanted.reduce((sum, version) => sum + (fingerprint.bytes.get(version) ?? 0), 0);
      // Loads nobody asked for do not push out models, they wait to be requested.
      const requested = !unrequested || [...entry.versions.values()].some((slot) => slot.model !== undefined);
      let reserved;
      try {
        reserved = this.#makeRoom(entry, need, requested);
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
      ...changed.map((version) => this.#loadVersion(entry, source.dir, config, version, fingerprint.versions.get(version) ?? '')),
      ...reshaped.map((version) => this.#reshapeVersion(entry, entry.versions.get(version)!, config)),
    ]);
    const failures = results.filter((message): message is string => message !== undefined);
    // Versions the policy no longer selects go, unless nothing new could take over.
    const stale = [...entry.versions.values()].filter((slot) => !wanted.includes(slot.version) && slot.model !== undefined);
    if (failures.length < changed.length || changed.length === 0) {
      for (const slot of stale) this.#release(entry, slot);
    }
    if (![...entry.versions.values()].some((slot) => slot.model !== undefined)) entry.footprint = 0;
    if (failures.length === 0) {
      entry.loadedConfig = config;
      if (overrideDir !== undefined || entry.overrideDir !== undefined) {
        const previous = entry.overrideDir;
        entry.overrideDir = overrideDir;
        if (previous !== undefined && previous !== overrideDir) this.#track(rm(previous, { recursive: true, force: true }));
      }
    } else if (overrideDir !== undefined && failures.length === changed.length) {
      await rm(overrideDir, { recursive: true, force: true });
    }
    if (failures.length > 0) throw invalidArg(failures.map((failure) => `load failed for model '${name}': ${failure}\n`).join(''));
    return { loaded: changed, reshaped, unloaded: stale.map((slot) => slot.version) };
  }

  /**
   * Loads an ensemble's members first (as Triton's dependency graph does, in every mode), then checks
   * each has the versions the steps name, with Triton's texts. A member that is itself an ensemble
   * loads its own members; a chain that comes back to an ensemble on the way is refused.
   */
  async #loadMembers(entry: ModelEntry, config: ModelConfig, ancestors: readonly string[]): Promise<void> {
    const chain = [...ancestors, entry.name];
    const members = ensembleSteps(config).map((step) => ({ name: step.modelName, version: step.modelVersion }));
    const names = [...new Set(members.map((member) => member.name))];
    const fail = (message: string): never => {
      if (![...entry.versions.values()].some((slot) => slot.model !== undefined)) entry.reason = message;
      this.#options.logger.error(`failed to load '${entry.name}': ${message}`);
      throw invalidArg(message);
    };
    // Ensembles waiting for their members: waiting on one that (transitively) waits on us is a cycle,
    // refused before it could deadlock the two loads.
    for (const member of names) {
      if (chain.includes(member) || this.#waitsOn(member, entry.name)) {
        fail(`circular dependency between ensembles: ${member} -> ... -> ${entry.name} -> ${member}`);
      }
    }
    this.#waitingFor.set(entry.name, new Set(names));
    const outcomes = await Promise.all(
      names.map((member) =>
        Promise.resolve()
          .then(() => validateModelName(member))
          .then(() => this.#serialised(member, () => this.#load(member, NO_OVERRIDES, false, chain)))
          .then(() => '', (error: unknown) => toServerError(error).message),
      ),
    ).finally(() => this.#waitingFor.delete(entry.name));
    names.forEach((member, i) => {
      if (this.readyVersions(member).length > 0) return;
      const failure = outcomes[i] ?? '';
      fail(
        `ensemble '${entry.name}' depends on '${member}' which has no loaded version.` +
          (failure === '' ? '' : ` Model '${member}' loading failed with error: ${failure}`),
      );
    });
    for (const member of members) {
      if (member.version >= 0n && !this.readyVersions(member.name).includes(String(member.version))) {
        fail(`ensemble '${entry.name}' depends on '${member.name}' whose required version ${member.version} is not loaded.`);
      }
    }
    entry.members = members;
  }

  /** Whether ensemble `from` waits, directly or through other ensembles, for `to` to load. */
  #waitsOn(from: string, to: string, seen = new Set<string>()): boolean {
    if (seen.has(from)) return false;
    seen.add(from);
    for (const next of this.#waitingFor.get(from) ?? []) {
      if (next === to || this.#waitsOn(next, to, seen)) return true;
    }
    return false;
  }

  /** Why an ensemble cannot serve now: the first member version its steps name that is not ready (members that are ensembles check theirs). */
  #missingMember(entry: ModelEntry): string | undefined {
    for (const member of entry.members) {
      if (this.isReady(member.name, member.version < 0n ? '' : String(member.version))) continue;
      return `ensemble '${entry.name}' depends on '${member.name}' which has no loaded version.`;
    }
    return undefined;
  }

  #readConfig(name: string, source: ModelSource, text: string): ModelConfig {
    if (source.configFile !== undefined) return parseModelConfig(text, join(source.dir, source.configFile));
    if (!this.#options.autoCompleteConfig) {
      throw invalidArg(`model '${name}' has no config.pbtxt and auto-complete is disabled (--disable-auto-complete-config)`);
    }
    return create(ModelConfigSchema);
  }

  /** Loads one version beside the one serving (if any) and swaps it in; returns the failure text. */
  async #loadVersion(entry: ModelEntry, modelDir: string, baseConfig: ModelConfig, version: bigint, fingerprint: string): Promise<string | undefined> {
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
        const model = await this.#loads.run(() => this.#createVersion(entry.name, modelDir, baseConfig, version));
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
          this.#track(released);
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
  async #reshapeVersion(entry: ModelEntry, slot: VersionEntry, config: ModelConfig): Promise<string | undefined> {
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
    this.#track(previous.unload().catch((error) => this.#options.logger.error(`releasing the previous instances of '${entry.name}': ${toServerError(error).message}`)));
    return undefined;
  }

  async #createVersion(name: string, modelDir: string, baseConfig: ModelConfig, version: bigint): Promise<ModelVersion> {
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
        memberConfig: (step) => this.get(step.modelName, step.modelVersion < 0n ? '' : String(step.modelVersion)).config,
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
      runRequest: this.#options.runStep,
      runStreamRequest: this.#options.runStreamRequest,
      autoCompleteConfig: this.#options.autoCompleteConfig,
      rateLimiter: this.#options.rateLimiter,
      logger: this.#options.logger,
      responseCache: this.#options.responseCache,
      metrics: this.#options.metrics,
    });
  }

  /** Stops serving a version now; it is released once its requests in flight have finished. */
  #release(entry: ModelEntry, slot: VersionEntry, reason = UNLOADED): Promise<void> {
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
    this.#track(done);
    return done;
  }

  /**
   * Stops serving every version now and returns, as Triton's unload does; each version is freed
   * once its requests in flight finish (unloadAll waits for that).
   */
  async #unload(entry: ModelEntry, forget = false): Promise<void> {
    for (const slot of entry.versions.values()) void this.#release(entry, slot);
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

  #track(work: Promise<void>): void {
    this.#releasing.add(work);
    void work.finally(() => this.#releasing.delete(work));
  }

  /**
   * The version that serves a request; '' picks the highest READY version. Triton's messages. An
   * ensemble serves only while the member versions its steps name are ready (with a memory budget,
   * members load on demand instead).
   */
  get(name: string, version: string): ModelVersion {
    const model = this.#version(name, version);
    const entry = this.#models.get(name)!;
    if (entry.members.length > 0 && this.#budget === 0) {
      const missing = this.#missingMember(entry);
      if (missing !== undefined) throw unavailable(missing);
    }
    return model;
  }

  #version(name: string, version: string): ModelVersion {
    const entry = this.#models.get(name);
    if (!entry || (entry.versions.size === 0 && entry.reason === '')) {
      throw notFound(`Request for unknown model: '${quoted(name)}' is not found`);
    }
    if (version === '' || version === '-1') {
      // Every request without a version comes here: a scan, no arrays.
      let latest: VersionEntry | undefined;
      for (const slot of entry.versions.values()) {
        if (slot.state === 'READY' && slot.model !== undefined && (latest === undefined || slot.version > latest.version)) latest = slot;
      }
      if (latest === undefined) throw notFound(`Request for unknown model: '${quoted(name)}' has no available versions`);
      return latest.model!;
    }
    if (!/^[0-9]+$/.test(version)) {
      throw invalidArg(`Request for unknown model: '${quoted(name)}' version '${quoted(version)}' is not a valid version number`);
    }
    // Exact: BigInt, not Number, so '9007199254740993' does not become 9007199254740992.
    const slot = entry.versions.get(BigInt(version));
    if (!slot) throw notFound(`Request for unknown model: '${quoted(name)}' version ${quoted(version)} is not found`);
    if (slot.state !== 'READY' || !slot.model) {
      throw unavailable(`Request for unknown model: '${quoted(name)}' version ${quoted(version)} is not at ready state`);
    }
    return slot.model;
  }

  /** `get` for an inference request: also marks the model used (the memory budget evicts the least recently used). */
  forInference(name: string, version: string): ModelVersion {
    const model = this.get(name, version);
    if (this.#budget > 0) this.#models.get(name)!.lastUsedMs = performance.now();
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

  /**
   * The repository index extension: one entry per known version, sorted by name then version; a
   * model in the repositories that was never loaded appears with its name only, as in Triton.
   */
  async index(readyOnly: boolean): Promise<IndexEntry[]> {
    const onDisk = await this.modelsOnDisk().catch(() => new Map<string, string>());
    const names = new Set([...onDisk.keys(), ...this.#models.keys()]);
    const entries: IndexEntry[] = [];
    for (const name of [...names].sort(compareNames)) {
      const entry = this.#models.get(name);
      if (entry === undefined || (entry.versions.size === 0 && entry.reason === '')) {
        if (!readyOnly && onDisk.has(name)) entries.push({ name });
        continue;
      }
      if (entry.reason !== '' && entry.versions.size === 0) {
        if (!readyOnly) entries.push({ name: entry.name, state: 'UNAVAILABLE', reason: entry.reason });
        continue;
      }
      const missing = entry.members.length > 0 && this.#budget === 0 ? this.#missingMember(entry) : undefined;
      for (const slot of [...entry.versions.values()].sort((a, b) => compareVersions(a.version, b.version))) {
        // An ensemble whose member went away is not available, whatever its own state.
        const [state, reason] = slot.state === 'READY' && missing !== undefined ? ['UNAVAILABLE', missing] : [slot.state, slot.reason];
        if (readyOnly && state !== 'READY') continue;
        const base = { name: entry.name, version: String(slot.version), state };
        entries.push(reason === '' ? base : { ...base, reason });
      }
    }
    return entries;
  }

  /** Unloads everything, waiting for in-flight requests. */
  async unloadAll(): Promise<void> {
    await Promise.allSettled([...this.#models.values()].map((entry) => this.#serialised(entry.name, () => this.#unload(entry))));
    await Promise.allSettled([...this.#releasing]);
  }
}

/** Triton's ValidateModelName, plus NUL (a name is a folder name). */
function validateModelName(name: string): void {
  const trimmed = name.trim();
  if (trimmed === '') throw invalidArg('Model name cannot be empty. Please enter a valid name to deploy.');
  if (trimmed === '..' || trimmed === '.' || trimmed.includes('/') || trimmed.includes('\\') || trimmed.includes('\0')) {
    throw invalidArg(`invalid model name '${quoted(name)}', model name must not contain path traversal characters`);
  }
}

function digest(fingerprint: ModelFingerprint | undefined): string {
  if (fingerprint === undefined) return 'unreadable';
  return `${fingerprint.config}\u0000${[...fingerprint.versions].map(([version, hash]) => `${version}=${hash}`).join(',')}`;
}

export { listVersions };
