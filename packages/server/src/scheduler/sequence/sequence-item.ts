import type { SequenceFields, CorrelationId } from '../../request/sequence-fields.js';
import type { ScheduledRequest } from '../scheduler.js';
import type { SequenceState } from './implicit-state.js';

/** One sequence as the sequence batcher tracks it, from its START to its END (or idle release). */
export interface SequenceRecord {
  readonly id: CorrelationId;
  readonly key: string;
  /** Implicit state carried between its requests (undefined until its first request runs). */
  state: SequenceState | undefined;
  /** The slot it holds, once it has one. */
  slot: SlotRef | undefined;
  /** Monotonic ns of its latest request's arrival, for `max_sequence_idle_microseconds`. */
  lastSeenNs: number;
}

/** A request of a sequence waiting in a slot queue or in the backlog. */
export interface SequenceItem {
  readonly work: ScheduledRequest;
  readonly fields: SequenceFields;
  readonly sequence: SequenceRecord;
  /** Abort listener, removed once the request leaves the queue. */
  onAbort: (() => void) | undefined;
}

/** Marks, in a slot queue, the point where an idle sequence lets go of its slot. */
export const RELEASE = Symbol('release slot');
export type SlotEntry = SequenceItem | typeof RELEASE;

/** A batch slot of one instance: where a sequence's requests go, in order, for its lifetime. */
export interface SlotRef {
  readonly group: SlotGroup;
  readonly index: number;
}

/** The slots of one instance under a strategy (direct or oldest). */
export interface SlotGroup {
  readonly instanceName: string;
  readonly slotCount: number;
  /** Appends to a slot's queue and lets the strategy run what it can. */
  enqueue(slot: number, entry: SlotEntry): void;
  /** Takes a request out of its slot queue (cancelled); false when it already left. */
  remove(slot: number, item: SequenceItem): boolean;
  /** Requests queued in the slots or executing. */
  inflightCount(): number;
}

/** What a slot group asks of the scheduler that owns the slots. */
export interface SlotOwner {
  /**
   * A slot's sequence has ended (or was released as idle): hands the slot to the oldest backlog
   * sequence and returns that sequence's waiting requests, or marks the slot free (returns []).
   */
  release(slot: SlotRef): SequenceItem[];
  /** Requests have completed (the owner may be waiting for its in-flight count to reach 0). */
  settled(): void;
}
