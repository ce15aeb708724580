/**
 * Recommendations, as model_analyzer ranks configs with throughput as the objective: each config is
 * judged by its best row that meets the constraints, and the configs that have one are listed best
 * throughput first (ties: lower p99, then less memory).
 */
import type { ConfigResult, Constraints, MeasuredRow, Recommendation } from '../types.js';

/** True when the row meets every given constraint. */
export function meetsConstraints(row: MeasuredRow, constraints: Constraints): boolean {
  if (constraints.latencyBudgetMs !== undefined && row.p99LatencyMs > constraints.latencyBudgetMs) return false;
  if (constraints.minThroughput !== undefined && row.throughput < constraints.minThroughput) return false;
  return true;
}

function better(a: MeasuredRow, b: MeasuredRow): number {
  return b.throughput - a.throughput || a.p99LatencyMs - b.p99LatencyMs || a.memoryBytes - b.memoryBytes;
}

/** The config's best row within the constraints, if any. */
export function bestRow(result: ConfigResult, constraints: Constraints): MeasuredRow | undefined {
  return result.rows.filter((row) => meetsConstraints(row, constraints)).sort(better)[0];
}

/** The configs of one model meeting the constraints, best first, at most `limit`. */
export function recommend(results: readonly ConfigResult[], constraints: Constraints, limit = Infinity): Recommendation[] {
  const out: Recommendation[] = [];
  for (const result of results) {
    const row = bestRow(result, constraints);
    if (row !== undefined) out.push({ result, row });
  }
  return out.sort((a, b) => better(a.row, b.row)).slice(0, limit);
}
