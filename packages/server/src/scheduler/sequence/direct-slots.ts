import { ServerError, toServerError } from '../../errors/index.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { ExecutionListener } from '../default-scheduler.js';
import type { SchedulerClock } from '../scheduler-clock.js';
import type { ExecutionTarget } from '../scheduler.js';
import type { SequenceRequestBuilder } from './sequence-request.js';
import { RELEASE, type SequenceItem, type SlotEntry, type SlotGroup, type SlotOwner } from './sequence-item.js';

export interface DirectSlotsOptions {
  readonly slotCount: number;
  readonly builder: SequenceRequestBuilder;
  readonly owner: SlotOwner;
  readonly clock: SchedulerClock;
  readonly onExecution: ExecutionListener;
  /** `direct.max_queue_delay_microseconds` in ns; it applies only with a minimum utilization. */
  readonly maxQueueDelayNs: number;
  readonly minimumSlotUtilization: number;
  /** max_batch_size (at least 1): the utilization denominator. */
  readonly maxBatchSize: number;
}

/**
 * Triton's direct strategy for one instance (DirectSequenceBatch): each sequence owns one slot (one
 * row of the batch) for its lifetime. A batch takes the next request of every slot from 0 to the
 * highest slot with work; a slot with nothing ready, or whose request cannot share this batch's
 * shapes, gets a null request (READY false). One batch runs at a time, so a sequence's next
 * request always sees the state its previous one left.
 */
export class DirectSlots implements SlotGroup {
  readonly instanceName: string;
  readonly slotCount: number;
  readonly #target: ExecutionTarget;
  readonly #options: DirectSlotsOptions;
  readonly #queues: SlotEntry[][];
  #executing = 0;
  #formScheduled = false;
  #cancelTimer: (() => void) | undefined;

  constructor(target: ExecutionTarget, options: DirectSlotsOptions) {
    this.instanceName = target.name;
    this.slotCount = options.slotCount;
    this.#target = target;
    this.#options = options;
    this.#queues = Array.from({ length: options.slotCount }, () => []);
  }

  enqueue(slot: number, entry: SlotEntry): void {
    this.#queues[slot]!.push(entry);
    this.#requestForm();
  }

  remove(slot: number, item: SequenceItem): boolean {
    const queue = this.#queues[slot]!;
    const index = queue.indexOf(item);
    if (index < 0) return false;
    queue.splice(index, 1);
    return true;
  }

  inflightCount(): number {
    let count = this.#executing;
    for (const queue of this.#queues) for (const entry of queue) if (entry !== RELEASE) count += 1;
    return count;
  }

  /** Forms once this turn's arrivals are in (they often come together), if no batch is running. */
  #requestForm(): void {
    if (this.#formScheduled || this.#executing > 0) return;
    this.#formScheduled = true;
    this.#options.clock.defer(() => {
      this.#formScheduled = false;
      this.#form();
    });
  }

  #form(): void {
    if (this.#executing > 0) return;
    this.#applyReleases();
    let highest = -1;
    let ready = 0;
    let oldestNs = Infinity;
    let representative: SequenceItem | undefined;
    this.#queues.forEach((queue, slot) => {
      const front = queue[0];
      if (front === undefined || front === RELEASE) return;
      representative ??= front;
      highest = slot;
      ready += 1;
      oldestNs = Math.min(oldestNs, front.work.enqueuedNs);
    });
    if (representative === undefined) return;
    const { maxQueueDelayNs, minimumSlotUtilization, maxBatchSize, builder, clock } = this.#options;
    if (maxQueueDelayNs > 0 && minimumSlotUtilization > 0) {
      const waited = clock.nowNs() - oldestNs;
      if (waited <= maxQueueDelayNs && ready / maxBatchSize < minimumSlotUtilization) {
        this.#wakeIn(maxQueueDelayNs - waited + 1);
        return;
      }
    }
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const key = builder.keyOfItem(representative);
    const rows: Array<SequenceItem | undefined> = [];
    for (let slot = 0; slot <= highest; slot++) {
      const queue = this.#queues[slot]!;
      const front = queue[0];
      if (front === undefined || front === RELEASE || builder.keyOfItem(front) !== key) {
        rows.push(undefined);
        continue;
      }
      queue.shift();
      rows.push(front);
    }
    void this.#run(rows);
  }

  /** Slots whose idle sequence was released: the marker leaves, a backlog sequence may move in. */
  #applyReleases(): void {
    this.#queues.forEach((queue, slot) => {
      while (queue[0] === RELEASE) {
        queue.shift();
        queue.push(...this.#options.owner.release({ group: this, index: slot }));
      }
    });
  }

  #wakeIn(delayNs: number): void {
    this.#cancelTimer?.();
    this.#cancelTimer = this.#options.clock.schedule(delayNs, () => {
      this.#cancelTimer = undefined;
      this.#form();
    });
  }

  async #run(rows: ReadonlyArray<SequenceItem | undefined>): Promise<void> {
    const { builder, owner, clock, onExecution } = this.#options;
    const real = rows.filter((row): row is SequenceItem => row !== undefined);
    this.#executing = real.length;
    const dispatchNs = clock.nowNs();
    const built = new Map<SequenceItem, InferenceRequest>();
    for (const item of real) {
      if (item.onAbort) item.work.signal?.removeEventListener('abort', item.onAbort);
      built.set(item, builder.build(item));
    }
    // The slot of an ending sequence is free for the backlog now; its next requests wait for this batch.
    rows.forEach((item, slot) => {
      if (item?.fields.end) this.#queues[slot]!.push(...owner.release({ group: this, index: slot }));
    });
    const like = built.values().next().value!;
    const requests = rows.map((item) => (item === undefined ? builder.nullRequest(like) : built.get(item)!));
    try {
      const result = await this.#target.execute(requests);
      onExecution(requests.length, result.timings);
      const { computeInputNs, computeInferNs, computeOutputNs } = result.timings;
      rows.forEach((item, index) => {
        if (item === undefined) return;
        const response = result.responses[index];
        if (response === undefined || response instanceof ServerError) {
          item.work.complete({ ok: false, error: response ?? toServerError(new Error(`instance ${this.instanceName} returned no response`)) });
          return;
        }
        const outputs = builder.finish(item, response);
        const queueNs = dispatchNs - item.work.enqueuedNs;
        item.work.complete({ ok: true, outputs, timings: { queueNs, computeInputNs, computeInferNs, computeOutputNs }, parameters: result.parameters?.[index] });
      });
    } catch (error) {
      const failure = toServerError(error);
      for (const item of real) item.work.complete({ ok: false, error: failure });
    } finally {
      this.#executing = 0;
      this.#requestForm();
      owner.settled();
    }
  }
}
