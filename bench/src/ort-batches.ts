/**
 * Raw ONNX Runtime in this process, as the baseline of the batching benchmark: a model run back to
 * back at given batch sizes, by as many worker threads (each its own session) as the server runs
 * batches at once, with the intra-op threads the server gives each run (Nereid's plan on this machine:
 * 2 CPU instances by default, ⌊cores / instances⌋ threads each), or fewer when fewer requests are in
 * flight (at concurrency 1 one run at a time). onnxruntime-node runs a session on the calling thread,
 * hence the workers. Each case is measured right after the served window it is compared with: the
 * machine is shared, and a figure measured minutes apart would compare different machines.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchingModel } from './batching-models.js';

/** Batches Nereid runs at once for a model without instance_group (its default CPU instance count). */
export const SERVER_CONCURRENT_RUNS = Number(process.env['BENCH_ORT_WORKERS'] ?? 2);
const INTRA = Math.max(1, Math.floor(availableParallelism() / SERVER_CONCURRENT_RUNS));

/** What the baseline needs of a model: its file and every input of the graph at one row. */
export type OrtModel = Pick<BatchingModel, 'file' | 'inputs'>;

export class OrtBatches {
  readonly #workers: Worker[];
  readonly #ms: number;

  private constructor(workers: Worker[], ms: number) {
    this.#workers = workers;
    this.#ms = ms;
  }

  /** Opens the sessions; `ms` is the window per batch size. */
  static async open(model: OrtModel, ms: number): Promise<OrtBatches> {
    const workers = await Promise.all(
      Array.from({ length: SERVER_CONCURRENT_RUNS }, async () => {
        const worker = new Worker(new URL('./ort-batch-worker.js', import.meta.url), { workerData: { file: model.file, inputs: model.inputs, intra: INTRA } });
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        return worker;
      }),
    );
    return new OrtBatches(workers, ms);
  }

  /** Runs per second at `batch`, `parallel` runs at once (all workers together). */
  async runsPerSecond(batch: number, parallel: number): Promise<number> {
    return (await this.#measure(batch, parallel)).perSecond;
  }

  /**
   * Runs per second at `batch` and the CPU seconds one run costs: this process' CPU over the window
   * (the workers' runs; this thread only waits) over the runs, a warm-up run each counted as free.
   */
  async #measure(batch: number, parallel: number): Promise<{ perSecond: number; cpuPerRun: number }> {
    const cpuStart = process.cpuUsage();
    const results = await Promise.all(
      this.#workers.slice(0, Math.max(1, parallel)).map(
        (worker) =>
          new Promise<{ runs: number; seconds: number }>((resolve) => {
            worker.once('message', resolve);
            worker.postMessage({ batch, ms: this.#ms });
          }),
      ),
    );
    const cpu = process.cpuUsage(cpuStart);
    const runs = results.reduce((sum, r) => sum + r.runs, 0);
    return { perSecond: results.reduce((sum, r) => sum + r.runs / r.seconds, 0), cpuPerRun: (cpu.user + cpu.system) / 1e6 / runs };
  }

  /**
   * Inferences per second raw ORT reaches executing exactly the batches the server formed, `parallel`
   * at once: all their inferences over the time the same batches take here (costOf).
   */
  async throughputFor(executions: ReadonlyMap<number, number>, parallel: number): Promise<number> {
    const rows = [...executions].reduce((sum, [batch, count]) => sum + batch * count, 0);
    const { seconds } = await this.costOf(executions, parallel);
    return seconds > 0 ? rows / seconds : NaN;
  }

  /**
   * The wall time and the CPU time raw ORT takes to execute `executions` (count per batch size),
   * `parallel` runs at once: Σ executions_b / runs/s_b and Σ executions_b x CPU per run_b. The sizes
   * that carry 95 % of the rows are measured; each of the rest (a long tail once the batcher forms
   * many sizes) is costed as the nearest measured size, scaled by its batch size.
   */
  async costOf(executions: ReadonlyMap<number, number>, parallel: number): Promise<{ seconds: number; cpuSeconds: number }> {
    const bySize = [...executions].sort((a, b) => a[0] - b[0]);
    const rows = bySize.reduce((sum, [batch, count]) => sum + batch * count, 0);
    const measured = new Map<number, { perSecond: number; cpuPerRun: number }>();
    let covered = 0;
    for (const [batch, count] of [...bySize].sort((a, b) => b[0] * b[1] - a[0] * a[1])) {
      if (measured.size > 0 && covered >= 0.95 * rows) break;
      measured.set(batch, await this.#measure(batch, parallel));
      covered += batch * count;
    }
    let seconds = 0;
    let cpuSeconds = 0;
    for (const [batch, count] of bySize) {
      const exact = measured.get(batch);
      if (exact !== undefined) {
        seconds += count / exact.perSecond;
        cpuSeconds += count * exact.cpuPerRun;
        continue;
      }
      const nearest = [...measured.keys()].reduce((best, size) => (Math.abs(size - batch) < Math.abs(best - batch) ? size : best));
      const { perSecond, cpuPerRun } = measured.get(nearest)!;
      seconds += (count * batch) / nearest / perSecond;
      cpuSeconds += ((count * batch) / nearest) * cpuPerRun;
    }
    return { seconds, cpuSeconds };
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
