/**
 * model_analyzer's early exits. A concurrency sweep stops when, over the last `minTries` results,
 * the best throughput is no more than `minGain` above the first of them
 * (`throughput_gain_valid_helper`, THROUGHPUT_MINIMUM_GAIN = 0.05, 4 tries). A `max_batch_size`
 * walk stops as soon as a batch size does not beat every earlier one
 * (`_last_results_increased_throughput`).
 */

/** Gain below which a sweep stops (model_analyzer's THROUGHPUT_MINIMUM_GAIN). */
export const THROUGHPUT_MINIMUM_GAIN = 0.05;
/** How many consecutive results the gain is judged over (THROUGHPUT_MINIMUM_CONSECUTIVE_PARAMETER_TRIES). */
export const THROUGHPUT_MINIMUM_CONSECUTIVE_TRIES = 4;

/** True while the sweep should go on: fewer than `minTries` results, or the last ones still gain. */
export function throughputGainValid(
  throughputs: readonly number[],
  minTries = THROUGHPUT_MINIMUM_CONSECUTIVE_TRIES,
  minGain = THROUGHPUT_MINIMUM_GAIN,
): boolean {
  if (throughputs.length < minTries) return true;
  const last = throughputs.slice(-minTries);
  const first = last[0] ?? 0;
  if (first <= 0) return true;
  return (Math.max(...last) - first) / first > minGain;
}

/** True while a `max_batch_size` walk should go on: the latest result beats every earlier one. */
export function lastIncreasedThroughput(throughputs: readonly number[]): boolean {
  if (throughputs.length < 2) return true;
  const latest = throughputs[throughputs.length - 1] ?? 0;
  return throughputs.slice(0, -1).every((earlier) => latest > earlier);
}
