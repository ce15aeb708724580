/**
 * Where a session lives. onnxruntime-node's `session.run` returns a promise but computes on the
 * calling thread, so sessions on the main thread run one at a time and block the event loop while
 * they compute; sessions in worker threads run in parallel at the cost of a message hop (~50 µs)
 * and a copy of the inputs.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionThread } from './session-options.js';
import {
  SessionRunner,
  type PlainTensor,
  type RunResult,
  type TensorData,
  type TensorInfo,
} from './session-runner.js';
import type { FromWorker, SessionWorkerData, ToWorker } from './worker-messages.js';

/** One open session, wherever it runs. */
export interface SessionHost {
  readonly thread: ExecutionThread;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Runs the session; rejects with an Error carrying onnxruntime's message. */
  run(feeds: readonly PlainTensor[], fetches: readonly string[]): Promise<RunResult>;
  /** Frees the session (and its thread); idempotent. */
  release(): Promise<void>;
}

export interface SessionHostOptions {
  readonly modelPath: string;
  readonly sessionOptions: InferenceSession.SessionOptions;
  readonly runOptions: InferenceSession.RunOptions;
  readonly thread: ExecutionThread;
}

/** Opens a session on the requested thread. */
export async function openSessionHost(options: SessionHostOptions): Promise<SessionHost> {
  if (options.thread === 'main') {
    const runner = await SessionRunner.open(options.modelPath, options.sessionOptions);
    return new MainThreadHost(runner, options.runOptions);
  }
  return WorkerHost.open(options);
}

class MainThreadHost implements SessionHost {
  readonly thread = 'main' as const;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #runner: SessionRunner;
  readonly #runOptions: InferenceSession.RunOptions;
  #released: Promise<void> | undefined;
  /** Settles once every run handed over so far has (for release). */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(runner: SessionRunner, runOptions: InferenceSession.RunOptions) {
    this.#runner = runner;
    this.#runOptions = runOptions;
    this.inputs = runner.inputs;
    this.outputs = runner.outputs;
  }

  run(feeds: readonly PlainTensor[], fetches: readonly string[]): Promise<RunResult> {
    if (this.#released !== undefined) return Promise.reject(new Error('the session was released'));
    // Handed to onnxruntime at once rather than after the previous run: it defers each compute to
    // setImmediate, so runs queued together compute in one pass of the event loop and their answers
    // leave together, instead of one loop turn (and one wake-up of the client) per run.
    const result = this.#runner.run(feeds, fetches, this.#runOptions);
    const settled = result.catch(() => undefined);
    this.#tail = this.#tail.then(() => settled);
    return result;
  }

  release(): Promise<void> {
    // Runs already queued finish first.
    this.#released ??= this.#tail.then(() => this.#runner.release());
    return this.#released;
  }
}

interface Pending {
  resolve(result: RunResult): void;
  reject(error: Error): void;
}

class WorkerHost implements SessionHost {
  readonly thread = 'worker' as const;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** Set once the worker is gone or going; every later run fails with it. */
  #dead: Error | undefined;
  #released: Promise<void> | undefined;

  private constructor(worker: Worker, inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]) {
    this.#worker = worker;
    this.inputs = inputs;
    this.outputs = outputs;
    worker.on('message', (message: FromWorker) => this.#onMessage(message));
    worker.on('error', (error) => this.#fail(new Error(`session worker failed: ${error.message}`)));
    worker.on('exit', (code) => this.#fail(new Error(`session worker exited with code ${code}`)));
  }

  static async open(options: SessionHostOptions): Promise<WorkerHost> {
    const data: SessionWorkerData = {
      modelPath: options.modelPath,
      sessionOptions: options.sessionOptions,
      runOptions: options.runOptions,
    };
    const worker = spawnSessionWorker(data);
    let onExit: (code: number) => void = () => {};
    const ready = await new Promise<FromWorker>((resolve, reject) => {
      onExit = (code) => reject(new Error(`session worker exited with code ${code}`));
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', onExit);
    }).finally(() => worker.off('exit', onExit));
    if (ready.kind !== 'ready') {
      await worker.terminate();
      throw new Error(ready.kind === 'failed' ? ready.message : `unexpected '${ready.kind}' message`);
    }
    return new WorkerHost(worker, ready.inputs, ready.outputs);
  }

  run(feeds: readonly PlainTensor[], fetches: readonly string[]): Promise<RunResult> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    // Inputs are views into request buffers the caller keeps; copy just their bytes and move those.
    const copies = feeds.map((feed) => ({ ...feed, data: copyData(feed.data) }));
    const transfer = copies.flatMap((feed) => (Array.isArray(feed.data) ? [] : [bufferOf(feed.data)]));
    const message: ToWorker = { kind: 'run', id, feeds: copies, fetches };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(message, transfer);
    });
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    if (this.#dead !== undefined) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ kind: 'release' } satisfies ToWorker);
    this.#dead = new Error('the session was released');
    // The worker answers 'released' and exits; a worker stuck in a long run is stopped instead.
    const timer = setTimeout(() => void this.#worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }

  #onMessage(message: FromWorker): void {
    if (message.kind !== 'result' && message.kind !== 'error') return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.kind === 'result') pending.resolve(message.result);
    else pending.reject(new Error(message.message));
  }

  #fail(error: Error): void {
    this.#dead ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

function copyData(data: TensorData): TensorData {
  return Array.isArray(data) ? data : (data as Uint8Array).slice();
}

function bufferOf(data: TensorData): ArrayBuffer {
  return (data as Uint8Array).buffer as ArrayBuffer;
}

/**
 * Starts `session-worker` next to this file. From TypeScript sources (tests under tsx) the worker
 * registers tsx itself: on Node 20 the `--import tsx` hooks do not reach worker threads.
 */
function spawnSessionWorker(data: SessionWorkerData): Worker {
  const here = fileURLToPath(import.meta.url);
  const extension = path.extname(here);
  const entry = path.join(path.dirname(here), `session-worker${extension}`);
  if (extension !== '.ts') return new Worker(entry, { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const source =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(pathToFileURL(entry).href)}); });`;
  return new Worker(source, { eval: true, workerData: data });
}
