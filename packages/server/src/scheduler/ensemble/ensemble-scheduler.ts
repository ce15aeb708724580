import type { EnsembleStep } from '../../config/ensemble-graph.js';
import { ServerError, invalidArg, toServerError, unavailable } from '../../errors/index.js';
import type { InferRequestInit, InputTensorInit, RequestedOutputInit } from '../../request/infer-request-init.js';
import type { InferResponse } from '../../request/infer-response.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CancelSignal } from '../../util/cancel-signal.js';
import type { InferenceTrace } from '../../observability/tracing/request-trace.js';
import { nowNs } from '../../util/clock.js';
import type { ScheduledRequest, Scheduler } from '../scheduler.js';
import { StepLimiter } from './step-limiter.js';

/**
 * Runs one step's request on its member model, through that model's own scheduler, and calls back
 * exactly once (maybe before it returns). Callbacks, not a promise: a promise and its continuation
 * per step were a measurable share of what an ensemble adds to a small model's request.
 */
export type StepRunner = (
  request: InferRequestInit,
  signal: CancelSignal | undefined,
  trace: InferenceTrace | undefined,
  onResponse: (response: InferResponse) => void,
  onError: (error: unknown) => void,
) => void;

export interface EnsembleSchedulerOptions {
  readonly ensembleName: string;
  readonly steps: readonly EnsembleStep[];
  /** The ensemble's input names (config `input`). */
  readonly inputs: readonly string[];
  /** `ensemble_scheduling.max_inflight_requests`: requests at once per step (0: no limit). */
  readonly maxInflightRequests: number;
  readonly runStep: StepRunner;
}

/**
 * Triton's ensemble scheduler: an ensemble has no instances; each request runs the pipeline of steps,
 * each step a request to its member model as soon as the ensemble tensors it reads exist, so
 * independent branches run at once. Tensors pass between steps as the views the members returned,
 * never copied. A failing step fails the request ("in ensemble 'E', <the step's error>") once the
 * steps already running have finished, and no further step starts; so does a cancelled request.
 */
export class EnsembleScheduler implements Scheduler {
  readonly #options: EnsembleSchedulerOptions;
  readonly #limiters: StepLimiter[];
  /** For each ensemble tensor, the steps that read it. */
  readonly #readers = new Map<string, EnsembleStep[]>();
  /** Per step, how many distinct tensors it reads (a run counts them down). */
  readonly #inputCounts: readonly number[];
  /** Per step, the outputs its request asks for (shared by every run: never changed). */
  readonly #requestedOutputs: readonly (readonly RequestedOutputInit[])[];
  #inflight = 0;
  #stopped = false;
  #drained: (() => void) | undefined;

  constructor(options: EnsembleSchedulerOptions) {
    this.#options = options;
    this.#limiters = options.steps.map(() => new StepLimiter(options.maxInflightRequests));
    for (const step of options.steps) {
      for (const tensor of new Set(step.inputMap.values())) this.#readers.set(tensor, [...(this.#readers.get(tensor) ?? []), step]);
    }
    this.#inputCounts = options.steps.map((step) => new Set(step.inputMap.values()).size);
    this.#requestedOutputs = options.steps.map((step) => Object.freeze([...step.outputMap.keys()].map((name) => Object.freeze({ name, parameters: {} }))));
  }

  enqueue(work: ScheduledRequest): void {
    if (this.#stopped) {
      work.complete({ ok: false, error: unavailable(`model '${this.#options.ensembleName}' is unloading`), reason: 'REFUSED' });
      return;
    }
    this.#inflight++;
    new EnsembleRun(this.#options, this.#limiters, this.#readers, this.#inputCounts, this.#requestedOutputs, work, () => {
      if (--this.#inflight === 0) this.#drained?.();
    }).start(this.#options.inputs);
  }

  inflightCount(): number {
    return this.#inflight;
  }

  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }
}

/** One request going through the pipeline. */
class EnsembleRun {
  readonly #options: EnsembleSchedulerOptions;
  readonly #limiters: readonly StepLimiter[];
  readonly #readers: ReadonlyMap<string, readonly EnsembleStep[]>;
  readonly #requestedOutputs: readonly (readonly RequestedOutputInit[])[];
  readonly #work: ScheduledRequest;
  readonly #done: () => void;
  /** Ensemble tensors that exist so far (an optional input the client left out is present as absent). */
  readonly #tensors = new Map<string, Tensor | undefined>();
  /** Per step: ensemble tensors it still waits for. */
  readonly #waiting: number[];
  readonly #started: boolean[];
  #running = 0;
  #failure: ServerError | undefined;
  readonly #startNs = nowNs();

  constructor(
    options: EnsembleSchedulerOptions,
    limiters: readonly StepLimiter[],
    readers: ReadonlyMap<string, readonly EnsembleStep[]>,
    inputCounts: readonly number[],
    requestedOutputs: readonly (readonly RequestedOutputInit[])[],
    work: ScheduledRequest,
    done: () => void,
  ) {
    this.#options = options;
    this.#limiters = limiters;
    this.#readers = readers;
    this.#requestedOutputs = requestedOutputs;
    this.#work = work;
    this.#done = done;
    this.#waiting = inputCounts.slice();
    this.#started = new Array<boolean>(inputCounts.length).fill(false);
  }

