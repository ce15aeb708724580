/**
 * The terminal summary: per model, one line per measured config with its best row within the
 * constraints (or its best row when none meets them), recommended configs marked.
 */
import { bestRow } from '../analysis/recommend.js';
import { settingsLabel } from '../search/variants.js';
import type { ProfileResult } from '../types.js';
import { megabytes } from './rows.js';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The summary as lines of text. */
export function summaryLines(result: ProfileResult): string[] {
  const out: string[] = [];
  for (const model of result.models) {
    const recommended = result.recommendations.get(model) ?? [];
    const rank = new Map(recommended.map((rec, i) => [rec.result.variant.name, i + 1]));
    const order = (name: string): number => rank.get(name) ?? Infinity;
    const rows = result.results
      .filter((r) => r.variant.model === model)
      .sort((a, b) => order(a.variant.name) - order(b.variant.name))
      .map((r) => {
        const within = bestRow(r, result.constraints);
        const row = within ?? bestRow(r, {});
        return [
          rank.has(r.variant.name) ? `#${rank.get(r.variant.name)}` : '',
          r.variant.name,
          settingsLabel(r.settings),
          row === undefined ? '-' : String(row.concurrency),
          row === undefined ? '-' : row.throughput.toFixed(1),
          row === undefined ? '-' : row.p99LatencyMs.toFixed(2),
          row === undefined ? '-' : megabytes(row.memoryBytes),
          within === undefined ? 'no' : 'yes',
        ];
      });
    out.push('', `Model ${model}:`);
    const failure = result.failures.get(model);
    if (failure !== undefined) out.push(`Failed: ${failure}`);
    if (rows.length === 0) continue;
    out.push(...table(['Rank', 'Config', 'Settings', 'Concurrency', 'Throughput (infer/s)', 'p99 (ms)', 'RAM (MB)', 'Meets constraints'], rows));
    if (recommended.length === 0) out.push('No config meets the constraints.');
  }
  return out;
}
