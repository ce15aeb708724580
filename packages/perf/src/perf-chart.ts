import { htmlPage, htmlTable, xyChart } from './chart.js';
import { cppNumber } from './report.js';
import type { PerfResult } from './types.js';

/** --chart: latency (ms) vs throughput across the sweep, each point labelled with its load level. */
export function perfChartSvg(result: PerfResult): string {
  const rows = result.rows.length > 0 ? result.rows : result.allRows;
  const label = (load: number) => (result.mode === 'concurrency' ? `c=${load}` : `r=${cppNumber(load)}`);
  const series = (name: string, pick: (r: (typeof rows)[number]) => number, kind: 'line' | 'scatter' = 'line') => ({
    name,
    kind,
    showLabels: name === 'p99',
    points: rows.map((r) => ({ x: r.throughput, y: pick(r) / 1000, label: label(r.load) })),
  });
  return xyChart({
    title: `${result.model}: latency vs throughput (${result.protocol}, batch ${result.batchSize})`,
    xLabel: 'Throughput (infer/sec)',
    yLabel: 'Latency (ms)',
    series: [series('avg', (r) => r.avgLatencyUs), series('p50', (r) => r.p50Us), series('p90', (r) => r.p90Us), series('p95', (r) => r.p95Us), series('p99', (r) => r.p99Us)],
  });
}

/** The chart in a self-contained HTML page, with the rows as a table. */
export function perfChartHtml(result: PerfResult): string {
  const rows = result.rows.length > 0 ? result.rows : result.allRows;
  const table = htmlTable(
    [result.mode === 'concurrency' ? 'Concurrency' : 'Request rate', 'Throughput (infer/sec)', 'Avg (µs)', 'p50 (µs)', 'p90 (µs)', 'p95 (µs)', 'p99 (µs)', 'Server queue (µs)', 'Server compute infer (µs)', 'Stable'],
    rows.map((r) => [r.load, cppNumber(r.throughput), r.avgLatencyUs, r.p50Us, r.p90Us, r.p95Us, r.p99Us, r.server?.queueUs ?? '', r.server?.computeInferUs ?? '', r.stable ? 'yes' : 'no']),
  );
  return htmlPage(`nereid-perf: ${result.model}`, [perfChartSvg(result), table]);
}
