import { internal, toServerError, unavailable, type ServerError } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { InferRequestInit } from '../../request/infer-request-init.js';
import type { InferResponse } from '../../request/infer-response.js';
import type { DecoupledResponder, InferenceRequest } from '../../request/inference-request.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';
import { CancelToken } from '../../util/cancel-signal.js';
import { nowNs } from '../../util/clock.js';
import type { BackendInstance, CoreRequestRunner, CoreStreamRunner, ExecutionResult } from '../backend.js';
import { CANCEL_SLOTS, ModelWorker, serverErrorOf, type WorkerStart } from './model-worker.js';
import { packTensors, type FromWorker, type WireInferRequest, type WireInferResponse, type WireRequest, type WireResponse, type WireError } from './wire.js';

export interface InstanceOptions {
  readonly start: WorkerStart;
  readonly instanceName: string;
  readonly logger: Logger;
  readonly runRequest: CoreRequestRunner | undefined;
  readonly runStreamRequest: CoreStreamRunner | undefined;
}

interface PendingExecution {
  readonly requests: readonly InferenceRequest[];
  readonly slots: readonly number[];
  readonly startNs: number;
  readonly resolve: (result: ExecutionResult) => void;
}

/** Restart delays after a worker died, growing while restarts keep failing. */
const RESTART_DELAYS_MS = [0, 100, 500, 1000, 5000];

/**
 * One instance of a JavaScript model: its own worker thread. A worker that dies (process.exit,
 * an uncaught error, out of heap) fails what it held, makes the instance not ready, and is replaced;
 * requests that arrive meanwhile wait for the new worker.
 */
export class JavaScriptInstance implements BackendInstance {
  readonly #options: InstanceOptions;
  #worker: ModelWorker | undefined;
  #starting: Promise<ModelWorker> | undefined;
  #closed = false;
  #restarts = 0;
  #nextExec = 1;
  #nextKey = 1;
  readonly #executions = new Map<number, PendingExecution>();
  /** Decoupled requests that have not sent their final response, by key. */
  readonly #open = new Map<number, { readonly responder: DecoupledResponder; readonly slot: number }>();
  /** BLS calls the worker made, by its call number. */
  readonly #calls = new Map<number, CancelToken>();
  readonly #freeSlots: number[] = Array.from({ length: CANCEL_SLOTS }, (_, i) => CANCEL_SLOTS - 1 - i);
  /** Removes the abort listener of the request holding each slot. */
  readonly #slotListeners: Array<(() => void) | undefined> = [];

  private constructor(options: InstanceOptions) {
    this.#options = options;
  }

  static async create(options: InstanceOptions): Promise<JavaScriptInstance> {
    const instance = new JavaScriptInstance(options);
    instance.#worker = await instance.#startWorker();
    return instance;
  }

