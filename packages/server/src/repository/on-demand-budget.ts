import { unavailable } from '../errors/index.js';
import type { ModelBudgetStatistics } from '../metrics/statistics-types.js';
import type { Logger } from '../observability/logger.js';
import { planEvictions } from './memory-budget.js';
import { UNLOADED, type ModelEntry, type VersionEntry } from './model-entry.js';

/** What the memory budget asks of the repository manager. */
export interface BudgetedRepository {
  readonly logger: Logger;
  /** Every model the manager knows, by name. */
  readonly models: ReadonlyMap<string, ModelEntry>;
  /** The entry of a model, made when the name is new. */
  entry(name: string): ModelEntry;
  /** Names of the model folders in the repositories, with their paths. */
  modelsOnDisk(): Promise<Map<string, string>>;
  loadModel(name: string): Promise<unknown>;
  isReady(name: string, version: string): boolean;
  /** Stops serving a version; it is released once its requests in flight have finished. */
  release(entry: ModelEntry, slot: VersionEntry, reason: string): Promise<void>;
}

/**
 * `--model-memory-budget` as the repository manager applies it: a request for a model that is not
 * loaded loads it, and a load makes room by unloading the least recently used idle models
 * (memory-budget.ts plans which). Without a budget (0 bytes) nothing loads on demand.
 */
export class OnDemandBudget {
  /** `--model-memory-budget` in bytes (0: none). */
  readonly #bytes: number;
  readonly #repository: BudgetedRepository;
  /** Loads on demand in progress, so concurrent requests for one model share one load. */
  readonly #onDemand = new Map<string, Promise<void>>();

  constructor(bytes: number, repository: BudgetedRepository) {
    this.#bytes = bytes;
    this.#repository = repository;
  }

  /** Whether a budget is set (and so requests for models that are not loaded load them). */
  get enabled(): boolean {
    return this.#bytes > 0;
  }

  /**
   * Loads a model that a request names and that is in a repository but not loaded. Resolves false
   * when there is no such model (the request keeps its not-found error); a model whose last load
   * failed on unchanged files is not retried (its reason is the error). Waits at most `timeoutSecs`
   * (`--model-load-on-demand-timeout-secs`), then fails UNAVAILABLE.
   */
  loadOnDemand(name: string, timeoutSecs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`timed out after ${timeoutSecs} s waiting for model '${name}' to load on demand`)), timeoutSecs * 1000);
    });
    return Promise.race([this.#load(name), timeout]).finally(() => clearTimeout(timer));
  }

  #load(name: string): Promise<boolean> {
    const repository = this.#repository;
    const entry = repository.models.get(name);
    if (entry !== undefined && entry.reason !== '') return Promise.reject(unavailable(entry.reason));
    const failed = entry === undefined ? undefined : [...entry.versions.values()].find((slot) => slot.state === 'UNAVAILABLE' && !slot.reason.startsWith(UNLOADED));
    if (failed !== undefined && ![...entry!.versions.values()].some((slot) => slot.state === 'READY')) {
      return Promise.reject(unavailable(`model '${name}' failed to load: ${failed.reason}`));
    }
    let pending = this.#onDemand.get(name);
    if (pending === undefined) {
      pending = (async () => {
        if (!(await repository.modelsOnDisk()).has(name)) return;
        repository.entry(name).onDemandLoads++;
        repository.logger.info(`loading '${name}' on demand`);
        await repository.loadModel(name);
      })().finally(() => this.#onDemand.delete(name));
      this.#onDemand.set(name, pending);
    }
    return pending.then(() => repository.isReady(name, ''));
  }

  /** Marks a model used by an inference request (the budget evicts the least recently used). */
  markUsed(name: string): void {
    if (this.#bytes > 0) this.#repository.models.get(name)!.lastUsedMs = performance.now();
  }

  /**
   * Reserves `needBytes` of the budget for `entry`, unloading the least recently used idle models
   * first when `mayEvict`; throws when models in use hold too much. Without `mayEvict` (loads nobody
   * asked for: start-up, a model poll found) it returns false instead of evicting or throwing.
   */
  makeRoom(entry: ModelEntry, needBytes: number, mayEvict: boolean): boolean {
    const models = this.#repository.models;
    const others = [...models.values()].filter((other) => other !== entry && other.footprint > 0);
    const plan = planEvictions(
      others.map((other) => ({ name: other.name, footprint: other.footprint, lastUsedMs: other.lastUsedMs, idle: isIdle(other) })),
      needBytes,
      this.#bytes,
    );
    if (!mayEvict && (!plan.fits || plan.evict.length > 0)) return false;
    if (!plan.fits) {
      throw unavailable(
        `model '${entry.name}' needs ${needBytes} bytes, but the model memory budget of ${this.#bytes} bytes is held by ` +
          `models in use (${plan.shortBytes} bytes short)`,
      );
    }
    for (const name of plan.evict) this.#evict(models.get(name)!, entry.name);
    entry.footprint = needBytes;
    return true;
  }

  /** Unloads an idle model to make room; poll mode does not bring it back unless its files change. */
  #evict(victim: ModelEntry, forModel: string): void {
    const reason = `${UNLOADED}: evicted, least recently used, to make room for '${forModel}' within the model memory budget of ${this.#bytes} bytes`;
    this.#repository.logger.info(`evicting '${victim.name}' (${victim.footprint} bytes) to load '${forModel}'`);
    victim.evictions++;
    victim.footprint = 0;
    victim.loadedConfig = undefined;
    for (const slot of victim.versions.values()) {
      if (slot.model !== undefined) void this.#repository.release(victim, slot, reason);
    }
  }

  /** What the statistics extension adds per model under a memory budget. */
  statistics(name: string): ModelBudgetStatistics | undefined {
    const entry = this.#repository.models.get(name);
    if (this.#bytes === 0 || entry === undefined) return undefined;
    return { footprint_bytes: entry.footprint, on_demand_loads: entry.onDemandLoads, evictions: entry.evictions };
  }
}

/** No request in flight and no load or unload running: the model can be evicted now. */
function isIdle(entry: ModelEntry): boolean {
  return entry.busy === 0 && [...entry.versions.values()].every((slot) => (slot.model?.inFlight ?? 0) === 0);
}
