/**
 * The analyzer's boundary types: what a profile run is asked to do, the variants it loads, and the
 * rows it measures.
 */
import type { LoadPoint } from './measure.js';

/** `local`: the analyzer starts a Nereid itself; `remote`: it talks to a running server. */
export type LaunchMode = 'local' | 'remote';
export type ClientProtocol = 'http' | 'grpc';

/** The search space of one model (model_analyzer's brute search, bounded). */
export interface SearchSpace {
  /** Instance counts (`instance_group [{ count, kind: KIND_CPU }]`). */
  readonly instanceCounts: readonly number[];
  /** `max_batch_size` values, walked in order with an early exit when throughput stops growing. */
  readonly maxBatchSizes: readonly number[];
  /**
   * Dynamic batching settings to try: `true` = on, `false` = no `dynamic_batching` block. When this
   * and the two lists above are all empty, only the model's own config is measured; when only this
   * is empty, variants have dynamic batching on (as model_analyzer's).
   */
  readonly dynamicBatching: readonly boolean[];
  /** `max_queue_delay_microseconds` values tried with dynamic batching on. */
  readonly queueDelaysUs: readonly number[];
  /** Client concurrencies, walked in order with an early exit when throughput stops growing. */
  readonly concurrencies: readonly number[];
}

/** Constraints a recommended config must meet at its chosen concurrency. */
export interface Constraints {
  /** p99 latency at most this many milliseconds. */
  readonly latencyBudgetMs?: number;
  /** Throughput at least this many inferences per second. */
  readonly minThroughput?: number;
}

/** The settings a variant runs with, as the server reports them after loading it. */
export interface VariantSettings {
  readonly instanceCount: number;
  /** 0 when the model does not batch. */
  readonly maxBatchSize: number;
  readonly dynamicBatching: boolean;
  /** `max_queue_delay_microseconds` (0 without dynamic batching). */
  readonly queueDelayUs: number;
}

/** One model configuration the analyzer loads and measures. */
export interface ModelVariant {
  readonly model: string;
  /** `<model>_config_default` or `<model>_config_<n>`, as model_analyzer names them. */
  readonly name: string;
  readonly isDefault: boolean;
  /** The configuration sent with the load request (Triton's JSON form); undefined for the default. */
  readonly override?: Record<string, unknown>;
}

/** One measurement: a variant at one concurrency. */
export interface MeasuredRow extends LoadPoint {
  readonly model: string;
  readonly variant: string;
  readonly settings: VariantSettings;
  readonly concurrency: number;
  /** Peak resident memory sampled while measuring, in bytes (0 when no source was available). */
  readonly memoryBytes: number;
}

/** A measured variant and its rows. */
export interface ConfigResult {
  readonly variant: ModelVariant;
  readonly settings: VariantSettings;
  /** The full configuration the server reported for the variant (Triton's JSON form). */
  readonly config: Record<string, unknown>;
  readonly rows: readonly MeasuredRow[];
}

/** A config that meets the constraints, with the row that makes it the best it can be. */
export interface Recommendation {
  readonly result: ConfigResult;
  readonly row: MeasuredRow;
}

/** Where the memory figures come from. */
export interface MemorySourceInfo {
  /** e.g. `/proc/<pid>/status VmRSS` or `nv_cpu_memory_used_bytes`. */
  readonly name: string;
  /** What it measures, for the report. */
  readonly description: string;
}

/** Everything one profile run produced. */
export interface ProfileResult {
  readonly models: readonly string[];
  readonly results: readonly ConfigResult[];
  readonly recommendations: ReadonlyMap<string, readonly Recommendation[]>;
  readonly constraints: Constraints;
  readonly memorySource: MemorySourceInfo;
  /** Models whose sweep failed, with why (the other models are still profiled). */
  readonly failures: ReadonlyMap<string, string>;
  /** Wall-clock seconds the sweep took. */
  readonly durationSec: number;
}