  #startWorker(): Promise<ModelWorker> {
    return ModelWorker.start(
      this.#options.start,
      (message) => this.#onMessage(message),
      (reason) => this.#onDeath(reason),
    ).then(({ worker }) => worker);
  }

  ready(): boolean {
    return this.#worker !== undefined;
  }

  async execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult> {
    let worker: ModelWorker;
    try {
      // While a dead worker is being replaced, requests wait for the new one.
      worker = this.#worker ?? (await this.#replacement());
    } catch (error) {
      const failure = unavailable(`model '${this.#options.start.modelName}' is not ready: ${toServerError(error).message}`);
      return { responses: requests.map(() => failure), timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } };
    }
    const startNs = nowNs();
    const slots: number[] = [];
    const wires: WireRequest[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const request of requests) {
      const slot = this.#cancelSlot(request, worker);
      slots.push(slot);
      const key = this.#nextKey++;
      if (request.responder !== undefined) this.#open.set(key, { responder: request.responder, slot });
      const { tensors, buffer } = packTensors(request.inputs);
      if (buffer.byteLength > 0) transfer.push(buffer);
      const sequence = request.sequence;
      wires.push({
        key,
        id: request.id,
        correlationId: sequence?.id ?? 0n,
        sequenceStart: sequence?.start ?? false,
        sequenceEnd: sequence?.end ?? false,
        parameters: request.parameters,
        inputs: tensors,
        requestedOutputs: request.requestedOutputs.map((output) => output.name),
        cancelSlot: slot,
      });
    }
    const exec = this.#nextExec++;
    const inputNs = nowNs() - startNs;
    return new Promise<ExecutionResult>((resolve) => {
      this.#executions.set(exec, {
        requests,
        slots,
        startNs: startNs + inputNs,
        resolve: (result) => resolve({ ...result, timings: { ...result.timings, computeInputNs: inputNs } }),
      });
      worker.send({ t: 'execute', exec, requests: wires }, transfer);
    });
  }

  #replacement(): Promise<ModelWorker> {
    const { modelName } = this.#options.start;
    return this.#starting ?? Promise.reject(unavailable(`model '${modelName}' instance '${this.#options.instanceName}' is closed`));
  }

  /** A cancel flag for the request, set when its signal aborts; -1 when it has no signal or none is free. */
  #cancelSlot(request: InferenceRequest, worker: ModelWorker): number {
    const signal = request.signal;
    if (signal === undefined) return -1;
    const slot = this.#freeSlots.pop();
    if (slot === undefined) return -1;
    const flags = worker.cancelFlags;
    Atomics.store(flags, slot, signal.aborted ? 1 : 0);
    const listener = (): void => void Atomics.store(flags, slot, 1);
    signal.addEventListener('abort', listener, { once: true });
    this.#slotListeners[slot] = () => signal.removeEventListener('abort', listener);
    return slot;
  }

  #releaseSlot(slot: number): void {
    if (slot < 0) return;
    this.#slotListeners[slot]?.();
    this.#slotListeners[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  #onMessage(message: FromWorker): void {
    switch (message.t) {
      case 'executed':
        return this.#onExecuted(message);
      case 'respond':
        return this.#onRespond(message.key, message.response, message.error, message.final);
      case 'infer':
        return void this.#onInfer(message.call, message.request, message.stream);
      case 'infer-cancel':
        return this.#calls.get(message.call)?.cancel();
      case 'log': {
        const text = `${this.#options.instanceName}: ${message.message}`;
        if (message.level === 'verbose') this.#options.logger.verbose(1, text);
        else this.#options.logger[message.level](text);
      }
    }
  }

  #onExecuted(message: Extract<FromWorker, { t: 'executed' }>): void {
    const pending = this.#executions.get(message.exec);
    if (pending === undefined) return;
    this.#executions.delete(message.exec);
    const inferNs = nowNs() - pending.startNs;
    const modelName = this.#options.start.modelName;
    let responses: Array<readonly Tensor[] | ServerError>;
    let parameters: Array<Parameters | undefined> | undefined;
    if (message.error !== undefined) {
      const failure = internal(`Failed to process the request(s) for model '${modelName}', message: ${message.error.message}`);
      responses = pending.requests.map(() => failure);
    } else if (message.responses === undefined) {
      // A decoupled model answers through its response senders; the execution's result is not used.
      responses = pending.requests.map((request) =>
        request.responder !== undefined ? [] : internal(`model '${modelName}' returned no responses from execute and is not decoupled`),
      );
    } else {
      responses = message.responses.map((response) => (response === null || 'code' in response ? serverErrorOf(response ?? { code: 'INTERNAL', message: 'no response' }) : response.outputs));
      parameters = message.responses.map((response) => (response !== null && 'outputs' in response && Object.keys(response.parameters).length > 0 ? response.parameters : undefined));
    }
    pending.requests.forEach((request, i) => {
      if (request.responder === undefined) this.#releaseSlot(pending.slots[i]!);
    });
    pending.resolve({ responses, parameters, timings: { computeInputNs: 0, computeInferNs: inferNs, computeOutputNs: 0 } });
  }

  #onRespond(key: number, response: WireResponse | undefined, error: WireError | undefined, final: boolean): void {
    const open = this.#open.get(key);
    if (open === undefined) return;
    if (final || error !== undefined) {
      this.#open.delete(key);
      this.#releaseSlot(open.slot);
    }
    if (error !== undefined) open.responder.send({ error: serverErrorOf(error), final: true });
    else open.responder.send({ outputs: response?.outputs, parameters: response?.parameters, final });
  }

  /** A BLS call from the model: a request to any model, through the core. */
  async #onInfer(call: number, request: WireInferRequest, stream: boolean): Promise<void> {
    const token = new CancelToken();
    this.#calls.set(call, token);
    const worker = this.#worker;
    const init: InferRequestInit = {
      modelName: request.modelName,
      modelVersion: request.modelVersion,
      id: request.id,
      parameters: request.parameters,
      inputs: request.inputs.map((input) => ({ ...input, parameters: {} })),
      outputs: request.outputs?.map((name) => ({ name, parameters: {} })),
    };
    const { runRequest, runStreamRequest } = this.#options;
    try {
      if (!stream) {
        if (runRequest === undefined) throw unavailable('BLS requests need a server core');
        const response = await runRequest(init, token);
        const { message, transfer } = wireResponse(response);
        worker?.send({ t: 'infer-done', call, response: message }, transfer);
      } else {
        if (runStreamRequest === undefined) throw unavailable('BLS requests need a server core');
        await runStreamRequest(init, {
          signal: token,
          listen: (event) => {
            if (event.response !== undefined) {
              const { message, transfer } = wireResponse(event.response);
              worker?.send({ t: 'infer-event', call, response: message, final: false }, transfer);
            }
            if (event.error !== undefined) worker?.send({ t: 'infer-event', call, error: errorOf(event.error), final: false });
          },
        });
        worker?.send({ t: 'infer-done', call });
      }
    } catch (error) {
      worker?.send({ t: 'infer-done', call, error: errorOf(toServerError(error)) });
    } finally {
      this.#calls.delete(call);
    }
  }

  /** The worker died: fail what it held, turn not ready, and start another. */
  #onDeath(reason: string): void {
    this.#worker = undefined;
    const { modelName } = this.#options.start;
    const failure = internal(`the worker of model '${modelName}' instance '${this.#options.instanceName}' stopped unexpectedly (${reason})`);
    this.#options.logger.error(`${failure.message}; restarting it`);
    for (const [exec, pending] of this.#executions) {
      this.#executions.delete(exec);
      pending.resolve({ responses: pending.requests.map(() => failure), timings: { computeInputNs: 0, computeInferNs: nowNs() - pending.startNs, computeOutputNs: 0 } });
    }
    for (const [key, open] of this.#open) {
      this.#open.delete(key);
      open.responder.send({ error: failure, final: true });
    }
    for (const token of this.#calls.values()) token.cancel();
    this.#slotListeners.forEach((remove) => remove?.());
    this.#slotListeners.length = 0;
    this.#freeSlots.length = 0;
    for (let i = CANCEL_SLOTS - 1; i >= 0; i--) this.#freeSlots.push(i);
    if (!this.#closed) this.#restart();
  }

  #restart(): void {
    const delay = RESTART_DELAYS_MS[Math.min(this.#restarts, RESTART_DELAYS_MS.length - 1)]!;
    this.#restarts++;
    const attempt = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => this.#startWorker());
    this.#starting = attempt;
    attempt.then(
      (worker) => {
        // Closed (or superseded) meanwhile: the new worker has nobody to serve.
        if (this.#closed || this.#starting !== attempt) {
          void worker.stop();
          return;
        }
        this.#starting = undefined;
        this.#worker = worker;
        this.#restarts = 0;
        this.#options.logger.info(`the worker of model '${this.#options.start.modelName}' instance '${this.#options.instanceName}' restarted`);
      },
      (error: unknown) => {
        if (this.#starting !== attempt || this.#closed) return;
        this.#options.logger.error(`restarting the worker of '${this.#options.instanceName}' failed: ${toServerError(error).message}`);
        this.#restart();
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#starting = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    for (const token of this.#calls.values()) token.cancel();
    await worker?.stop();
  }
}

function errorOf(error: ServerError): WireError {
  return { code: error.code, message: error.message };
}

function wireResponse(response: InferResponse): { message: WireInferResponse; transfer: ArrayBuffer[] } {
  const { tensors, buffer } = packTensors(response.outputs);
  return {
    message: { modelName: response.modelName, modelVersion: response.modelVersion, id: response.id, parameters: response.parameters, outputs: tensors },
    transfer: buffer.byteLength > 0 ? [buffer] : [],
  };
}
