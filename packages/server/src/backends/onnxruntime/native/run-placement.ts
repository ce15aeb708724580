/**
 * Whether a session's next run computes inline on the event-loop thread or on a run thread.
 *
 * A hop to a run thread costs ~20–35 µs of latency and a few µs of main-thread work; a tiny model
 * (Triton's `simple`) computes in ~10 µs. So a run goes inline when the session's recent runs all
 * finished under INLINE_RUN_LIMIT_NS and its inputs are no larger than twice the largest inputs seen
 * finishing that fast. The estimate rises to any slower run at once and decays slowly, so one slow
 * run sends the session back to run threads; runs with inputs of a new size are measured on a run
 * thread first. A long run therefore never holds the event loop: at worst one run of a known-fast
 * size does, for about the limit.
 */

/** Runs expected to finish under this compute inline (50 µs). */
export const INLINE_RUN_LIMIT_NS = 50_000;

export class RunPlacement {
  /** Slow-decaying maximum of recent run times; starts high so first runs are measured off-thread. */
  #estimateNs = Number.POSITIVE_INFINITY;
  /** Largest input size (bytes) of a run that finished under the limit. */
  #fastInputBytes = -1;
  readonly #limitNs: number;

  constructor(limitNs = INLINE_RUN_LIMIT_NS) {
    this.#limitNs = limitNs;
  }

  /** True when a run with inputs of `inputBytes` should compute inline. */
  inline(inputBytes: number): boolean {
    return this.#estimateNs < this.#limitNs && inputBytes <= 2 * this.#fastInputBytes;
  }

  /** Records how long a run took (wherever it ran). */
  record(inputBytes: number, runNs: number): void {
    if (runNs >= this.#estimateNs || !Number.isFinite(this.#estimateNs)) this.#estimateNs = runNs;
    else this.#estimateNs = this.#estimateNs * 0.95 + runNs * 0.05;
    if (runNs < this.#limitNs) this.#fastInputBytes = Math.max(this.#fastInputBytes, inputBytes);
    else this.#fastInputBytes = Math.min(this.#fastInputBytes, inputBytes - 1);
  }
}
