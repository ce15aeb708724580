/**
 * The onnxruntime-node side of engine-bench.ts, run as its own child process per case so that its
 * resident memory is measured like the Nereid server's: the callers live in the same process as the
 * session(s), no HTTP. argv[2] is the JSON OrtCase; prints one `RESULT <json>` line (OrtCaseResult).
 *   - workers 0: one InferenceSession on the main thread, called by `callers` concurrent callers
 *     (onnxruntime-node runs a session synchronously on the main thread, so they take turns);
 *   - workers N: one session per worker_thread, caller i always asks worker i.
 */
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { WIDTH, engineInput } from './engine-model.js';
import { closedLoop, type LoadResult } from './load.js';
import { machineBusySeconds, peakResidentMiB, residentMiB } from './proc-stats.js';

export interface OrtCase {
  readonly model: string;
  readonly intra: number;
  readonly callers: number;
  readonly workers: number;
  readonly seconds: number;
  readonly batch: number;
}

export interface OrtCaseResult {
  /** RSS before any session (onnxruntime-node imported). */
  readonly baseMiB: number;
  readonly loadedMiB: number;
  readonly afterMiB: number;
  readonly peakMiB: number;
  readonly load: LoadResult;
  /** CPU of the whole process (all threads) over the case, as a share of one core. */
  readonly cpu: number;
  /** CPU other processes of the machine used meanwhile, as a share of one core. */
  readonly otherCpu: number;
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as OrtCase;
  const pid = process.pid;
  const baseMiB = residentMiB(pid);
  let once: (caller: number) => Promise<number>;
  let close: () => Promise<void>;
  if (c.workers === 0) {
    const session = await ort.InferenceSession.create(c.model, { intraOpNumThreads: c.intra, interOpNumThreads: 1, executionMode: 'sequential' });
    const feeds = { INPUT0: new ort.Tensor('float32', engineInput(c.batch), [c.batch, WIDTH]) };
    once = async () => {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      return Number(process.hrtime.bigint() - start) / 1000;
    };
    close = () => session.release();
  } else {
    const workers = await Promise.all(
      Array.from({ length: c.workers }, async () => {
        const worker = new Worker(new URL('./engine-ort-worker.js', import.meta.url), { workerData: { model: c.model, intra: c.intra, batch: c.batch } });
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        return worker;
      }),
    );
    once = (caller) =>
      new Promise((resolve) => {
        const worker = workers[caller % workers.length]!;
        const start = process.hrtime.bigint();
        worker.once('message', () => resolve(Number(process.hrtime.bigint() - start) / 1000));
        worker.postMessage('run');
      });
    close = async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
    };
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const loadedMiB = residentMiB(pid);
  const wallStart = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const machineStart = machineBusySeconds();
  const load = await closedLoop(once, c.callers, c.seconds);
  const cpuUsed = process.cpuUsage(cpuStart);
  const ownSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
  const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const otherCpu = Math.max(0, machineBusySeconds() - machineStart - ownSeconds) / wall;
  const result: OrtCaseResult = { baseMiB, loadedMiB, afterMiB: residentMiB(pid), peakMiB: peakResidentMiB(pid), load, cpu: ownSeconds / wall, otherCpu };
  await close();
  console.log(`RESULT ${JSON.stringify(result)}`);
}

await main();