  /** Publishes the ensemble's inputs (an optional one the client left out as absent), starting the first steps. */
  start(inputs: readonly string[]): void {
    const given = this.#work.request.inputs;
    // Counted as running while the inputs are published: a step may finish before its runner
    // returns, and the request must not end before every first step has started.
    this.#running++;
    for (const name of inputs) this.#publish(name, given.find((tensor) => tensor.name === name));
    this.#stepEnded();
  }

  /** A tensor now exists: steps that were waiting only for it start. */
  #publish(name: string, tensor: Tensor | undefined): void {
    if (this.#tensors.has(name)) return;
    this.#tensors.set(name, tensor);
    for (const step of this.#readers.get(name) ?? []) {
      if (--this.#waiting[step.index]! === 0) this.#launch(step);
    }
  }

  #launch(step: EnsembleStep): void {
    if (this.#failure !== undefined || this.#started[step.index]) return;
    if (this.#work.signal?.aborted) {
      this.#failure = new ServerError('CANCELLED', `in ensemble '${this.#options.ensembleName}', request cancelled`);
      return;
    }
    this.#started[step.index] = true;
    this.#running++;
    const limiter = this.#limiters[step.index]!;
    const admitted = limiter.acquire();
    if (admitted === undefined) this.#run(step, limiter);
    else void admitted.then(() => this.#run(step, limiter));
  }

  #run(step: EnsembleStep, limiter: StepLimiter): void {
    if (this.#failure !== undefined || this.#work.signal?.aborted) {
      // Failed or cancelled while waiting for the step's capacity: the step never runs.
      this.#failure ??= new ServerError('CANCELLED', `in ensemble '${this.#options.ensembleName}', request cancelled`);
      limiter.release();
      this.#stepEnded();
      return;
    }
    let request: InferRequestInit;
    try {
      request = this.#stepRequest(step);
    } catch (error) {
      limiter.release();
      this.#fail(toServerError(error));
      this.#stepEnded();
      return;
    }
    // The step counts as running until its callback has published its outputs (which may start,
    // and even finish, the next steps first).
    this.#options.runStep(
      request,
      this.#work.signal,
      this.#work.trace?.spawnChild(),
      (response) => {
        limiter.release();
        this.#stepSucceeded(step, response);
        this.#stepEnded();
      },
      (error) => {
        limiter.release();
        this.#fail(toServerError(error));
        this.#stepEnded();
      },
    );
  }

  #stepRequest(step: EnsembleStep): InferRequestInit {
    const { request } = this.#work;
    const inputs: InputTensorInit[] = [];
    for (const [inputName, tensorName] of step.inputMap) {
      const tensor = this.#tensors.get(tensorName);
      if (tensor === undefined) continue; // an optional input the client left out
      inputs.push({ name: inputName, datatype: tensor.datatype, shape: tensor.shape, data: tensor.data, parameters: {} });
    }
    return {
      modelName: step.modelName,
      modelVersion: step.modelVersion < 0n ? '' : String(step.modelVersion),
      id: request.id,
      parameters: request.parameters,
      inputs,
      outputs: this.#requestedOutputs[step.index]!,
    };
  }

  #stepSucceeded(step: EnsembleStep, response: InferResponse): void {
    if (this.#failure !== undefined) return;
    for (const [outputName, tensorName] of step.outputMap) {
      // A few outputs: a scan beats building a map per step.
      const output = response.outputs.find((candidate) => candidate.name === outputName);
      if (output === undefined) {
        this.#fail(invalidArg(`model '${step.modelName}' returned no output '${outputName}'`));
        return;
      }
      this.#publish(tensorName, { name: tensorName, datatype: output.datatype, shape: output.shape, data: output.data });
    }
  }

  #fail(error: ServerError): void {
    this.#failure ??= new ServerError(error.code, `in ensemble '${this.#options.ensembleName}', ${error.message}`);
  }

  #stepEnded(): void {
    this.#running--;
    this.#finishIfIdle();
  }

  /** Once no step runs: the request ends with the first failure, or with its outputs. */
  #finishIfIdle(): void {
    if (this.#running > 0) return;
    const { request } = this.#work;
    if (this.#failure === undefined && this.#work.signal?.aborted) {
      this.#failure = new ServerError('CANCELLED', `in ensemble '${this.#options.ensembleName}', request cancelled`);
    }
    if (this.#failure !== undefined) {
      this.#work.complete({ ok: false, error: this.#failure });
      this.#done();
      return;
    }
    const outputs: Tensor[] = [];
    for (const requested of request.requestedOutputs) {
      const tensor = this.#tensors.get(requested.name);
      if (tensor === undefined) {
        this.#work.complete({
          ok: false,
          error: invalidArg(
            `in ensemble '${this.#options.ensembleName}', unexpected deadlock, at least one output is not set while no more ensemble steps can be made`,
          ),
        });
        this.#done();
        return;
      }
      outputs.push(tensor);
    }
    const endNs = nowNs();
    this.#work.complete({
      ok: true,
      outputs,
      timings: { queueNs: this.#startNs - this.#work.enqueuedNs, computeInputNs: 0, computeInferNs: endNs - this.#startNs, computeOutputNs: 0 },
    });
    this.#done();
  }
}
