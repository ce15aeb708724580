import { create } from '@bufbuild/protobuf';
import { ModelDynamicBatchingSchema, type ModelSequenceBatching_StrategyOldest } from '@nereid/protocol/generated/model_config_pb';
import type { ExecutionListener } from '../default-scheduler.js';
import { DynamicBatcher, type FormedBatch } from '../dynamic/dynamic-batcher.js';
import type { SchedulerClock } from '../scheduler-clock.js';
import type { ExecutionTarget } from '../scheduler.js';
import type { SequenceRequestBuilder } from './sequence-request.js';
import { RELEASE, type SequenceItem, type SlotEntry, type SlotGroup, type SlotOwner } from './sequence-item.js';

export interface OldestSlotsOptions {
  readonly modelName: string;
  readonly oldest: ModelSequenceBatching_StrategyOldest;
  readonly slotCount: number;
  readonly maxBatchSize: number;
  readonly builder: SequenceRequestBuilder;
  readonly owner: SlotOwner;
  readonly clock: SchedulerClock;
  readonly onExecution: ExecutionListener;
  readonly onBatch?: (batch: FormedBatch) => void;
}

/**
 * Triton's oldest strategy for one instance (OldestSequenceBatch): up to `max_candidate_sequences`
 * sequences hold a slot here; each slot hands its next request to a dynamic batcher over this
 * instance only when the previous one has completed, and the batcher forms batches from the oldest
 * requests with `preferred_batch_size`, `max_queue_delay_microseconds` and `preserve_ordering`.
 * Batches are compact: no null requests.
 */
export class OldestSlots implements SlotGroup {
  readonly instanceName: string;
  readonly slotCount: number;
  readonly #options: OldestSlotsOptions;
  readonly #queues: SlotEntry[][];
  readonly #inFlight: boolean[];
  readonly #batcher: DynamicBatcher;

  constructor(target: ExecutionTarget, options: OldestSlotsOptions) {
    this.instanceName = target.name;
    this.slotCount = options.slotCount;
    this.#options = options;
    this.#queues = Array.from({ length: options.slotCount }, () => []);
    this.#inFlight = new Array<boolean>(options.slotCount).fill(false);
    const { oldest, builder } = options;
    this.#batcher = new DynamicBatcher([target], {
      modelName: options.modelName,
      batching: create(ModelDynamicBatchingSchema, {
        preferredBatchSize: oldest.preferredBatchSize,
        maxQueueDelayMicroseconds: oldest.maxQueueDelayMicroseconds,
        preserveOrdering: oldest.preserveOrdering,
      }),
      maxBatchSize: options.maxBatchSize,
      batchKey: (request) => builder.keyOfBuilt(request),
      clock: options.clock,
      onExecution: options.onExecution,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
  }

  enqueue(slot: number, entry: SlotEntry): void {
    this.#queues[slot]!.push(entry);
    this.#issue(slot);
  }

  remove(slot: number, item: SequenceItem): boolean {
    const queue = this.#queues[slot]!;
    const index = queue.indexOf(item);
    if (index < 0) return false;
    queue.splice(index, 1);
    return true;
  }

  inflightCount(): number {
    let count = this.#batcher.inflightCount();
    for (const queue of this.#queues) for (const entry of queue) if (entry !== RELEASE) count += 1;
    return count;
  }

  /** Sends the slot's next request to the batcher, unless one of its sequence is still out. */
  #issue(slot: number): void {
    const queue = this.#queues[slot]!;
    const { owner, builder } = this.#options;
    while (!this.#inFlight[slot]) {
      const front = queue.shift();
      if (front === undefined) return;
      if (front === RELEASE) {
        queue.push(...owner.release({ group: this, index: slot }));
        continue;
      }
      if (front.onAbort) front.work.signal?.removeEventListener('abort', front.onAbort);
      this.#inFlight[slot] = true;
      const request = builder.build(front);
      if (front.fields.end) queue.push(...owner.release({ group: this, index: slot }));
      const { work } = front;
      this.#batcher.enqueue({
        request,
        enqueuedNs: work.enqueuedNs,
        signal: work.signal,
        complete: (outcome) => {
          this.#inFlight[slot] = false;
          work.complete(outcome.ok ? { ...outcome, outputs: builder.finish(front, outcome.outputs) } : outcome);
          this.#issue(slot);
          owner.settled();
        },
      });
    }
  }
}
