import { FifoQueue } from '../../util/fifo-queue.js';

/**
 * `ensemble_scheduling.max_inflight_requests` for one step (Triton's StepInflightRequestLimiter):
 * at most `max` requests of the ensemble run that step at once; the others wait in arrival order,
 * so a slow step holds the pipeline back instead of piling up requests in front of its model.
 */
export class StepLimiter {
  readonly #max: number;
  #active = 0;
  readonly #waiting = new FifoQueue<() => void>();

  /** `max` 0: no limit. */
  constructor(max: number) {
    this.#max = max;
  }

  /** undefined when the step may run now; otherwise resolves when it may. */
  acquire(): Promise<void> | undefined {
    if (this.#max === 0 || this.#active < this.#max) {
      this.#active++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    if (this.#max === 0) return;
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter.
    if (next !== undefined) next();
    else this.#active--;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
