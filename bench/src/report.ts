import type { Measured } from './measure.js';

/** One measured case of a table. */
export interface Row {
  readonly label: string;
  readonly concurrency: number;
  readonly measured: Measured;
}

/** A group of rows closed by a ratio line `numerator / denominator`. */
export interface Group {
  readonly rows: readonly Row[];
  readonly ratio?: { readonly label: string; readonly numerator: Measured; readonly denominator: Measured };
}

const COLUMNS = ['c', 'req/s', 'p50 µs', 'p99 µs', 'mean µs', 'core µs', 'infer µs', 'edge µs', 'cli CPU', 'srv CPU', 'srv main', 'cli µs/rq', 'srv µs/rq', 'err'];
const WIDTHS = [3, 7, 7, 7, 7, 7, 8, 7, 7, 7, 8, 9, 9, 3];
const LABEL_WIDTH = 36;

function line(label: string, cells: readonly string[]): string {
  return label.padEnd(LABEL_WIDTH) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
}

const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');
const pct = (value: number): string => `${(value * 100).toFixed(0)}%`;
const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '-');

function rowCells(row: Row): string[] {
  const { load, server, clientCpu, serverCpu, serverMainCpu } = row.measured;
  return [
    String(row.concurrency),
    int(load.throughput),
    int(load.p50Us),
    int(load.p99Us),
    int(load.meanUs),
    int(server.requestUs),
    int(server.computeInferUs),
    int(load.meanUs - server.requestUs),
    pct(clientCpu),
    pct(serverCpu),
    pct(serverMainCpu),
    int(row.measured.clientUsPerRequest),
    int(row.measured.serverUsPerRequest),
    String(load.errors),
  ];
}

function ratioCells(concurrency: number, numerator: Measured, denominator: Measured): string[] {
  const a = numerator.load;
  const b = denominator.load;
  return [
    String(concurrency),
    times(a.throughput / b.throughput),
    times(a.p50Us / b.p50Us),
    times(a.p99Us / b.p99Us),
    times(a.meanUs / b.meanUs),
    times(numerator.server.requestUs / denominator.server.requestUs),
    '',
    times((a.meanUs - numerator.server.requestUs) / (b.meanUs - denominator.server.requestUs)),
    '',
    '',
    '',
    times(numerator.clientUsPerRequest / denominator.clientUsPerRequest),
    times(numerator.serverUsPerRequest / denominator.serverUsPerRequest),
    '',
  ];
}

/** Prints a table: one line per case, and under each group the ratio of its two chosen cases on the same columns. */
export function printTable(title: string, groups: readonly Group[]): void {
  console.log(`\n${title}`);
  console.log(line('case', COLUMNS));
  for (const group of groups) {
    for (const row of group.rows) console.log(line(`  ${row.label}`, rowCells(row)));
    const ratio = group.ratio;
    const concurrency = group.rows[0]?.concurrency ?? 0;
    if (ratio) console.log(line(`  = ${ratio.label}`, ratioCells(concurrency, ratio.numerator, ratio.denominator)));
  }
}

/** What the columns mean, printed under the tables. */
export const LEGEND = [
  'req/s: completed requests per second (closed loop)',
  'p50/p99/mean µs: latency seen by the client; core µs: server-side time inside the core per request',
  '  (statistics extension: success ns / count, includes reading shm inputs, excludes frontend decode/encode',
  '  and the shm output write); infer µs: compute_infer; edge µs = mean - core: frontend, transport, client',
  'cli/srv CPU: CPU time of the bench process / the server process over the case, as a share of one core;',
  '  srv main: the server\'s main thread alone (event loop, ORT runs, shm pread/pwrite): 100% = saturated;',
  '  cli/srv µs/rq: CPU time (all threads) per request the server completed, warm-up included',
  'ratio lines: numerator/denominator for every column (higher req/s ratio = numerator faster)',
].join('\n');
