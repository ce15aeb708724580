/**
 * Which queued requests form the next batch, with the rules of Triton's dynamic batcher
 * (dynamic_batch_scheduler.cc GetDynamicBatch). Pure: the batcher calls it whenever an instance is
 * free and requests are queued, with the queue in dispatch order and the time.
 */

/** The dynamic_batching settings the rules read (after normalisation). */
export interface BatchRules {
  /** max(1, max_batch_size). */
  readonly maxBatchSize: number;
  /** preferred_batch_size; normalisation makes it [max_batch_size] when the config names none. */
  readonly preferredSizes: ReadonlySet<number>;
  readonly maxPreferredSize: number;
}

/** What the former needs of one queued request. */
export interface Candidate {
  readonly size: number;
  readonly batchKey: string;
  readonly enqueuedNs: number;
}

/**
 * Why a batch was closed, as counted in statistics and logged at verbose level:
 * - `max_batch_size`: the next request would not fit, or the batch is full;
 * - `preferred_batch_size`: a preferred size was formed;
 * - `shape_mismatch`: the next request's shapes differ from the batch's;
 * - `queue_delay`: the oldest request waited `max_queue_delay_microseconds`;
 * - `no_delay`: `max_queue_delay_microseconds` is 0, so what was queued went at once;
 * - `adaptive`: the adaptive delay judged that waiting for more would cost more than it saves;
 * - `instance_balance`: the adaptive delay left the rest of the queue to the model's other instances
 *   (batching does not pay for this model: see AdaptiveDelay.balanceCap).
 */
export type CloseReason =
  | 'max_batch_size'
  | 'preferred_batch_size'
  | 'shape_mismatch'
  | 'queue_delay'
  | 'no_delay'
  | 'adaptive'
  | 'instance_balance';

export const CLOSE_REASONS: readonly CloseReason[] = [
  'max_batch_size',
  'preferred_batch_size',
  'shape_mismatch',
  'queue_delay',
  'no_delay',
  'adaptive',
  'instance_balance',
];

export type BatchDecision =
  | { readonly send: true; readonly count: number; readonly rows: number; readonly reason: CloseReason }
  /** Nothing to send yet: look again at `untilNs` (or when a request arrives). */
  | { readonly send: false; readonly untilNs: number };

/**
 * How long the oldest request of a pending batch may wait: a fixed `max_queue_delay_microseconds`,
 * or the adaptive delay's judgement for this batch.
 */
export interface DelayJudge {
  /** 0 = send what is queued at once (Triton's default). */
  readonly fixedDelayNs: number;
  /** Adaptive mode: ns the batch should still wait (0 = send now). Fixed mode: undefined. */
  remainingNs?(rows: number, oldestEnqueuedNs: number, nowNs: number): number;
}

/**
 * Walks the queue from its head: requests join while the batch stays within max_batch_size (and
 * within `capRows`, the adaptive delay's share of the queue for one instance) and their batch key
 * matches the first one's (a request never skips ahead of another). Then, like Triton: a preferred
 * size formed (the largest) goes at once unless the delay has expired (then the largest batch goes);
 * a batch that cannot grow goes at once; otherwise it waits for the delay.
 */
export function formBatch(
  queue: Iterable<Candidate>,
  rules: BatchRules,
  delay: DelayJudge,
  nowNs: number,
  capRows = Number.POSITIVE_INFINITY,
): BatchDecision {
  let count = 0;
  let rows = 0;
  let oldestNs = Number.POSITIVE_INFINITY;
  let firstKey: string | undefined;
  let preferredCount = 0;
  let preferredRows = 0;
  let stop: CloseReason | undefined;
  for (const candidate of queue) {
    if (firstKey === undefined) {
      firstKey = candidate.batchKey;
    } else {
      const grown = rows + candidate.size;
      // Past the largest preferred size, the batch so far is the best preferred candidate.
      if (grown > rules.maxPreferredSize && preferredCount === 0) {
        preferredCount = count;
        preferredRows = rows;
      }
      if (grown > rules.maxBatchSize) {
        stop = 'max_batch_size';
        break;
      }
      if (grown > capRows) {
        stop = 'instance_balance';
        break;
      }
      if (candidate.batchKey !== firstKey) {
        stop = 'shape_mismatch';
        break;
      }
    }
    count += 1;
    rows += candidate.size;
    if (candidate.enqueuedNs < oldestNs) oldestNs = candidate.enqueuedNs;
    if (rules.preferredSizes.has(rows)) {
      preferredCount = count;
      preferredRows = rows;
    }
  }
  if (count === 0) return { send: false, untilNs: 0 };

  const fixed = delay.remainingNs === undefined;
  const waitNs = fixed ? oldestNs + delay.fixedDelayNs - nowNs : delay.remainingNs!(rows, oldestNs, nowNs);
  const delayExpired = fixed ? delay.fixedDelayNs !== 0 && waitNs <= 0 : waitNs <= 0;

  if (preferredCount !== 0 && !delayExpired) {
    // Also when the next request would overshoot the largest preferred size: Triton sends the
    // batch formed so far (labelled by what stopped it when that is not a preferred size).
    const reason = rules.preferredSizes.has(preferredRows) ? 'preferred_batch_size' : (stop ?? 'preferred_batch_size');
    return { send: true, count: preferredCount, rows: preferredRows, reason };
  }
  if (stop !== undefined) return { send: true, count, rows, reason: stop };
  if (rows >= rules.maxPreferredSize) {
    return { send: true, count, rows, reason: rows >= rules.maxBatchSize ? 'max_batch_size' : 'preferred_batch_size' };
  }
  if (fixed && delay.fixedDelayNs === 0) return { send: true, count, rows, reason: 'no_delay' };
  if (delayExpired) return { send: true, count, rows, reason: fixed ? 'queue_delay' : 'adaptive' };
  return { send: false, untilNs: nowNs + waitNs };
}
