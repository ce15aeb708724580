import {
  ModelQueuePolicy_TimeoutAction,
  type ModelDynamicBatching,
  type ModelQueuePolicy,
} from '@nereid/protocol/generated/model_config_pb';
import { unavailable, type ServerError } from '../../errors/index.js';
import type { ScheduledRequest } from '../scheduler.js';

/** A request in the batcher's queue. */
export interface QueueEntry {
  readonly work: ScheduledRequest;
  /** Batch rows it brings (≥ 1). */
  readonly size: number;
  /** Requests whose key differs may not share a batch (see batch-key.ts). */
  readonly batchKey: string;
  readonly level: number;
  /** Monotonic ns after which the queue policy applies its timeout action; 0 = never. */
  deadlineNs: number;
  onAbort: (() => void) | undefined;
}

/** A queue policy with Triton's defaults filled in (timeouts in ns). */
interface Policy {
  readonly reject: boolean;
  readonly defaultTimeoutNs: number;
  readonly allowTimeoutOverride: boolean;
  readonly maxQueueSize: number;
}

/** One priority level: its own policy, its queue, and the requests its DELAY action moved aside. */
interface Level {
  readonly policy: Policy;
  readonly main: QueueEntry[];
  readonly delayed: QueueEntry[];
}

/**
 * Triton's priority queue (scheduler_utils.cc PriorityQueue): one FIFO per priority level, lower
 * level numbers first; within a level its main queue, then the requests whose timeout moved them
 * aside (DELAY). A level's `max_queue_size` refuses requests at once; a timeout either rejects the
 * request or delays it, when the batcher next looks at the queue.
 */
export class PriorityQueue {
  readonly #levels = new Map<number, Level>();
  /** Level numbers in ascending order (dispatch order). */
  #order: number[] = [];
  readonly #defaultPolicy: Policy;
  readonly #policies: ReadonlyMap<number, Policy>;
  readonly #priorityLevels: number;
  readonly #defaultLevel: number;
  #size = 0;
  /** Entries holding a deadline: when none do, applying the policy scans nothing. */
  #withDeadline = 0;

  constructor(batching: ModelDynamicBatching | undefined) {
    this.#priorityLevels = Number(batching?.priorityLevels ?? 0n);
    this.#defaultLevel = this.#priorityLevels === 0 ? 0 : Number(batching?.defaultPriorityLevel ?? 0n);
    this.#defaultPolicy = policyOf(batching?.defaultQueuePolicy);
    const policies = new Map<number, Policy>();
    for (const [level, policy] of Object.entries(batching?.priorityQueuePolicy ?? {})) {
      policies.set(Number(level), policyOf(policy));
    }
    this.#policies = policies;
  }

  get size(): number {
    return this.#size;
  }

