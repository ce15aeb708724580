/**
 * The Pareto front of measured rows: a row is on it when no other row has at least its throughput
 * and at most its p99 latency, one of them strictly.
 */
import type { MeasuredRow } from '../types.js';

function dominates(a: MeasuredRow, b: MeasuredRow): boolean {
  return (
    a.throughput >= b.throughput &&
    a.p99LatencyMs <= b.p99LatencyMs &&
    (a.throughput > b.throughput || a.p99LatencyMs < b.p99LatencyMs)
  );
}

/** The rows no other row dominates, by increasing p99 latency. */
export function paretoFront(rows: readonly MeasuredRow[]): MeasuredRow[] {
  return rows
    .filter((row) => !rows.some((other) => other !== row && dominates(other, row)))
    .sort((a, b) => a.p99LatencyMs - b.p99LatencyMs);
}
