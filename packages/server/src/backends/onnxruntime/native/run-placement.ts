/**
 * Whether a session's next run computes inline on the event-loop thread or on a run thread.
 *
 * A hop to a run thread costs ~20–35 µs of latency and tens of µs of CPU across the two threads; a
 * tiny model (Triton's `simple`) computes in ~3 µs. So a run goes inline when the median of the
 * session's last RECENT_RUNS run times is under INLINE_RUN_LIMIT_NS and its inputs are no larger than
 * twice the largest inputs seen finishing that fast. The median, not the maximum: on a busy machine
 * any thread is sometimes descheduled mid-run, and one such run must not send a 3 µs model to run
 * threads. A model whose runs are really slow has a slow median after a few runs, and a run with
 * inputs of a new size is measured on a run thread first, so a long run never holds the event loop:
 * at worst a few runs of a known-fast size do, for about the limit each.
 */

/** Runs expected to finish under this compute inline (50 µs). */
export const INLINE_RUN_LIMIT_NS = 50_000;
/** How many recent run times the median is taken over. */
export const RECENT_RUNS = 5;

export class RunPlacement {
  /** The last RECENT_RUNS run times, oldest overwritten first; NaN until filled. */
  readonly #recent = new Float64Array(RECENT_RUNS).fill(Number.NaN);
  /** Scratch for the median (sorted copy of the known times). */
  readonly #sorted = new Float64Array(RECENT_RUNS);
  #next = 0;
  /** Largest input size (bytes) of a run that finished under the limit; -1 before any. */
  #fastInputBytes = -1;
  #medianNs = Number.POSITIVE_INFINITY;
  readonly #limitNs: number;

  constructor(limitNs = INLINE_RUN_LIMIT_NS) {
    this.#limitNs = limitNs;
  }

  /** True when a run with inputs of `inputBytes` should compute inline. */
  inline(inputBytes: number): boolean {
    return this.#medianNs < this.#limitNs && inputBytes <= 2 * this.#fastInputBytes;
  }

  /** Records how long a run took (wherever it ran). */
  record(inputBytes: number, runNs: number): void {
    this.#recent[this.#next] = runNs;
    this.#next = (this.#next + 1) % RECENT_RUNS;
    // Insertion sort of the known times into the scratch (no allocation on this per-run path).
    let known = 0;
    for (const time of this.#recent) {
      if (Number.isNaN(time)) continue;
      let at = known++;
      while (at > 0 && (this.#sorted[at - 1] ?? 0) > time) {
        this.#sorted[at] = this.#sorted[at - 1] ?? 0;
        at--;
      }
      this.#sorted[at] = time;
    }
    // Until RECENT_RUNS runs are known, the slower middle (the upper median) decides.
    this.#medianNs = this.#sorted[Math.floor(known / 2)] ?? Number.POSITIVE_INFINITY;
    if (runNs < this.#limitNs) this.#fastInputBytes = Math.max(this.#fastInputBytes, inputBytes);
  }
}