  /** A request's level: its `priority` when in [1, priority_levels], else the default level. */
  levelOf(priority: number): number {
    if (this.#priorityLevels === 0) return 0;
    return priority === 0 || priority > this.#priorityLevels ? this.#defaultLevel : priority;
  }

  /**
   * The deadline a request gets: the level's default timeout, lowered by the request's `timeout` if
   * the policy allows. As in Triton (PolicyQueue::Enqueue), a request cannot set one when the
   * default is 0 (no timeout): "lowered" from infinity is not an override Triton makes.
   */
  deadlineFor(level: number, requestTimeoutUs: number, nowNs: number): number {
    const policy = this.#policies.get(level) ?? this.#defaultPolicy;
    let timeoutNs = policy.defaultTimeoutNs;
    const requested = requestTimeoutUs * 1000;
    if (policy.allowTimeoutOverride && requested !== 0 && requested < timeoutNs) {
      timeoutNs = requested;
    }
    return timeoutNs === 0 ? 0 : nowNs + timeoutNs;
  }

  /** Adds a request at the back of its level; a full level refuses it (Triton's UNAVAILABLE). */
  enqueue(entry: QueueEntry): ServerError | undefined {
    const level = this.#level(entry.level);
    const max = level.policy.maxQueueSize;
    if (max !== 0 && level.main.length + level.delayed.length >= max) {
      return unavailable(`${requestLabel(entry.work.request.id)}Exceeds maximum queue size`);
    }
    level.main.push(entry);
    this.#size += 1;
    if (entry.deadlineNs !== 0) this.#withDeadline += 1;
    return undefined;
  }

  /** Removes a request (cancelled while queued); false when it already left. */
  remove(entry: QueueEntry): boolean {
    const level = this.#levels.get(entry.level);
    if (level === undefined) return false;
    for (const list of [level.main, level.delayed]) {
      const index = list.indexOf(entry);
      if (index === -1) continue;
      list.splice(index, 1);
      this.#forget(entry);
      return true;
    }
    return false;
  }

  /**
   * Applies each level's timeout action to requests past their deadline: REJECT takes them out
   * (returned, for the caller to fail), DELAY moves them behind the level's other requests.
   */
  expire(nowNs: number): QueueEntry[] {
    const rejected: QueueEntry[] = [];
    if (this.#withDeadline === 0) return rejected;
    for (const levelNumber of this.#order) {
      const level = this.#levels.get(levelNumber)!;
      let kept = 0;
      for (const entry of level.main) {
        if (entry.deadlineNs === 0 || nowNs <= entry.deadlineNs) {
          level.main[kept++] = entry;
          continue;
        }
        if (level.policy.reject) {
          rejected.push(entry);
          this.#forget(entry);
        } else {
          // Delayed once, a request waits behind its level for as long as it takes.
          entry.deadlineNs = 0;
          this.#withDeadline -= 1;
          level.delayed.push(entry);
        }
      }
      level.main.length = kept;
    }
    return rejected;
  }

  /** The nearest deadline still pending; 0 when none. */
  nearestDeadline(): number {
    if (this.#withDeadline === 0) return 0;
    let nearest = 0;
    for (const level of this.#levels.values()) {
      for (const entry of level.main) {
        if (entry.deadlineNs !== 0 && (nearest === 0 || entry.deadlineNs < nearest)) nearest = entry.deadlineNs;
      }
    }
    return nearest;
  }

  /** Queued requests in dispatch order, lazily. */
  *inOrder(): Generator<QueueEntry> {
    for (const levelNumber of this.#order) {
      const level = this.#levels.get(levelNumber)!;
      yield* level.main;
      yield* level.delayed;
    }
  }

  /** Takes the first `count` requests in dispatch order. */
  take(count: number): QueueEntry[] {
    const taken: QueueEntry[] = [];
    for (const levelNumber of this.#order) {
      if (taken.length === count) break;
      const level = this.#levels.get(levelNumber)!;
      for (const list of [level.main, level.delayed]) {
        const n = Math.min(count - taken.length, list.length);
        if (n === 0) continue;
        for (const entry of list.splice(0, n)) {
          taken.push(entry);
          this.#forget(entry);
        }
      }
    }
    return taken;
  }

  #forget(entry: QueueEntry): void {
    this.#size -= 1;
    if (entry.deadlineNs !== 0) this.#withDeadline -= 1;
  }

  #level(number: number): Level {
    let level = this.#levels.get(number);
    if (level === undefined) {
      level = { policy: this.#policies.get(number) ?? this.#defaultPolicy, main: [], delayed: [] };
      this.#levels.set(number, level);
      this.#order = [...this.#levels.keys()].sort((a, b) => a - b);
    }
    return level;
  }
}

function policyOf(policy: ModelQueuePolicy | undefined): Policy {
  return {
    reject: (policy?.timeoutAction ?? ModelQueuePolicy_TimeoutAction.REJECT) === ModelQueuePolicy_TimeoutAction.REJECT,
    defaultTimeoutNs: Number(policy?.defaultTimeoutMicroseconds ?? 0n) * 1000,
    allowTimeoutOverride: policy?.allowTimeoutOverride ?? false,
    maxQueueSize: Number(policy?.maxQueueSize ?? 0),
  };
}

/** Triton's InferenceRequest::LogRequest prefix: `[request id: <id>] ` when the request has an id. */
export function requestLabel(id: string): string {
  return id === '' ? '' : `[request id: ${id}] `;
}
