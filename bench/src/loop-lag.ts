/**
 * Event-loop lag of the calling process, two ways at once:
 *   - perf_hooks.monitorEventLoopDelay at 1 ms resolution. Node records each interval between its
 *     1 ms timer's callbacks, so lag = recorded value − 1 ms (clamped at 0). libuv's timers count in
 *     whole milliseconds, so an idle loop already shows up to ~1 ms here: compare with a baseline.
 *   - a 1 ms setTimeout chain: how late each callback ran after it was due (worst lateness = the
 *     longest stall the loop had while the monitor was on);
 *   - garbage collections (PerformanceObserver 'gc'): how many full (mark-compact) ones and how long
 *     the main thread was paused in them, a usual cause of lag when requests allocate large buffers.
 * Start/stop may be called repeatedly: the figures accumulate over all the started spans.
 */
import { PerformanceObserver, constants, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 1;

export interface LagSummary {
  /** monitorEventLoopDelay, minus its 1 ms resolution, in ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly samples: number;
  /** Worst lateness of the 1 ms timer chain, in ms. */
  readonly worstTimerMs: number;
  /** Mark-compact collections, main-thread pause of all collections (ms) and the longest pause (ms). */
  readonly majorGcs: number;
  readonly gcPauseMs: number;
  readonly gcMaxMs: number;
  /** Time the monitor was on, in seconds. */
  readonly seconds: number;
}

export class LoopLag {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  #timer: NodeJS.Timeout | undefined;
  #worstTimerMs = 0;
  #majorGcs = 0;
  #gcPauseMs = 0;
  #gcMaxMs = 0;
  #onMs = 0;
  #since = 0;
  readonly #gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.#majorGcs += 1;
      this.#gcPauseMs += entry.duration;
      this.#gcMaxMs = Math.max(this.#gcMaxMs, entry.duration);
    }
  });

  start(): void {
    this.#since = performance.now();
    this.#gc.observe({ entryTypes: ['gc'] });
    this.#histogram.enable();
    let due = performance.now() + RESOLUTION_MS;
    const tick = (): void => {
      const now = performance.now();
      this.#worstTimerMs = Math.max(this.#worstTimerMs, now - due);
      due = now + RESOLUTION_MS;
      this.#timer = setTimeout(tick, RESOLUTION_MS);
    };
    this.#timer = setTimeout(tick, RESOLUTION_MS);
  }

  stop(): void {
    this.#onMs += performance.now() - this.#since;
    this.#gc.disconnect();
    this.#histogram.disable();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  summary(): LagSummary {
    const lag = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    const h = this.#histogram;
    return {
      p50Ms: lag(h.percentile(50)),
      p99Ms: lag(h.percentile(99)),
      maxMs: lag(h.max),
      samples: h.count,
      worstTimerMs: this.#worstTimerMs,
      majorGcs: this.#majorGcs,
      gcPauseMs: this.#gcPauseMs,
      gcMaxMs: this.#gcMaxMs,
      seconds: this.#onMs / 1000,
    };
  }
}
