import { ServerError, toServerError, unavailable } from '../errors/index.js';
import { nowNs } from '../util/clock.js';
import { FifoQueue } from '../util/fifo-queue.js';
import type { ExecutionTarget, ScheduledRequest, Scheduler } from './scheduler.js';

/**
 * Triton's default scheduler: every request is executed on its own by the next free instance, in
 * arrival order. Instances run concurrently; each runs one execution at a time.
 */
export class DefaultScheduler implements Scheduler {
  readonly #idle: ExecutionTarget[];
  readonly #queue = new FifoQueue<Queued>();
  readonly #onExecution: ExecutionListener;
  #executing = 0;
  #stopped = false;
  #drained: (() => void) | undefined;

  constructor(targets: readonly ExecutionTarget[], onExecution: ExecutionListener) {
    this.#idle = [...targets];
    this.#onExecution = onExecution;
  }

  enqueue(work: ScheduledRequest): void {
    if (this.#stopped) {
      work.complete({ ok: false, error: unavailable(`model '${work.request.modelName}' is unloading`), reason: 'REFUSED' });
      return;
    }
    if (work.signal?.aborted) {
      work.complete({ ok: false, error: new ServerError('CANCELLED', 'request cancelled'), reason: 'CANCELED' });
      return;
    }
    const target = this.#idle.pop();
    if (target) {
      void this.#run(target, work);
      return;
    }
    const queued: Queued = { work, onAbort: undefined };
    if (work.signal) {
      queued.onAbort = () => this.#cancelQueued(queued);
      work.signal.addEventListener('abort', queued.onAbort, { once: true });
    }
    this.#queue.push(queued);
  }

  inflightCount(): number {
    return this.#queue.length + this.#executing;
  }

  stop(): Promise<void> {
    this.#stopped = true;
    if (this.inflightCount() === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  #cancelQueued(queued: Queued): void {
    if (this.#queue.remove(queued)) {
      queued.work.complete({ ok: false, error: new ServerError('CANCELLED', 'request cancelled'), reason: 'CANCELED' });
      this.#checkDrained();
    }
  }

  async #run(target: ExecutionTarget, work: ScheduledRequest): Promise<void> {
    this.#executing += 1;
    const queueNs = nowNs() - work.enqueuedNs;
    try {
      const result = await target.execute([work.request]);
      const { computeInputNs, computeInferNs, computeOutputNs } = result.timings;
      this.#onExecution(work.request.batchSize, result.timings);
      const outcome = result.responses[0];
      if (outcome === undefined) throw new Error(`instance ${target.name} returned no response`);
      if (outcome instanceof ServerError) {
        work.complete({ ok: false, error: outcome });
      } else {
        work.complete({ ok: true, outputs: outcome, timings: { queueNs, computeInputNs, computeInferNs, computeOutputNs }, parameters: result.parameters?.[0] });
      }
    } catch (error) {
      work.complete({ ok: false, error: toServerError(error) });
    } finally {
      this.#executing -= 1;
      this.#next(target);
    }
  }

  #next(target: ExecutionTarget): void {
    const queued = this.#queue.shift();
    if (queued) {
      // A signal may outlive its request (HTTP shares one per connection): stop listening now.
      if (queued.onAbort) queued.work.signal?.removeEventListener('abort', queued.onAbort);
      void this.#run(target, queued.work);
      return;
    }
    this.#idle.push(target);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#drained && this.inflightCount() === 0) this.#drained();
  }
}

/** A waiting request and the abort listener to remove once it leaves the queue. */
interface Queued {
  readonly work: ScheduledRequest;
  onAbort: (() => void) | undefined;
}

/** Called once per backend execution (for execution counts and batch statistics). */
export type ExecutionListener = (
  batchSize: number,
  timings: { computeInputNs: number; computeInferNs: number; computeOutputNs: number },
) => void;
