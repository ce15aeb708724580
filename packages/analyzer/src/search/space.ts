/**
 * The search space and its defaults. model_analyzer's automatic brute search sweeps instance counts
 * 1..5, `max_batch_size` over powers of two 1..128 with dynamic batching on, and concurrency over
 * powers of two 1..1024; Nereid keeps the shape but bounds the defaults so that one small model
 * finishes in a few minutes on two cores (docs/design/0019-model-analyzer.md).
 */
import type { SearchSpace } from '../types.js';

/** Default bounds of the automatic search (flags override each). */
export const SEARCH_DEFAULTS = Object.freeze({
  minInstanceCount: 1,
  maxInstanceCount: 2,
  minModelBatchSize: 1,
  maxModelBatchSize: 128,
  minConcurrency: 1,
  maxConcurrency: 64,
  dynamicBatching: Object.freeze([true, false]),
  queueDelaysUs: Object.freeze([0]),
});

/** Powers of two from `min` to `max` inclusive (`min` rounded up to a power of two). */
export function powersOfTwo(min: number, max: number): number[] {
  const out: number[] = [];
  let value = 1;
  while (value < Math.max(1, min)) value *= 2;
  for (; value <= max; value *= 2) out.push(value);
  return out;
}

/** Integers from `min` to `max` inclusive. */
export function range(min: number, max: number): number[] {
  const out: number[] = [];
  for (let value = min; value <= max; value++) out.push(value);
  return out;
}

/** Bounds of an automatic search; explicit lists (manual search) replace the matching dimension. */
export interface SearchBounds {
  readonly minInstanceCount: number;
  readonly maxInstanceCount: number;
  readonly minModelBatchSize: number;
  readonly maxModelBatchSize: number;
  readonly minConcurrency: number;
  readonly maxConcurrency: number;
  readonly dynamicBatching?: readonly boolean[];
  readonly queueDelaysUs?: readonly number[];
  readonly instanceCounts?: readonly number[];
  readonly maxBatchSizes?: readonly number[];
  readonly concurrencies?: readonly number[];
}

/**
 * The space to search. With `disabled` (`--run-config-search-disable`) only the explicit lists are
 * used, and a dimension without one keeps the model's own setting (an empty list); with no list at
 * all only the model's own config is measured.
 */
export function searchSpace(bounds: SearchBounds, disabled: boolean): SearchSpace {
  const pick = (list: readonly number[] | undefined, auto: () => number[]): readonly number[] =>
    list ?? (disabled ? [] : auto());
  return {
    instanceCounts: pick(bounds.instanceCounts, () => range(bounds.minInstanceCount, bounds.maxInstanceCount)),
    maxBatchSizes: pick(bounds.maxBatchSizes, () => powersOfTwo(bounds.minModelBatchSize, bounds.maxModelBatchSize)),
    concurrencies:
      bounds.concurrencies ?? powersOfTwo(bounds.minConcurrency, bounds.maxConcurrency),
    dynamicBatching: bounds.dynamicBatching ?? (disabled ? [] : SEARCH_DEFAULTS.dynamicBatching),
    queueDelaysUs: bounds.queueDelaysUs ?? SEARCH_DEFAULTS.queueDelaysUs,
  };
}
