import { ServerError, invalidArg, quoted, unavailable } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import { correlationKey, inSequence, type CorrelationId } from '../../request/sequence-fields.js';
import type { SchedulerClock } from '../scheduler-clock.js';
import type { ScheduledRequest, Scheduler } from '../scheduler.js';
import type { SequenceControls } from './controls.js';
import type { SequenceItem, SequenceRecord, SlotGroup, SlotOwner, SlotRef } from './sequence-item.js';
import { RELEASE } from './sequence-item.js';

export interface SequenceBatcherOptions {
  readonly modelName: string;
  readonly controls: SequenceControls;
  /** `max_sequence_idle_microseconds` in ns. */
  readonly maxIdleNs: number;
  readonly clock: SchedulerClock;
  readonly logger: Logger;
}

/** Requests of a sequence that waits for a slot, in arrival order. */
interface Backlog {
  readonly sequence: SequenceRecord;
  readonly items: SequenceItem[];
}

/** A backlogged sequence's idle check is retried this often (Triton's reaper: 50 ms). */
const BACKLOG_IDLE_RECHECK_NS = 50_000_000;

/**
 * Triton's sequence batcher (SequenceBatchScheduler): checks each request's correlation ID and
 * flags, gives a starting sequence a free slot (the lowest slot index first, across instances) or
 * a place in the backlog when every slot is taken, routes later requests to their sequence's slot,
 * frees the slot at END, and releases sequences idle past `max_sequence_idle_microseconds` (their
 * later requests then fail as never started). Slot groups (direct or oldest) decide batches.
 */
export class SequenceBatcher implements Scheduler, SlotOwner {
  readonly #options: SequenceBatcherOptions;
  #groups: readonly SlotGroup[] = [];
  readonly #free: SlotRef[] = [];
  /** Sequences that have started and not ended, by correlation key. */
  readonly #active = new Map<string, SequenceRecord>();
  readonly #waitingBySequence = new Map<SequenceRecord, Backlog>();
  readonly #backlog: Backlog[] = [];
  #cancelReaper: (() => void) | undefined;
  #reaperDueNs = 0;
  #stopped = false;
  #drained: (() => void) | undefined;

  constructor(options: SequenceBatcherOptions) {
    this.#options = options;
  }

  /** Adds the instances' slot groups (they need this batcher as their owner, hence not in the constructor). */
  attach(groups: readonly SlotGroup[]): void {
    this.#groups = groups;
    const slots = Math.max(0, ...groups.map((group) => group.slotCount));
    for (let index = 0; index < slots; index++) {
      for (const group of groups) if (index < group.slotCount) this.#free.push({ group, index });
    }
  }

  enqueue(work: ScheduledRequest): void {
    const refused = this.#check(work.request);
    if (refused) {
      work.complete({ ok: false, error: refused, reason: 'REFUSED' });
      return;
    }
    if (work.signal?.aborted) {
      work.complete({ ok: false, error: cancelledError(), reason: 'CANCELED' });
      return;
    }
    const fields = work.request.sequence!;
    const key = correlationKey(fields.id);
    const now = this.#options.clock.nowNs();
    let sequence = this.#active.get(key);
    if (fields.start && sequence !== undefined) {
      this.#options.logger.warn(
        `sequence ${display(fields.id)} for model '${this.#options.modelName}' has a conflict. The previous sequence did not end ` +
          'before this sequence start. Previous sequence will be terminated early.',
      );
    }
    if (sequence === undefined) {
      sequence = { id: fields.id, key, state: undefined, slot: undefined, lastSeenNs: now };
      if (!fields.end) this.#active.set(key, sequence);
    } else if (fields.end) {
      this.#active.delete(key);
    }
    sequence.lastSeenNs = now;
    const item: SequenceItem = { work, fields, sequence, onAbort: undefined };
    if (work.signal) {
      item.onAbort = () => this.#cancel(item);
      work.signal.addEventListener('abort', item.onAbort, { once: true });
    }
    this.#place(item);
    if (this.#active.size > 0) this.#armReaper(now + this.#options.maxIdleNs);
  }

