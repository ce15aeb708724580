import { nowNs } from '../util/clock.js';

/**
 * Time as the schedulers see it, injected so tests decide verdicts by advancing a fake clock, never
 * by sleeping.
 */
export interface SchedulerClock {
  /** Monotonic nanoseconds. */
  nowNs(): number;
  /** Calls `fn` once `delayNs` has passed (never synchronously); returns a function that cancels it. */
  schedule(delayNs: number, fn: () => void): () => void;
  /**
   * Calls `fn` after the I/O of the current event-loop turn has been handled, so requests that
   * arrive together (a turn reads many sockets) are seen together, as Triton's batcher thread does.
   */
  defer(fn: () => void): void;
}

/** Timers at least this far away use setTimeout; nearer ones re-check each turn (setTimeout is 1 ms coarse). */
const COARSE_TIMER_NS = 1_500_000;

/** The process clock: microsecond delays are kept by re-checking every turn once within ~1.5 ms. */
export const processClock: SchedulerClock = {
  nowNs,
  schedule(delayNs, fn) {
    const due = nowNs() + delayNs;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      timer = undefined;
      if (cancelled) return;
      const left = due - nowNs();
      if (left <= 0) fn();
      else if (left >= COARSE_TIMER_NS) timer = setTimeout(check, Math.floor(left / 1e6) - 1);
      else setImmediate(check);
    };
    setImmediate(check);
    return () => {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  },
  defer(fn) {
    setImmediate(fn);
  },
};
