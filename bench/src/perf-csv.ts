/**
 * Reads the CSV that perf_analyzer (and nereid-perf, which writes the same format) leaves with
 * `-f FILE`: one header line, then one row per load level, sorted by throughput. With
 * `--verbose-csv` the row carries "Avg latency"; without it the average is the sum of the latency
 * components (client send + network/server + queue + compute + client receive), which is how
 * perf_analyzer splits it.
 */
import { readFileSync } from 'node:fs';

/** One load level of a perf CSV; latencies in µs. */
export interface PerfCsvRow {
  /** The "Concurrency" or "Request Rate" column. */
  readonly load: number;
  readonly throughput: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly avgUs: number;
}

const COMPONENTS = [
  'Client Send',
  'Network+Server Send/Recv',
  'Server Queue',
  'Server Compute Input',
  'Server Compute Infer',
  'Server Compute Output',
  'Client Recv',
];

export function parsePerfCsv(text: string): PerfCsvRow[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((cell) => cell.trim());
  const column = (name: string): number => header.indexOf(name);
  const loadColumn = column('Concurrency') >= 0 ? column('Concurrency') : column('Request Rate');
  if (loadColumn < 0 || column('Inferences/Second') < 0) throw new Error(`not a perf_analyzer CSV header: ${lines[0] ?? '(empty)'}`);
  return lines.slice(1).map((line) => {
    const cells = line.split(',').map((cell) => Number(cell.trim()));
    const at = (name: string): number => {
      const index = column(name);
      return index >= 0 ? (cells[index] ?? Number.NaN) : Number.NaN;
    };
    const avg = column('Avg latency') >= 0 ? at('Avg latency') : COMPONENTS.reduce((sum, name) => sum + (column(name) >= 0 ? at(name) : 0), 0);
    return { load: cells[loadColumn] ?? Number.NaN, throughput: at('Inferences/Second'), p50Us: at('p50 latency'), p99Us: at('p99 latency'), avgUs: avg };
  });
}

export function readPerfCsv(path: string): PerfCsvRow[] {
  return parsePerfCsv(readFileSync(path, 'utf8'));
}
