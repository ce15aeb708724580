import { ServerError, toServerError, unavailable } from '../../errors/index.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { ExecutionListener } from '../default-scheduler.js';
import type { SchedulerClock } from '../scheduler-clock.js';
import type { ExecutionTarget, Outcome, ScheduledRequest, Scheduler } from '../scheduler.js';
import type { AdaptiveDelay } from './adaptive-delay.js';
import { CLOSE_REASONS, formBatch, type BatchRules, type CloseReason, type DelayJudge } from './batch-former.js';
import { PriorityQueue, type QueueEntry } from './priority-queue.js';
import type { ModelDynamicBatching } from '@nereid/protocol/generated/model_config_pb';
import type { BatcherStatistics } from '../../metrics/statistics-types.js';

export interface DynamicBatcherOptions {
  readonly modelName: string;
  /** The normalised dynamic_batching block. */
  readonly batching: ModelDynamicBatching;
  readonly maxBatchSize: number;
  readonly batchKey: (request: InferenceRequest) => string;
  readonly clock: SchedulerClock;
  readonly onExecution: ExecutionListener;
  /** Set when the model opts into the adaptive delay. */
  readonly adaptive?: AdaptiveDelay | undefined;
  /** Called for every batch sent, e.g. to log it at verbose level. */
  readonly onBatch?: (batch: FormedBatch) => void;
}

/** A batch as it leaves the queue. */
export interface FormedBatch {
  readonly instance: string;
  readonly requests: number;
  readonly rows: number;
  readonly reason: CloseReason;
  /** Priority levels of its requests, highest first (computed on demand: logging is usually off). */
  levels(): number[];
}


/**
 * Triton's dynamic batcher. Requests wait in a priority queue; whenever an instance is free, the
 * queue's head forms a batch by Triton's rules (batch-former.ts), which runs as one execution on
 * that instance while others form on the other free instances. Batches form only when an instance
 * is free, so under load requests gather into larger batches even with no queue delay. With
 * `preserve_ordering`, responses complete in the order their requests left the queue.
 */
export class DynamicBatcher implements Scheduler {
  readonly #options: DynamicBatcherOptions;
  readonly #rules: BatchRules;
  readonly #delay: DelayJudge;
  readonly #queue: PriorityQueue;
  readonly #idle: ExecutionTarget[];
  readonly #instances: number;
  readonly #preserveOrdering: boolean;
  readonly #closedBy = Object.fromEntries(CLOSE_REASONS.map((reason) => [reason, 0])) as Record<CloseReason, number>;
  #rejectedQueueFull = 0;
  #rejectedTimeout = 0;
  #cancelled = 0;
  #executing = 0;
  #formScheduled = false;
  #cancelTimer: (() => void) | undefined;
  #timerDueNs = 0;
  #stopped = false;
  #drained: (() => void) | undefined;
  // preserve_ordering: completions wait for every earlier dispatched request.
  #nextSequence = 0;
  #nextToRelease = 0;
  readonly #held = new Map<number, () => void>();

  constructor(targets: readonly ExecutionTarget[], options: DynamicBatcherOptions) {
    this.#options = options;
    const preferred = new Set(options.batching.preferredBatchSize);
    const maxBatchSize = Math.max(1, options.maxBatchSize);
    this.#rules = { maxBatchSize, preferredSizes: preferred, maxPreferredSize: Math.max(0, ...preferred) };
    const fixedDelayNs = Number(options.batching.maxQueueDelayMicroseconds) * 1000;
    const adaptive = options.adaptive;
    this.#delay = adaptive
      ? { fixedDelayNs, remainingNs: (rows, oldest, now) => adaptive.remainingNs(rows, oldest, now) }
      : { fixedDelayNs };
    this.#queue = new PriorityQueue(options.batching);
    if (fixedDelayNs > 0 || adaptive) options.clock.prepareTimers?.();
    this.#idle = [...targets];
    this.#instances = targets.length;
    this.#preserveOrdering = options.batching.preserveOrdering;
  }

