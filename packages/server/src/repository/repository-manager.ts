import type { RateLimiter } from '../scheduler/rate-limiter.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clone, create } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { readModelConfigFile } from '../config/read-config.js';
import { ServerError, invalidArg, notFound, quoted, toServerError, unavailable } from '../errors/index.js';
import { ModelVersion } from '../model/model-version.js';
import type { Logger } from '../observability/logger.js';
import { compareVersions, listVersions, scanRepositories } from './model-dir.js';
import { resolveBackend } from './resolve-backend.js';
import { selectVersions } from './version-policy.js';
import { compareNames } from '../util/compare.js';

/** Triton's model-version states (model_lifecycle.h). */
export type VersionState = 'UNKNOWN' | 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

interface VersionEntry {
  /** int64 version, exact (see listVersions). */
  readonly version: bigint;
  state: VersionState;
  reason: string;
  model: ModelVersion | undefined;
}

interface ModelEntry {
  readonly name: string;
  /** Why the model as a whole could not be loaded (duplicate name, bad config), '' otherwise. */
  reason: string;
  readonly versions: Map<bigint, VersionEntry>;
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
}

export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

/**
 * Decides what is loaded (Triton's ModelRepositoryManager): scans the repositories, loads each model's
 * versions as its version policy says, and answers which loaded version serves a request.
 */
export class RepositoryManager {
  readonly #options: RepositoryManagerOptions;
  readonly #models = new Map<string, ModelEntry>();

  constructor(options: RepositoryManagerOptions) {
    this.#options = options;
  }

  /** Loads every model of every repository; resolves with the load errors (the server may go on). */
  async loadAll(): Promise<string[]> {
    const scan = await scanRepositories(this.#options.repositories);
    for (const [name, paths] of scan.duplicates) {
      this.#models.set(name, {
        name,
        reason: `model '${name}' appears in two or more repositories: ${paths.join(', ')}`,
        versions: new Map(),
      });
    }
    const results = await Promise.all(
      [...scan.models.values()].map((dir) => this.#loadModel(dir.name, dir.path)),
    );
    const failures = [...scan.duplicates.keys()].map((name) => this.#models.get(name)!.reason);
    return failures.concat(results.flat());
  }

  async #loadModel(name: string, modelDir: string): Promise<string[]> {
    const entry: ModelEntry = { name, reason: '', versions: new Map() };
    this.#models.set(name, entry);
    let config: ModelConfig;
    let versions: bigint[];
    try {
      config = await this.#readConfig(name, modelDir);
      const available = await listVersions(modelDir, (message) => this.#options.logger.warn(message));
      versions = selectVersions(config.versionPolicy, available);
      if (available.length === 0) throw invalidArg(`model '${name}' has no version folders in '${modelDir}'`);
      if (versions.length === 0) throw invalidArg(`version policy of model '${name}' selects none of its versions`);
    } catch (error) {
      entry.reason = toServerError(error).message;
      this.#options.logger.error(`failed to load '${name}': ${entry.reason}`);
      return [entry.reason];
    }
    const failures = await Promise.all(versions.map((version) => this.#loadVersion(entry, modelDir, config, version)));
    return failures.filter((failure): failure is string => failure !== undefined);
  }

  async #readConfig(name: string, modelDir: string): Promise<ModelConfig> {
    const files = await readdir(modelDir);
    if (files.includes('config.pbtxt')) return readModelConfigFile(join(modelDir, 'config.pbtxt'));
    if (!this.#options.autoCompleteConfig) {
      throw invalidArg(
        `model '${name}' has no config.pbtxt and auto-complete is disabled (--disable-auto-complete-config)`,
      );
    }
    return create(ModelConfigSchema);
  }

  async #loadVersion(entry: ModelEntry, modelDir: string, baseConfig: ModelConfig, version: bigint): Promise<string | undefined> {
    const slot: VersionEntry = { version, state: 'LOADING', reason: '', model: undefined };
    entry.versions.set(version, slot);
    const { logger } = this.#options;
    try {
      const config = clone(ModelConfigSchema, baseConfig);
      const files = await readdir(join(modelDir, String(version)));
      const backend = resolveBackend(config, entry.name, files, this.#options.registry);
      const global = this.#options.backendConfig.get('') ?? new Map<string, string>();
      const specific = this.#options.backendConfig.get(backend.name) ?? new Map<string, string>();
      slot.model = await ModelVersion.load({
        modelName: entry.name,
        version,
        modelDir,
        config,
        backend,
        backendConfig: new Map([...global, ...specific]),
        autoCompleteConfig: this.#options.autoCompleteConfig,
        rateLimiter: this.#options.rateLimiter,
        logger,
        responseCache: this.#options.responseCache,
      });
      slot.state = 'READY';
      logger.info(`successfully loaded '${entry.name}' version ${version}`);
      return undefined;
    } catch (error) {
      slot.state = 'UNAVAILABLE';
      slot.reason = toServerError(error).message;
      logger.error(`failed to load '${entry.name}' version ${version}: ${slot.reason}`);
      return `${entry.name} version ${version}: ${slot.reason}`;
    }
  }

  /** The version that serves a request; '' picks the highest READY version. Triton's messages. */
  get(name: string, version: string): ModelVersion {
    const entry = this.#models.get(name);
    if (!entry) throw notFound(`Request for unknown model: '${quoted(name)}' is not found`);
    if (version === '' || version === '-1') {
      const ready = [...entry.versions.values()].filter((v) => v.state === 'READY').sort((a, b) => compareVersions(b.version, a.version));
      const latest = ready[0]?.model;
      if (!latest) throw notFound(`Request for unknown model: '${quoted(name)}' has no available versions`);
      return latest;
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

  isReady(name: string, version: string): boolean {
    try {
      this.get(name, version);
      return true;
    } catch (error) {
      if (error instanceof ServerError) return false;
      throw error;
    }
  }

  /** Strict readiness: every model has all its versions READY. */
  allReady(): boolean {
    for (const entry of this.#models.values()) {
      if (entry.reason !== '') return false;
      for (const slot of entry.versions.values()) if (slot.state !== 'READY') return false;
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

  /** The repository index extension: one entry per known version, sorted by name then version. */
  index(readyOnly: boolean): IndexEntry[] {
    const entries: IndexEntry[] = [];
    for (const entry of [...this.#models.values()].sort((a, b) => compareNames(a.name, b.name))) {
      if (entry.reason !== '' && entry.versions.size === 0) {
        if (!readyOnly) entries.push({ name: entry.name, state: 'UNAVAILABLE', reason: entry.reason });
        continue;
      }
      for (const slot of [...entry.versions.values()].sort((a, b) => compareVersions(a.version, b.version))) {
        if (readyOnly && slot.state !== 'READY') continue;
        const base = { name: entry.name, version: String(slot.version), state: slot.state };
        entries.push(slot.reason === '' ? base : { ...base, reason: slot.reason });
      }
    }
    return entries;
  }

  /** Unloads everything, waiting for in-flight requests. */
  async unloadAll(): Promise<void> {
    const unloads: Promise<void>[] = [];
    for (const entry of this.#models.values()) {
      for (const slot of entry.versions.values()) {
        if (!slot.model) continue;
        slot.state = 'UNLOADING';
        const model = slot.model;
        unloads.push(
          model.unload().finally(() => {
            slot.state = 'UNAVAILABLE';
            slot.reason = 'unloaded';
            slot.model = undefined;
          }),
        );
      }
    }
    await Promise.allSettled(unloads);
  }
}
