/**
 * Run threads: worker threads that call OrtApi::Run on sessions the main thread owns, so a model run
 * never holds the event loop, and create sessions (so a load holds neither the event loop nor libuv's
 * pool, and the intra-op threads ONNX Runtime starts for the session inherit the run thread's lower
 * priority, see thread-priority.ts). The main thread writes the call's addresses into a shared control
 * block and wakes the thread (Atomics.notify); the thread runs and wakes the main thread back
 * (Atomics.waitAsync resolves). Measured on 2 cores, a round trip costs ~22 µs, against ~25 µs for a
 * postMessage pair. Dedicated threads, rather than koffi's async calls, keep long runs off libuv's
 * four-thread pool, which fs, zlib and dns need.
 *
 * One pool serves the process: a run takes an idle thread or starts one, so the pool grows to the
 * most runs that were ever in flight at once (which the instance counts bound), and threads idle for
 * a minute leave.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { waitAsync } from '../../../util/wait-async.js';
import type { Pointer } from './ort-api.js';
import {
  CONTROL,
  CONTROL_BYTES,
  MAX_ARGS,
  NO_CALL,
  RunState,
  type NativeOp,
  type RunThreadData,
} from './run-thread-protocol.js';
import { RUN_THREAD_NICE } from './thread-priority.js';

/** One call for a run thread: which OrtApi function, and its arguments as addresses and counts. */
export interface NativeCall {
  readonly op: NativeOp;
  readonly args: readonly bigint[];
  /**
   * Whatever owns memory the call reads or writes (request bytes, arrays of addresses, out slots).
   * V8 drops an async function's locals that are not used after an await, so without this a
   * collection during the call could free memory the run thread is still using.
   */
  readonly keepAlive?: readonly unknown[];
}

/** Memory in use by calls in flight (see NativeCall.keepAlive). */
const inUse = new Set<readonly unknown[]>();

/** What the run thread reports: the OrtStatus* (0n when OK) and when the call ran. */
export interface RunOutcome {
  readonly status: Pointer;
  readonly startedAtNs: bigint;
  readonly endedAtNs: bigint;
}

const IDLE_EXIT_MS = 60_000;

class RunThread {
  readonly #worker: Worker;
  readonly #state: Int32Array;
  readonly #slots: BigInt64Array;
  #failure: Error | undefined;
  #onFailure: ((error: Error) => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor() {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.#state = new Int32Array(control, 0, 1);
    this.#slots = new BigInt64Array(control, 8, CONTROL.length);
    this.#worker = spawnRunThread({ control, nice: RUN_THREAD_NICE });
    this.#worker.unref();
    const fail = (error: Error): void => {
      this.#failure ??= error;
      this.#onFailure?.(this.#failure);
    };
    this.#worker.on('error', (error) => fail(new Error(`run thread failed: ${error.message}`)));
    this.#worker.on('exit', (code) => fail(new Error(`run thread exited with code ${code}`)));
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  async call(call: NativeCall): Promise<RunOutcome> {
    if (this.#failure !== undefined) throw this.#failure;
    if (call.args.length > MAX_ARGS) throw new Error(`a native call takes at most ${MAX_ARGS} arguments`);
    const slots = this.#slots;
    slots[CONTROL.op] = BigInt(call.op);
    call.args.forEach((arg, i) => (slots[CONTROL.args + i] = arg));
    Atomics.store(this.#state, 0, RunState.Requested);
    Atomics.notify(this.#state, 0);
    // A running worker keeps the process alive, as any pending I/O would.
    this.#worker.ref();
    try {
      // The state is checked again after every wake. The thread marks a call Done, then notifies;
      // if it is descheduled in between, the main thread sees Done, finishes that call and makes
      // the next, and the late notify then wakes the next call's wait while it still runs. Taken as
      // done, it read the previous call's status and a run's outputs before the run wrote them
      // (NULL: a crash, later a failed request).
      while (Atomics.load(this.#state, 0) === RunState.Requested) {
        const wait = waitAsync(this.#state, 0, RunState.Requested);
        if (!wait.async) continue;
        await new Promise<void>((resolve, reject) => {
          this.#onFailure = reject;
          wait.value.then(() => resolve(), reject);
        });
      }
    } finally {
      this.#onFailure = undefined;
      this.#worker.unref();
    }
    const status = slots[CONTROL.status] ?? 0n;
    const outcome: RunOutcome = {
      status: BigInt.asUintN(64, status),
      startedAtNs: slots[CONTROL.startedAt] ?? 0n,
      endedAtNs: slots[CONTROL.endedAt] ?? 0n,
    };
    Atomics.store(this.#state, 0, RunState.Idle);
    // -1 is the thread's own "no call was made" (an unknown op, or koffi refused the arguments).
    if (status === NO_CALL) throw new Error(`the run thread could not make native call ${call.op}`);
    return outcome;
  }

  /** Asks the thread to leave its loop (it is idle: nothing is in flight). */
  stop(): void {
    Atomics.store(this.#state, 0, RunState.Exit);
    Atomics.notify(this.#state, 0);
  }
}

/** The process's run threads. */
export class RunThreadPool {
  readonly #idle: RunThread[] = [];
  #started = 0;

  /** Threads started so far and still alive. */
  get size(): number {
    return this.#started;
  }

  /** Makes one call on an idle thread (starting one when none is idle). */
  async call(call: NativeCall): Promise<RunOutcome> {
    const thread = this.#take();
    const pinned = call.keepAlive;
    if (pinned !== undefined) inUse.add(pinned);
    try {
      return await thread.call(call);
    } finally {
      if (pinned !== undefined) inUse.delete(pinned);
      this.#give(thread);
    }
  }

  #take(): RunThread {
    for (;;) {
      const thread = this.#idle.pop();
      if (thread === undefined) break;
      clearTimeout(thread.idleTimer);
      if (!thread.failed) return thread;
      this.#started -= 1;
    }
    this.#started += 1;
    return new RunThread();
  }

  #give(thread: RunThread): void {
    if (thread.failed) {
      this.#started -= 1;
      return;
    }
    thread.idleTimer = setTimeout(() => {
      const index = this.#idle.indexOf(thread);
      if (index === -1) return;
      this.#idle.splice(index, 1);
      this.#started -= 1;
      thread.stop();
    }, IDLE_EXIT_MS).unref();
    this.#idle.push(thread);
  }
}

/** The process-wide pool every native session runs on. */
export const runThreads = new RunThreadPool();

/**
 * Starts `run-thread-worker` next to this file. From TypeScript sources (under tsx) the worker
 * registers tsx itself: on Node 20 the `--import tsx` hooks do not reach worker threads.
 */
function spawnRunThread(data: RunThreadData): Worker {
  const here = fileURLToPath(import.meta.url);
  const extension = path.extname(here);
  const entry = path.join(path.dirname(here), `run-thread-worker${extension}`);
  if (extension !== '.ts') return new Worker(entry, { workerData: data, stdout: false, stderr: false });
  const tsx = import.meta.resolve('tsx/esm/api');
  const source =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(pathToFileURL(entry).href)}); });`;
  return new Worker(source, { eval: true, workerData: data });
}
