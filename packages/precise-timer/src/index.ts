import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Monotonic nanoseconds as a number. */
function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Sub-millisecond timers without spinning (the server's batching delays, nereid-perf's request
 * pacing). `setTimeout` has 1 ms granularity and fires up to a millisecond late, which a 100 µs
 * batching delay or a 1000/s send schedule cannot use; re-checking every event-loop turn
 * keeps a core busy for the whole wait (measured: ~290 µs of CPU per request for a 100 µs delay),
 * taking it from the model runs. Instead one small thread sleeps until the earliest due time
 * (Atomics.wait takes a fractional-millisecond timeout) and wakes the main thread through
 * Atomics.waitAsync, ~20–50 µs late, at the cost of a thread wake-up.
 */

/** Control block: [0] generation (bumped when the due time changes; -1 = exit), [1] fired count. */
const CONTROL_BYTES = 16;

/** The thread's loop, as CommonJS source for an eval'd worker (no build step, no file to find). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control, 0, 2);
const due = new Float64Array(workerData.control, 8, 1);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const SPIN_MS = workerData.spinMs;
for (;;) {
  const generation = Atomics.load(control, 0);
  if (generation < 0) break;
  const left = due[0] - nowMs();
  if (left > SPIN_MS) {
    // A timed futex wait wakes up to ~50 µs late (timer slack): sleep until just before, then spin
    // (not on a single CPU, where spinning would take it from the thread the timer is for).
    Atomics.wait(control, 0, generation, Number.isFinite(left) ? left - SPIN_MS : undefined);
    continue;
  }
  if (left > 0) continue;
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
  // Sleep until the main thread sets the next due time.
  Atomics.wait(control, 0, generation);
}
`;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface Timer {
  readonly dueNs: number;
  readonly fn: () => void;
  cancelled: boolean;
}

class PreciseTimers {
  #worker: Worker | undefined;
  #control: Int32Array | undefined;
  #due: Float64Array | undefined;
  /** Pending timers, soonest first (few at a time: one per batcher waiting on a delay). */
  #timers: Timer[] = [];
  #listening = false;

  schedule(delayNs: number, fn: () => void): () => void {
    const timer: Timer = { dueNs: nowNs() + delayNs, fn, cancelled: false };
    let at = this.#timers.length;
    while (at > 0 && this.#timers[at - 1]!.dueNs > timer.dueNs) at--;
    this.#timers.splice(at, 0, timer);
    if (at === 0) this.#arm();
    return () => {
      timer.cancelled = true;
    };
  }

  /** Tells the thread the soonest due time and listens for its wake-up. */
  #arm(): void {
    this.#start();
    const control = this.#control!;
    const next = this.#timers[0];
    // Read before the thread can fire for the new due time, or its wake-up could be missed.
    const firedBefore = Atomics.load(control, 1);
    this.#due![0] = next === undefined ? Number.POSITIVE_INFINITY : next.dueNs / 1e6;
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
    if (next !== undefined) this.#listen(firedBefore);
  }

  #listen(firedBefore: number): void {
    if (this.#listening) return;
    this.#listening = true;
    const control = this.#control!;
    const wait = waitAsync(control, 1, firedBefore);
    const fired = (): void => {
      this.#listening = false;
      this.#fire();
    };
    if (wait.async) void wait.value.then(fired);
    else queueMicrotask(fired);
  }

  #fire(): void {
    const now = nowNs();
    const due: Timer[] = [];
    while (this.#timers.length > 0 && (this.#timers[0]!.cancelled || this.#timers[0]!.dueNs <= now)) {
      const timer = this.#timers.shift()!;
      if (!timer.cancelled) due.push(timer);
    }
    this.#arm();
    for (const timer of due) timer.fn();
  }

  prepare(): void {
    this.#start();
  }

  #start(): void {
    if (this.#worker !== undefined) return;
    const shared = new SharedArrayBuffer(CONTROL_BYTES);
    this.#control = new Int32Array(shared, 0, 2);
    this.#due = new Float64Array(shared, 8, 1);
    this.#due[0] = Number.POSITIVE_INFINITY;
    const spinMs = availableParallelism() > 1 ? 0.06 : 0;
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control: shared, spinMs }, stdout: false, stderr: false });
    // Pending timers belong to requests whose sockets keep the process alive; the thread must not.
    this.#worker.unref();
  }
}

const timers = new PreciseTimers();

/** Starts the timer thread now (it takes milliseconds), so the first timer is not late by that. */
export function preparePreciseTimers(): void {
  timers.prepare();
}

/** Calls `fn` after `delayNs` (never synchronously), ~20–50 µs late; returns a cancel function. */
export function schedulePrecise(delayNs: number, fn: () => void): () => void {
  return timers.schedule(Math.max(0, delayNs), fn);
}
