import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { InferenceRequest } from '../request/inference-request.js';
import type { Tensor } from '../tensor/tensor.js';
import { nowNs } from '../util/clock.js';
import { responseCacheKey, type CacheScope } from './cache-key.js';
import type { ResponseCache } from './response-cache.js';

/** One lookup: the key (to insert under on a miss), the outputs on a hit, and its timing. */
export interface CacheLookup {
  readonly key: string;
  /** The cached backend outputs (fresh copies), or undefined on a miss. */
  readonly outputs: Tensor[] | undefined;
  /** Monotonic ns when the lookup began, after hashing (Triton charges hashing to the queue). */
  readonly startNs: number;
  readonly lookupNs: number;
}

/**
 * The response cache as one loaded model version uses it. It exists only when the model's config
 * sets `response_cache { enable: true }` and the server has a cache (Triton: both must be on; a
 * model asking for it on a server without one is served uncached, silently).
 */
export class ModelResponseCache {
  readonly #cache: ResponseCache;
  readonly #scope: CacheScope;

  private constructor(cache: ResponseCache, modelName: string, version: bigint) {
    this.#cache = cache;
    this.#scope = { modelName, version, generation: cache.newScope() };
  }

  static forModel(config: ModelConfig, cache: ResponseCache | undefined, modelName: string, version: bigint): ModelResponseCache | undefined {
    if (cache === undefined || config.responseCache?.enable !== true) return undefined;
    return new ModelResponseCache(cache, modelName, version);
  }

  lookup(request: InferenceRequest): CacheLookup {
    const key = responseCacheKey(this.#scope, request);
    const startNs = nowNs();
    const outputs = this.#cache.lookup(key);
    return { key, outputs, startNs, lookupNs: nowNs() - startNs };
  }

  /**
   * Stores what the backend produced for a request that succeeded (only the outputs it asked for,
   * which the key names). Returns how long the insertion took, in ns.
   */
  insert(lookup: CacheLookup, request: InferenceRequest, produced: readonly Tensor[]): number {
    const startNs = nowNs();
    const wanted = new Set(request.requestedOutputs.map((output) => output.name));
    this.#cache.insert(lookup.key, this.#scope.generation, produced.filter((tensor) => wanted.has(tensor.name)));
    return nowNs() - startNs;
  }

  /** Frees this version's entries (at unload). */
  close(): void {
    this.#cache.dropScope(this.#scope.generation);
  }
}
