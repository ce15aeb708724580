/**
 * The self-contained HTML report: per model, the recommendations, throughput vs p99 latency per
 * config with the Pareto front drawn over it, peak memory per config, and every measured row.
 * Charts come from @nereid/perf's chart module (inline SVG, no scripts).
 */
import { barChart, escapeXml, htmlPage, htmlTable, PALETTE, xyChart, type Series } from '@nereid/perf';
import { paretoFront } from '../analysis/pareto.js';
import { settingsLabel } from '../search/variants.js';
import type { ConfigResult, Constraints, ProfileResult, Recommendation } from '../types.js';
import { megabytes, ROW_COLUMNS, rowCells } from './rows.js';

const PARETO_COLOR = '#000000';
const PARETO_NAME = 'Pareto front';

function constraintsText(constraints: Constraints): string {
  const parts: string[] = [];
  if (constraints.latencyBudgetMs !== undefined) parts.push(`p99 latency ≤ ${constraints.latencyBudgetMs} ms`);
  if (constraints.minThroughput !== undefined) parts.push(`throughput ≥ ${constraints.minThroughput} infer/s`);
  return parts.length === 0 ? 'none (every measured row qualifies)' : parts.join(', ');
}

/** `results` drawn as lines over the Pareto front of `all` (the front is always over every row). */
function latencyChart(model: string, title: string, results: readonly ConfigResult[], all: readonly ConfigResult[]): string {
  const series: Series[] = [];
  const front = paretoFront(all.flatMap((r) => r.rows));
  series.push({
    name: PARETO_NAME,
    color: PARETO_COLOR,
    kind: 'line',
    emphasis: 'band',
    showLabels: true,
    points: front.map((row) => ({ x: row.p99LatencyMs, y: row.throughput, label: `${row.variant.replace(`${model}_`, '')} c=${row.concurrency}` })),
  });
  for (const r of results) {
    series.push({
      name: `${r.variant.name} (${settingsLabel(r.settings)})`,
      // A config keeps its colour in every chart: its place among all configs, after the palette's first.
      color: PALETTE[(all.indexOf(r) + 1) % PALETTE.length]!,
      points: r.rows.map((row) => ({ x: row.p99LatencyMs, y: row.throughput, label: `c=${row.concurrency}` })),
    });
  }
  // The legend goes right of the plot: the top-left corner is where the Pareto front lies.
  return xyChart({
    title,
    xLabel: 'p99 latency (ms)',
    yLabel: 'throughput (infer/s)',
    series,
    width: 800,
    height: 560,
    legend: 'right',
    legendWidth: 340,
  });
}

function memoryChart(model: string, results: readonly ConfigResult[]): string {
  return barChart({
    title: `${model}: peak memory per config`,
    yLabel: 'RAM usage (MB)',
    seriesNames: ['peak RAM (MB)'],
    bars: results.map((r) => ({
      label: r.variant.name.replace(`${model}_`, ''),
      values: [Number(megabytes(Math.max(0, ...r.rows.map((row) => row.memoryBytes))))],
    })),
    width: 1000,
    height: 380,
  });
}

function recommendationsTable(recommendations: readonly Recommendation[]): string {
  if (recommendations.length === 0) return '<p class="none">No measured config meets the constraints.</p>';
  return htmlTable(
    ['Rank', 'Config', 'Settings', 'Concurrency', 'Throughput (infer/sec)', 'p99 Latency (ms)', 'RAM Usage (MB)'],
    recommendations.map((rec, i) => [
      i + 1,
      rec.result.variant.name,
      settingsLabel(rec.result.settings),
      rec.row.concurrency,
      rec.row.throughput.toFixed(2),
      rec.row.p99LatencyMs.toFixed(3),
      megabytes(rec.row.memoryBytes),
    ]),
  );
}

/**
 * The throughput-vs-latency charts: like model_analyzer's summary, one with the default and the
 * recommended configs; when there are more configs, a second one with all of them.
 */
function latencyCharts(model: string, results: readonly ConfigResult[], recommended: readonly Recommendation[]): string[] {
  const chosen = new Set(recommended.map((rec) => rec.result.variant.name));
  const top = results.filter((r) => r.variant.isDefault || chosen.has(r.variant.name));
  const charts = [
    '<p>Each line is one config over its concurrency sweep; the grey band marks the Pareto front of all measurements (none other has both higher throughput and lower p99 latency).</p>',
    latencyChart(model, `${model}: default and recommended configs`, top, results),
  ];
  if (top.length < results.length) charts.push(latencyChart(model, `${model}: all ${results.length} configs`, results, results));
  return charts;
}

function modelSection(model: string, result: ProfileResult): string {
  const results = result.results.filter((r) => r.variant.model === model);
  const rows = results.flatMap((r) => r.rows);
  const recommended = result.recommendations.get(model) ?? [];
  return [
    `<section class="model" id="model-${escapeXml(model)}">`,
    `<h2>Model ${escapeXml(model)}</h2>`,
    `<p>${results.length} configs, ${rows.length} measurements.</p>`,
    ...(result.failures.has(model) ? [`<p class="failure">Failed: ${escapeXml(result.failures.get(model) ?? '')}</p>`] : []),
    '<h3>Recommended configs</h3>',
    recommendationsTable(recommended),
    '<h3>Throughput vs p99 latency</h3>',
    ...latencyCharts(model, results, recommended),
    '<h3>Memory</h3>',
    memoryChart(model, results),
    '<h3>All measurements</h3>',
    `<div class="rows">${htmlTable(ROW_COLUMNS, rows.map(rowCells))}</div>`,
    '</section>',
  ].join('\n');
}

/** The whole report as one HTML document. */
export function htmlReport(result: ProfileResult): string {
  const header = [
    '<style>.rows table{font-size:12px}.rows td:nth-child(-n+2){text-align:left}</style>',
    '<section class="summary">',
    `<p>Models: ${result.models.map(escapeXml).join(', ')}. Sweep time: ${result.durationSec.toFixed(1)} s.</p>`,
    `<p>Constraints: ${escapeXml(constraintsText(result.constraints))}.</p>`,
    `<p>Memory: <code>${escapeXml(result.memorySource.name)}</code>, ${escapeXml(result.memorySource.description)}.</p>`,
    '</section>',
  ].join('\n');
  return htmlPage('Nereid model analyzer report', [header, ...result.models.map((model) => modelSection(model, result))]);
}
