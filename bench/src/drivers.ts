/**
 * The parent side of http-driver.ts: forks a load generator or prober, starts and stops its recording,
 * and summarises its samples over a time window.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { HttpCall } from './load.js';
import { REPO_ROOT } from './servers.js';

export type DriverConfig =
  | {
      readonly mode: 'load';
      readonly port: number;
      readonly path: string;
      readonly headers: Record<string, string>;
      readonly bodyBase64: string;
      readonly concurrency: number;
      readonly warmupMs?: number;
      readonly intervalMs?: undefined;
    }
  | {
      readonly mode: 'probe';
      readonly port: number;
      readonly path: string;
      readonly intervalMs: number;
      readonly headers?: undefined;
      readonly bodyBase64?: undefined;
      readonly warmupMs?: undefined;
    };

/** One sample per completed request: completion time (epoch ms) and latency (µs), same index. */
export interface DriverSamples {
  readonly ends: number[];
  readonly latencies: number[];
  errors: number;
}

export type DriverMessage =
  | { readonly type: 'config'; readonly config: DriverConfig }
  | { readonly type: 'ready' }
  | { readonly type: 'go' }
  | { readonly type: 'stop' }
  | { readonly type: 'result'; readonly samples: DriverSamples };

/** Now on the clock the drivers stamp completions with (epoch ms, sub-ms precision). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export class Driver {
  readonly #child: ChildProcess;
  readonly #result: Promise<DriverSamples>;

  private constructor(child: ChildProcess, result: Promise<DriverSamples>) {
    this.#child = child;
    this.#result = result;
  }

  /** Forks the driver and resolves once it is warm and ready to record. */
  static start(config: DriverConfig): Promise<Driver> {
    const child = fork(join(REPO_ROOT, 'bench', 'dist', 'http-driver.js'), [], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.send({ type: 'config', config } satisfies DriverMessage);
    let resolveResult: (samples: DriverSamples) => void = () => {};
    let rejectResult: (error: Error) => void = () => {};
    const result = new Promise<DriverSamples>((resolve, reject) => {
      resolveResult = resolve;
      rejectResult = reject;
    });
    result.catch(() => {});
    return new Promise((resolve, reject) => {
      child.on('message', (message: DriverMessage) => {
        if (message.type === 'ready') resolve(new Driver(child, result));
        if (message.type === 'result') resolveResult(message.samples);
      });
      child.once('exit', (code) => {
        const error = new Error(`http-driver (${config.mode}) exited with ${code}`);
        reject(error);
        rejectResult(error);
      });
    });
  }

  /** The driver's pid (to read its CPU time). */
  get pid(): number {
    return this.#child.pid ?? 0;
  }

  go(): void {
    this.#child.send({ type: 'go' } satisfies DriverMessage);
  }

  /** Stops the driver; resolves with everything it recorded since go(). */
  async stop(): Promise<DriverSamples> {
    this.#child.send({ type: 'stop' } satisfies DriverMessage);
    const samples = await this.#result;
    if (this.#child.exitCode === null) await new Promise((resolve) => this.#child.once('exit', resolve));
    return samples;
  }
}

/** The config of a closed-loop load driver replaying `call`. */
export function loadConfig(port: number, call: HttpCall, concurrency: number, warmupMs = 1000): DriverConfig {
  return { mode: 'load', port, path: call.path, headers: call.headers, bodyBase64: call.body.toString('base64'), concurrency, warmupMs };
}

export interface WindowSummary {
  readonly requests: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** The q-quantile of ascending `sorted` (NaN when empty). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The median of `values` (the mean of the middle two for an even count; NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Cases measured in alternating windows, each round's window summarised alone, in round order. */
export interface PerRound {
  readonly perRound: readonly WindowSummary[];
}

/**
 * The median over rounds of `compare(a's window, b's window)`, each comparison within one round: the
 * windows of a round are seconds apart, so drift of a shared machine (a VM whose host is busy for
 * minutes) cancels out, which pooled quantiles over all rounds do not do.
 */
export function pairedMedian(a: PerRound, b: PerRound, compare: (a: WindowSummary, b: WindowSummary) => number): { median: number; each: number[] } {
  const each = a.perRound.map((window, round) => compare(window, b.perRound[round]!));
  return { median: median(each), each };
}

/** Requests completed inside the windows [from, to] (epoch ms): rate over the windows' total length, latency quantiles. */
export function summarize(samples: DriverSamples, windows: ReadonlyArray<readonly [number, number]>): WindowSummary {
  const latencies: number[] = [];
  samples.ends.forEach((end, i) => {
    if (windows.some(([from, to]) => end >= from && end <= to)) latencies.push(samples.latencies[i] ?? NaN);
  });
  latencies.sort((a, b) => a - b);
  const seconds = windows.reduce((sum, [from, to]) => sum + (to - from), 0) / 1000;
  return {
    requests: latencies.length,
    seconds,
    throughput: latencies.length / seconds,
    p50Us: quantile(latencies, 0.5),
    p99Us: quantile(latencies, 0.99),
    maxUs: latencies[latencies.length - 1] ?? NaN,
  };
}
