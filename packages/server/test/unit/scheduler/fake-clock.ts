import type { SchedulerClock } from '../../../src/scheduler/scheduler-clock.js';

/** A scheduler clock the test moves: timers fire on advance(), deferred calls on settle(). */
export class FakeClock implements SchedulerClock {
  now = 1_000_000;
  #timers: Array<{ due: number; fn: () => void; cancelled: boolean }> = [];
  #deferred: Array<() => void> = [];

  nowNs(): number {
    return this.now;
  }

  schedule(delayNs: number, fn: () => void): () => void {
    const timer = { due: this.now + delayNs, fn, cancelled: false };
    this.#timers.push(timer);
    return () => (timer.cancelled = true);
  }

  defer(fn: () => void): void {
    this.#deferred.push(fn);
  }

  /** Runs deferred work and pending promise callbacks until nothing is left to run. */
  async settle(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      const deferred = this.#deferred.splice(0);
      if (deferred.length === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        if (this.#deferred.length === 0) return;
        continue;
      }
      for (const fn of deferred) fn();
    }
  }

  /** Moves time forward, firing due timers in order, and settles after each. */
  async advanceUs(us: number): Promise<void> {
    const end = this.now + us * 1000;
    for (;;) {
      const next = this.#timers.filter((t) => !t.cancelled && t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      this.now = Math.max(this.now, next.due);
      next.cancelled = true;
      next.fn();
      await this.settle();
    }
    this.now = end;
    await this.settle();
  }
}
