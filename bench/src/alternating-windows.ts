import { Driver, epochMs, loadConfig, summarize, type DriverSamples, type PerRound, type WindowSummary } from './drivers.js';
import type { HttpCall } from './load.js';

/** What one model's windows merged to. */
export interface MergedWindows extends PerRound {
  readonly model: string;
  readonly concurrency: number;
  readonly summary: WindowSummary;
  readonly errors: number;
  /** CPU µs per completed request of each source `cpuSeconds` reports, in its order. */
  readonly cpuUs: readonly number[];
}

export interface AlternatingWindows {
  readonly port: number;
  readonly models: readonly string[];
  readonly concurrency: number;
  readonly call: (model: string) => HttpCall;
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupMs: number;
  /** Cumulative CPU seconds of the processes to charge (e.g. the server, its stub processes), read at each window's edges. */
  readonly cpuSeconds: () => readonly number[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Closed-loop windows of each model in turn, `rounds` times, the order reversed every other round
 * so a shared machine's drift falls on all of them alike; each model's windows merged.
 */
export async function alternatingWindows(options: AlternatingWindows): Promise<MergedWindows[]> {
  const { models } = options;
  const samples = models.map((): DriverSamples => ({ ends: [], latencies: [], errors: 0 }));
  const ranges = models.map((): Array<readonly [number, number]> => []);
  const cpu = models.map((): number[] => []);
  const perRound = models.map((): WindowSummary[] => []);
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? models.map((_, i) => i) : models.map((_, i) => models.length - 1 - i);
    for (const i of order) {
      const driver = await Driver.start(loadConfig(options.port, options.call(models[i]!), options.concurrency, options.warmupMs));
      const cpu0 = options.cpuSeconds();
      driver.go();
      const from = epochMs();
      await sleep(options.seconds * 1000);
      const to = epochMs();
      const cpu1 = options.cpuSeconds();
      cpu1.forEach((seconds, source) => (cpu[i]![source] = (cpu[i]![source] ?? 0) + seconds - (cpu0[source] ?? 0)));
      const got = await driver.stop();
      perRound[i]!.push(summarize(got, [[from, to]]));
      samples[i]!.ends.push(...got.ends);
      samples[i]!.latencies.push(...got.latencies);
      samples[i]!.errors += got.errors;
      ranges[i]!.push([from, to]);
    }
  }
  return models.map((model, i) => {
    const summary = summarize(samples[i]!, ranges[i]!);
    const requests = Math.max(1, summary.requests);
    return { model, concurrency: options.concurrency, summary, errors: samples[i]!.errors, cpuUs: cpu[i]!.map((seconds) => (seconds * 1e6) / requests), perRound: perRound[i]! };
  });
}
