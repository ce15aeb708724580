/**
 * Nereid's adaptive queue delay (opt-in per model; design record 0007). Instead of a fixed
 * `max_queue_delay_microseconds`, each time an instance is free and a batch is pending it asks: is
 * waiting for one more request worth it?
 *
 * - It fits an execution's duration as `a·n + b` (n = batch rows) by least squares over recent
 *   executions, older ones decaying. `b` is what one more request saves by sharing a run instead of
 *   needing its own.
 * - It tracks the gap between arrivals (a moving average), the expected wait for the next one.
 * - It waits only while the n pending requests' combined extra wait, n·gap, is below b; while the
 *   oldest request stays within the ceiling (`max_queue_delay_microseconds`); and while arrivals
 *   still come (no arrival for two gaps means the clients are all waiting for us: send).
 * - When batching does not pay (b below one row's cost a, as for a compute-bound model), one large
 *   batch only makes the other instances idle while it runs: a batch then takes at most its share
 *   of the queue (queued / instances), so the work spreads over them (balanceCap).
 */
export class AdaptiveDelay {
  readonly #ceilingNs: number;
  readonly #maxRows: number;
  // Decayed least-squares sums over (rows, duration ns).
  #s = 0;
  #sx = 0;
  #sy = 0;
  #sxx = 0;
  #sxy = 0;
  #gapNs = 0;
  #lastArrivalNs = 0;

  /** Weight kept by older samples at each new one: ~the last 50 executions count. */
  static readonly DECAY = 0.98;
  /** Arrival-gap smoothing. */
  static readonly GAP_WEIGHT = 0.1;

  constructor(ceilingNs: number, maxRows: number) {
    this.#ceilingNs = ceilingNs;
    this.#maxRows = maxRows;
  }

  recordArrival(nowNs: number): void {
    if (this.#lastArrivalNs !== 0) {
      const gap = Math.max(0, nowNs - this.#lastArrivalNs);
      this.#gapNs = this.#gapNs === 0 ? gap : this.#gapNs + AdaptiveDelay.GAP_WEIGHT * (gap - this.#gapNs);
    }
    this.#lastArrivalNs = nowNs;
  }

  recordExecution(rows: number, durationNs: number): void {
    const d = AdaptiveDelay.DECAY;
    this.#s = this.#s * d + 1;
    this.#sx = this.#sx * d + rows;
    this.#sy = this.#sy * d + durationNs;
    this.#sxx = this.#sxx * d + rows * rows;
    this.#sxy = this.#sxy * d + rows * durationNs;
  }

  /** The fitted `a·n + b` (ns): slope and intercept, both ≥ 0; b is the mean while one size was seen. */
  model(): { readonly perRowNs: number; readonly fixedNs: number } {
    if (this.#s === 0) return { perRowNs: 0, fixedNs: 0 };
    const meanX = this.#sx / this.#s;
    const meanY = this.#sy / this.#s;
    const varX = this.#sxx / this.#s - meanX * meanX;
    if (varX < 1e-9) return { perRowNs: 0, fixedNs: meanY };
    const slope = Math.max(0, (this.#sxy / this.#s - meanX * meanY) / varX);
    return { perRowNs: slope, fixedNs: Math.max(0, meanY - slope * meanX) };
  }

  /**
   * The most rows the next batch should take while `queued` requests wait and the model has
   * `instances`: the queue's share per instance while a run's fixed cost is below one row's cost
   * (batching then saves less than an idle instance loses); unbounded otherwise, and before
   * executions of two sizes were seen.
   */
  balanceCap(queued: number, instances: number): number {
    if (instances < 2) return Number.POSITIVE_INFINITY;
    const { perRowNs, fixedNs } = this.model();
    if (perRowNs === 0 || fixedNs >= perRowNs) return Number.POSITIVE_INFINITY;
    return Math.max(1, Math.ceil(queued / instances));
  }

  /** The expected gap between arrivals (ns); 0 before two arrivals. */
  arrivalGapNs(): number {
    return this.#gapNs;
  }

  /** How much longer the pending batch should wait (0 = send it now). */
  remainingNs(rows: number, oldestEnqueuedNs: number, nowNs: number): number {
    if (rows >= this.#maxRows || this.#gapNs === 0) return 0;
    const gap = this.#gapNs;
    // Arrivals have paused: everyone who will come soon is here.
    const nextArrivalBy = this.#lastArrivalNs + 2 * gap;
    if (nowNs >= nextArrivalBy) return 0;
    const untilCeiling = oldestEnqueuedNs + this.#ceilingNs - nowNs;
    const wait = Math.min(nextArrivalBy - nowNs, untilCeiling);
    if (wait <= 0) return 0;
    // The next arrival, ~one gap away, costs each pending request that gap; it saves a run's fixed cost.
    return rows * gap < this.model().fixedNs ? wait : 0;
  }
}
