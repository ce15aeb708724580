/**
 * The measured rows as text cells, shared by the CSV, the HTML table and the terminal summary so
 * they all show the same figures.
 */
import type { MeasuredRow } from '../types.js';

/** Column headers, model_analyzer's names where it has them. */
export const ROW_COLUMNS = [
  'Model',
  'Model Config Path',
  'Instance Count',
  'Max Batch Size',
  'Dynamic Batching',
  'Max Queue Delay (us)',
  'Concurrency',
  'Throughput (infer/sec)',
  'p99 Latency (ms)',
  'p95 Latency (ms)',
  'p90 Latency (ms)',
  'p50 Latency (ms)',
  'Avg Latency (ms)',
  'Server Queue (us)',
  'Server Compute (us)',
  'RAM Usage (MB)',
] as const;

/** Bytes → MB (10^6, as model_analyzer reports RAM). */
export function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** One row's cells, in ROW_COLUMNS order. */
export function rowCells(row: MeasuredRow): string[] {
  const s = row.settings;
  return [
    row.model,
    row.variant,
    String(s.instanceCount),
    String(s.maxBatchSize),
    s.dynamicBatching ? 'on' : 'off',
    String(s.queueDelayUs),
    String(row.concurrency),
    row.throughput.toFixed(2),
    row.p99LatencyMs.toFixed(3),
    row.p95LatencyMs.toFixed(3),
    row.p90LatencyMs.toFixed(3),
    row.p50LatencyMs.toFixed(3),
    row.avgLatencyMs.toFixed(3),
    row.serverQueueUs.toFixed(0),
    row.serverComputeUs.toFixed(0),
    megabytes(row.memoryBytes),
  ];
}

function csvCell(cell: string): string {
  return /[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** The rows as CSV with a header line. */
export function rowsCsv(rows: readonly MeasuredRow[]): string {
  const lines = [ROW_COLUMNS.join(','), ...rows.map((row) => rowCells(row).map(csvCell).join(','))];
  return `${lines.join('\n')}\n`;
}
