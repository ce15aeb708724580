/**
 * The server-wide budget of compute threads: one token per core. A run that leaves the event loop
 * takes as many tokens as its session has intra-op threads (at most all of them) and gives them back
 * when it ends; runs that find too few tokens wait in arrival order. So however many models and
 * instances are busy, the threads computing at any moment never outnumber the cores (thread-plan.ts
 * sizes each model's sessions so its own instances fit at once). Inline runs (a few µs on the
 * event-loop thread, see run-placement.ts) take no tokens.
 */
import { availableParallelism } from 'node:os';

interface Waiter {
  readonly tokens: number;
  readonly grant: () => void;
}

export class ComputeBudget {
  readonly capacity: number;
  #free: number;
  readonly #waiting: Waiter[] = [];

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
    this.#free = this.capacity;
  }

  /** Tokens not taken now. */
  get free(): number {
    return this.#free;
  }

  /** Resolves once `tokens` (capped at the capacity) are taken; returns how many were. */
  acquire(tokens: number): Promise<number> | number {
    const wanted = Math.min(Math.max(1, tokens), this.capacity);
    if (this.#waiting.length === 0 && this.#free >= wanted) {
      this.#free -= wanted;
      return wanted;
    }
    return new Promise((resolve) => {
      this.#waiting.push({ tokens: wanted, grant: () => resolve(wanted) });
    });
  }

  release(tokens: number): void {
    this.#free += tokens;
    // First come, first served: a large request at the head is not overtaken by small ones.
    for (let head = this.#waiting[0]; head !== undefined && head.tokens <= this.#free; head = this.#waiting[0]) {
      this.#waiting.shift();
      this.#free -= head.tokens;
      head.grant();
    }
  }
}

/** The process's budget, one token per core. */
export const computeBudget = new ComputeBudget(availableParallelism());
