/** What the statistics extension says about the batches a model executed over one measured window. */
import { httpOk } from './infer-calls.js';

interface StatsPayload {
  model_stats: {
    inference_count: number;
    execution_count: number;
    batch_stats: { batch_size: number; compute_infer: { count: number; ns: number } }[];
  }[];
}

export interface BatchSnapshot {
  readonly inferences: number;
  readonly executions: number;
  /** Executions per batch size. */
  readonly bySize: ReadonlyMap<number, number>;
  /** Time all executions spent in the backend's run (batch_stats compute_infer), ns. */
  readonly computeInferNs: number;
}

export async function batchSnapshot(port: number, model: string): Promise<BatchSnapshot> {
  const answer = await httpOk(port, 'GET', `/v2/models/${model}/stats`);
  const stats = (JSON.parse(answer.body.toString()) as StatsPayload).model_stats[0];
  if (!stats) throw new Error(`no statistics for ${model}`);
  return {
    inferences: stats.inference_count,
    executions: stats.execution_count,
    bySize: new Map(stats.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])),
    computeInferNs: stats.batch_stats.reduce((sum, b) => sum + b.compute_infer.ns, 0),
  };
}

/** The batches executed between two snapshots. */
export function batchesBetween(before: BatchSnapshot, after: BatchSnapshot): BatchSnapshot {
  const bySize = new Map<number, number>();
  for (const [size, count] of after.bySize) {
    const delta = count - (before.bySize.get(size) ?? 0);
    if (delta > 0) bySize.set(size, delta);
  }
  return {
    inferences: after.inferences - before.inferences,
    executions: after.executions - before.executions,
    bySize,
    computeInferNs: after.computeInferNs - before.computeInferNs,
  };
}

/** The batches of two windows together. */
export function addBatches(a: BatchSnapshot, b: BatchSnapshot): BatchSnapshot {
  const bySize = new Map(a.bySize);
  for (const [size, count] of b.bySize) bySize.set(size, (bySize.get(size) ?? 0) + count);
  return { inferences: a.inferences + b.inferences, executions: a.executions + b.executions, bySize, computeInferNs: a.computeInferNs + b.computeInferNs };
}

/** inference_count / execution_count. */
export const averageBatch = (s: BatchSnapshot): number => (s.executions > 0 ? s.inferences / s.executions : NaN);

/** The most frequent batch sizes, e.g. "1:95% 2:5%". */
export function batchMix(s: BatchSnapshot, top = 3): string {
  const total = [...s.bySize.values()].reduce((sum, n) => sum + n, 0);
  return [...s.bySize]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([size, count]) => `${size}:${((100 * count) / total).toFixed(0)}%`)
    .join(' ');
}
