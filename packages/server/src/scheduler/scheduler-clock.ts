import { nowNs } from '../util/clock.js';
import { preparePreciseTimers, schedulePrecise } from '@nereid/precise-timer';

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
  /** Readies sub-millisecond timers ahead of their first use (a scheduler with a delay calls it). */
  prepareTimers?(): void;
}

/** Timers at least this far away use setTimeout (its ~1 ms error is small beside them). */
const COARSE_TIMER_NS = 20_000_000;

/** The process clock: sub-20 ms delays go to the precise timer thread (see @nereid/precise-timer). */
export const processClock: SchedulerClock = {
  nowNs,
  schedule(delayNs, fn) {
    if (delayNs < COARSE_TIMER_NS) return schedulePrecise(delayNs, fn);
    const timer = setTimeout(fn, Math.ceil(delayNs / 1e6));
    return () => clearTimeout(timer);
  },
  defer(fn) {
    setImmediate(fn);
  },
  prepareTimers: preparePreciseTimers,
};
