/**
 * The Measurer over @nereid/perf: one runPerf per load level (so the memory sampler brackets each
 * level), with short windows. The level's figures are taken whether or not its windows agreed within
 * the stability percentage: the analyzer bounds time with `maxTrials` rather than failing a sweep.
 */
import { runPerf, type PerfRow, type Protocol } from '@nereid/perf';
import type { LoadPoint, Measurer } from './measure.js';

export interface PerfMeasurerOptions {
  /** host:port of the endpoint for `protocol`. */
  readonly url: string;
  readonly protocol: Protocol;
  readonly windowMs: number;
  readonly maxTrials: number;
  readonly stabilityPercentage: number;
  /** perf's `--shape` per input with variable dimensions. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** perf's `--input-data`: zero, random or a JSON file. */
  readonly inputData: string;
}

export class PerfMeasurer implements Measurer {
  constructor(private readonly options: PerfMeasurerOptions) {}

  async measure(model: string, concurrency: number): Promise<LoadPoint> {
    const result = await runPerf({
      model,
      url: this.options.url,
      protocol: this.options.protocol,
      concurrencyRange: { start: concurrency, end: concurrency, step: 1 },
      measurementIntervalMs: this.options.windowMs,
      maxTrials: this.options.maxTrials,
      stabilityPercentage: this.options.stabilityPercentage,
      shapes: this.options.shapes,
      inputData: this.options.inputData,
    });
    const row = result.allRows[result.allRows.length - 1];
    if (row === undefined) throw new Error(`no measurement of '${model}' at concurrency ${concurrency}${reason(result.stoppedReason)}`);
    return loadPoint(row);
  }
}

function reason(stopped: string | undefined): string {
  return stopped === undefined ? '' : `: ${stopped}`;
}

/** A perf row in the analyzer's units (ms latencies, µs server split). */
export function loadPoint(row: PerfRow): LoadPoint {
  const server = row.server;
  return {
    throughput: row.throughput,
    avgLatencyMs: row.avgLatencyUs / 1000,
    p50LatencyMs: row.p50Us / 1000,
    p90LatencyMs: row.p90Us / 1000,
    p95LatencyMs: row.p95Us / 1000,
    p99LatencyMs: row.p99Us / 1000,
    serverQueueUs: server?.queueUs ?? 0,
    serverComputeUs: server === undefined ? 0 : server.computeInputUs + server.computeInferUs + server.computeOutputUs,
  };
}
