/** The JSON shapes of Triton's statistics extension, field for field (perf_analyzer reads them). */

/** `{count, ns}`: how many times and for how long in total. */
export interface StatisticDuration {
  count: number;
  ns: number;
}

export interface InferStatistics {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  cache_hit: StatisticDuration;
  cache_miss: StatisticDuration;
}

export interface InferBatchStatistics {
  batch_size: number;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
}

export interface InferResponseStatistics {
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  success: StatisticDuration;
  fail: StatisticDuration;
  empty_response: StatisticDuration;
  cancel: StatisticDuration;
}

export interface MemoryUsage {
  type: string;
  id: number;
  byte_size: number;
}

/** One entry of `model_stats`, exactly the JSON shape of Triton's statistics extension. */
export interface ModelStatistics {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last inference; 0 when none. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferStatistics;
  response_stats: Record<string, InferResponseStatistics>;
  batch_stats: InferBatchStatistics[];
  memory_usage: MemoryUsage[];
  /**
   * Nereid's addition, for models served by the dynamic batcher: why batches closed and what was
   * refused or dropped. Triton's clients ignore the extra key.
   */
  batcher_stats?: BatcherStatistics;
  /** Nereid's addition, with `--model-memory-budget`: the model's estimated footprint and how often it came and went. */
  model_memory_budget?: ModelBudgetStatistics;
}

/** Loads on demand and evictions of one model under `--model-memory-budget` (kept across its loads). */
export interface ModelBudgetStatistics {
  readonly footprint_bytes: number;
  readonly on_demand_loads: number;
  readonly evictions: number;
}

/** The dynamic batcher's counts (see scheduler/dynamic/batch-former.ts CloseReason). */
export interface BatcherStatistics {
  readonly closed_by: Readonly<Record<string, number>>;
  readonly rejected_queue_full: number;
  readonly rejected_timeout: number;
  readonly cancelled: number;
}