  enqueue(work: ScheduledRequest): void {
    const { request } = work;
    if (this.#stopped) {
      work.complete({ ok: false, error: unavailable(`model '${request.modelName}' is unloading`), reason: 'REFUSED' });
      return;
    }
    if (work.signal?.aborted) {
      this.#cancelled += 1;
      work.complete({ ok: false, error: cancelledError(), reason: 'CANCELED' });
      return;
    }
    const now = this.#options.clock.nowNs();
    const level = this.#queue.levelOf(request.priority);
    const entry: QueueEntry = {
      work,
      size: Math.max(1, request.batchSize),
      batchKey: this.#options.batchKey(request),
      level,
      deadlineNs: this.#queue.deadlineFor(level, request.timeoutMicroseconds, now),
      onAbort: undefined,
    };
    const refused = this.#queue.enqueue(entry);
    if (refused) {
      this.#rejectedQueueFull += 1;
      work.complete({ ok: false, error: refused, reason: 'REFUSED' });
      return;
    }
    this.#options.adaptive?.recordArrival(now);
    if (work.signal) {
      entry.onAbort = () => this.#cancelQueued(entry);
      work.signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.#requestForm();
  }

  inflightCount(): number {
    return this.#queue.size + this.#executing;
  }

  stop(): Promise<void> {
    this.#stopped = true;
    if (this.inflightCount() === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  statistics(): BatcherStatistics {
    return {
      closed_by: { ...this.#closedBy },
      rejected_queue_full: this.#rejectedQueueFull,
      rejected_timeout: this.#rejectedTimeout,
      cancelled: this.#cancelled,
    };
  }

  /** Forms batches once this turn's arrivals are in, if an instance is free to take one. */
  #requestForm(): void {
    if (this.#formScheduled || this.#idle.length === 0 || this.#queue.size === 0) return;
    this.#formScheduled = true;
    this.#options.clock.defer(() => {
      this.#formScheduled = false;
      this.#form();
    });
  }

  #form(): void {
    const clock = this.#options.clock;
    while (this.#idle.length > 0 && this.#queue.size > 0) {
      const now = clock.nowNs();
      for (const entry of this.#queue.expire(now)) this.#finishSkipped(entry, timeoutError());
      const capRows = this.#options.adaptive?.balanceCap(this.#queue.size, this.#instances);
      const decision = formBatch(this.#candidates(), this.#rules, this.#delay, now, capRows);
      if (!decision.send) {
        const nearest = this.#queue.nearestDeadline();
        // Wake for the delay, or for the first timeout (to reject or move it at once).
        const untilNs = nearest !== 0 && nearest < decision.untilNs ? nearest + 1 : decision.untilNs;
        if (untilNs !== 0) this.#wakeAt(untilNs);
        this.#checkDrained();
        return;
      }
      const entries = this.#queue.take(decision.count);
      const target = this.#idle.pop()!;
      this.#closedBy[decision.reason] += 1;
      this.#options.onBatch?.({
        instance: target.name,
        requests: entries.length,
        rows: decision.rows,
        reason: decision.reason,
        levels: () => [...new Set(entries.map((entry) => entry.level))],
      });
      void this.#run(target, entries, now);
    }
    this.#checkDrained();
  }

  *#candidates(): Generator<{ size: number; batchKey: string; enqueuedNs: number }> {
    for (const entry of this.#queue.inOrder()) {
      yield { size: entry.size, batchKey: entry.batchKey, enqueuedNs: entry.work.enqueuedNs };
    }
  }

  #wakeAt(untilNs: number): void {
    if (this.#cancelTimer !== undefined && this.#timerDueNs <= untilNs) return;
    this.#cancelTimer?.();
    this.#timerDueNs = untilNs;
    const clock = this.#options.clock;
    this.#cancelTimer = clock.schedule(Math.max(0, untilNs - clock.nowNs()), () => {
      this.#cancelTimer = undefined;
      this.#form();
    });
  }

  async #run(target: ExecutionTarget, entries: readonly QueueEntry[], dispatchNs: number): Promise<void> {
    this.#executing += entries.length;
    const requests = entries.map((entry) => {
      // A signal may outlive its request (HTTP shares one per connection): stop listening now.
      if (entry.onAbort) entry.work.signal?.removeEventListener('abort', entry.onAbort);
      return entry.work.request;
    });
    const sequences = entries.map(() => this.#nextSequence++);
    const rows = entries.reduce((sum, entry) => sum + entry.size, 0);
    const outcomes: Outcome[] = [];
    try {
      const started = this.#options.clock.nowNs();
      const result = await target.execute(requests);
      this.#options.adaptive?.recordExecution(rows, this.#options.clock.nowNs() - started);
      const { computeInputNs, computeInferNs, computeOutputNs } = result.timings;
      this.#options.onExecution(rows, result.timings);
      entries.forEach((entry, index) => {
        const response = result.responses[index];
        if (response === undefined) {
          outcomes.push({ ok: false, error: toServerError(new Error(`instance ${target.name} returned no response`)) });
        } else if (response instanceof ServerError) {
          outcomes.push({ ok: false, error: response });
        } else {
          const queueNs = dispatchNs - entry.work.enqueuedNs;
          outcomes.push({ ok: true, outputs: response, timings: { queueNs, computeInputNs, computeInferNs, computeOutputNs }, parameters: result.parameters?.[index] });
        }
      });
    } catch (error) {
      const failure = toServerError(error);
      for (let i = outcomes.length; i < entries.length; i++) outcomes.push({ ok: false, error: failure });
    }
    entries.forEach((entry, index) => this.#complete(sequences[index]!, () => entry.work.complete(outcomes[index]!)));
    this.#executing -= entries.length;
    this.#idle.push(target);
    this.#requestForm();
    this.#checkDrained();
  }

  /** Completes now, or (preserve_ordering) once every earlier request has completed. */
  #complete(sequence: number, finish: () => void): void {
    if (!this.#preserveOrdering) {
      finish();
      return;
    }
    this.#held.set(sequence, finish);
    for (let next = this.#held.get(this.#nextToRelease); next; next = this.#held.get(this.#nextToRelease)) {
      this.#held.delete(this.#nextToRelease);
      this.#nextToRelease += 1;
      next();
    }
  }

  #cancelQueued(entry: QueueEntry): void {
    if (!this.#queue.remove(entry)) return;
    this.#cancelled += 1;
    entry.work.complete({ ok: false, error: cancelledError(), reason: 'CANCELED' });
    this.#checkDrained();
  }

  #finishSkipped(entry: QueueEntry, error: ServerError): void {
    if (entry.onAbort) entry.work.signal?.removeEventListener('abort', entry.onAbort);
    this.#rejectedTimeout += 1;
    entry.work.complete({ ok: false, error, reason: 'REJECTED' });
  }

  #checkDrained(): void {
    if (this.#drained && this.inflightCount() === 0) {
      this.#cancelTimer?.();
      this.#drained();
    }
  }
}

function cancelledError(): ServerError {
  return new ServerError('CANCELLED', 'request cancelled');
}

/** Triton's text for a request whose queue timeout expired under the REJECT action. */
function timeoutError(): ServerError {
  return unavailable('Request timeout expired');
}