  inflightCount(): number {
    let count = 0;
    for (const backlog of this.#backlog) count += backlog.items.length;
    for (const group of this.#groups) count += group.inflightCount();
    return count;
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelReaper?.();
    this.#cancelReaper = undefined;
    if (this.inflightCount() === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  release(slot: SlotRef): SequenceItem[] {
    const next = this.#backlog.shift();
    if (next === undefined) {
      this.#free.push(slot);
      return [];
    }
    this.#waitingBySequence.delete(next.sequence);
    next.sequence.slot = slot;
    return next.items;
  }

  settled(): void {
    if (this.#drained && this.inflightCount() === 0) this.#drained();
  }

  /** Triton's checks, in its order: CORRID type, batch size 1, an ID, and a START before anything else. */
  #check(request: InferenceRequest): ServerError | undefined {
    const model = this.#options.modelName;
    const id: CorrelationId = request.sequence?.id ?? 0n;
    const expected = this.#options.controls.correlationDatatype;
    const given = typeof id === 'string' ? 'BYTES' : 'UINT64';
    const integerControl = expected !== undefined && expected !== 'BYTES';
    if (expected !== undefined && (given === 'BYTES' ? integerControl : !integerControl)) {
      return invalidArg(
        `${logPrefix(request)}sequence batching control '${this.#options.controls.correlationTensorName}' data-type is '${given}', ` +
          `but model '${model}' expects '${expected}'`,
      );
    }
    if (request.batchSize > 1) {
      return invalidArg(`inference request to model '${model}' must specify batch-size 1 due to requirements of sequence batcher`);
    }
    if (!inSequence(id)) return invalidArg(`inference request to model '${model}' must specify a non-zero or non-empty correlation ID`);
    const fields = request.sequence!;
    if (this.#stopped && fields.start) {
      return unavailable('Server is stopping, scheduler for model has stopped accepting new inference requests');
    }
    if (!fields.start && !this.#active.has(correlationKey(id))) {
      return invalidArg(
        `inference request for sequence ${display(id)} to model '${model}' must specify the START flag on the first request of the sequence`,
      );
    }
    return undefined;
  }

  /** Into the sequence's slot, its backlog queue, a free slot, or a new backlog queue. */
  #place(item: SequenceItem): void {
    const { sequence } = item;
    if (sequence.slot !== undefined) {
      sequence.slot.group.enqueue(sequence.slot.index, item);
      return;
    }
    const waiting = this.#waitingBySequence.get(sequence);
    if (waiting !== undefined) {
      waiting.items.push(item);
      return;
    }
    const slot = this.#takeFreeSlot();
    if (slot !== undefined) {
      sequence.slot = slot;
      slot.group.enqueue(slot.index, item);
      return;
    }
    const backlog: Backlog = { sequence, items: [item] };
    this.#backlog.push(backlog);
    this.#waitingBySequence.set(sequence, backlog);
  }

  /** The free slot with the lowest index (spreads sequences across instances first). */
  #takeFreeSlot(): SlotRef | undefined {
    let best = -1;
    this.#free.forEach((slot, i) => {
      if (best < 0 || slot.index < this.#free[best]!.index) best = i;
    });
    return best < 0 ? undefined : this.#free.splice(best, 1)[0];
  }

  #cancel(item: SequenceItem): void {
    const { sequence } = item;
    const waiting = this.#waitingBySequence.get(sequence);
    const removed = waiting
      ? removeFrom(waiting.items, item)
      : sequence.slot !== undefined && sequence.slot.group.remove(sequence.slot.index, item);
    if (!removed) return;
    item.work.complete({ ok: false, error: cancelledError(), reason: 'CANCELED' });
    this.settled();
  }

  #armReaper(dueNs: number): void {
    if (this.#stopped || (this.#cancelReaper !== undefined && this.#reaperDueNs <= dueNs)) return;
    this.#cancelReaper?.();
    this.#reaperDueNs = dueNs;
    const clock = this.#options.clock;
    this.#cancelReaper = clock.schedule(Math.max(0, dueNs - clock.nowNs()), () => {
      this.#cancelReaper = undefined;
      this.#reap();
    });
  }

  /** Releases the slots of sequences idle too long; a backlogged idle sequence is looked at again later. */
  #reap(): void {
    const { clock, maxIdleNs, logger, modelName } = this.#options;
    const now = clock.nowNs();
    let nextDueNs = Infinity;
    for (const [key, sequence] of this.#active) {
      const dueNs = sequence.lastSeenNs + maxIdleNs;
      if (dueNs > now) {
        nextDueNs = Math.min(nextDueNs, dueNs);
        continue;
      }
      if (sequence.slot === undefined) {
        nextDueNs = Math.min(nextDueNs, now + BACKLOG_IDLE_RECHECK_NS);
        continue;
      }
      this.#active.delete(key);
      logger.verbose(1, `model '${modelName}': sequence ${display(sequence.id)} idle past max_sequence_idle_microseconds, slot released`);
      sequence.slot.group.enqueue(sequence.slot.index, RELEASE);
    }
    if (nextDueNs !== Infinity) this.#armReaper(nextDueNs);
  }
}

function removeFrom(items: SequenceItem[], item: SequenceItem): boolean {
  const index = items.indexOf(item);
  if (index < 0) return false;
  items.splice(index, 1);
  return true;
}

/** How Triton prints a correlation ID in messages. */
function display(id: CorrelationId): string {
  return typeof id === 'string' ? quoted(id) : String(id);
}

function logPrefix(request: InferenceRequest): string {
  return `[request id: ${request.id === '' ? '<id_unknown>' : quoted(request.id)}] `;
}

function cancelledError(): ServerError {
  return new ServerError('CANCELLED', 'request cancelled');
}
