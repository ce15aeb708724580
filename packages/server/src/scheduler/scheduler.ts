import type { ExecutionResult } from '../backends/backend.js';
import type { ServerError } from '../errors/index.js';
import type { InferenceRequest } from '../request/inference-request.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import type { BatcherStatistics } from '../metrics/statistics-types.js';
import type { FailureReason } from '../metrics/statistics.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import type { InferenceTrace } from '../observability/tracing/request-trace.js';

/**
 * How a model's requests reach its instances (Triton's scheduler.h): enqueue, in-flight count, stop.
 * The default scheduler, the dynamic batcher and the sequence batcher all implement it.
 */
export interface Scheduler {
  enqueue(work: ScheduledRequest): void;
  /** Requests queued or executing. */
  inflightCount(): number;
  /** Stops taking requests and resolves when every in-flight request has completed. */
  stop(): Promise<void>;
  /** What the scheduler formed and refused, beyond Triton's statistics (the dynamic batcher's). */
  statistics?(): BatcherStatistics;
}

/** One instance able to execute batches: what a scheduler dispatches to. */
export interface ExecutionTarget {
  readonly name: string;
  execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult>;
}

/** A request waiting in a scheduler, with the callback that finishes it. */
export interface ScheduledRequest {
  readonly request: InferenceRequest;
  /** Monotonic ns when the request entered the queue. */
  readonly enqueuedNs: number;
  readonly signal: CancelSignal | undefined;
  /** The request's trace, if it is traced (an ensemble spawns its steps' traces from it). */
  readonly trace?: InferenceTrace | undefined;
  complete(outcome: Outcome): void;
}

export type Outcome =
  | {
      readonly ok: true;
      readonly outputs: readonly Tensor[];
      readonly timings: CompletionTimings;
      /** The backend's response parameters, if it set any. */
      readonly parameters?: Parameters | undefined;
    }
  | { readonly ok: false; readonly error: ServerError; readonly reason?: RefusalOrReason };

/**
 * Why a request failed, when the scheduler knows better than "the execution failed" (BACKEND, the
 * default): a queue timeout is REJECTED, a cancellation CANCELED. `REFUSED` is an error Triton's
 * schedulers return from Enqueue (queue full, unloading, a malformed sequence request): the request
 * never entered the model, so Triton's statistics and metrics do not count it.
 */
export type RefusalOrReason = FailureReason | 'REFUSED';

/** Where the request's time went, in nanoseconds. */
export interface CompletionTimings {
  readonly queueNs: number;
  readonly computeInputNs: number;
  readonly computeInferNs: number;
  readonly computeOutputNs: number;
}
