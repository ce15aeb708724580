import { parentPort, workerData } from 'node:worker_threads';
import { configTypeToDatatype, type Datatype } from '@nereid/protocol';
import { createAutoCompleteConfig } from './auto-complete.js';
import { ModelError, type InferRequest, type InferResult, type Model, type Nereid, type Request, type Response, type ResponseSender, type Tensor } from './model-api.js';
import { modelTensor, packOutput } from './worker-tensors.js';
import type { ControlFromWorker, ControlToWorker, FromWorker, ToWorker, WireError, WireInferRequest, WireInferResponse, WireRequest, WireResponse, WireTensor, WorkerSetup } from './wire.js';

/**
 * The entry of a JavaScript model's worker thread: imports the model module, runs its life cycle
 * (autoCompleteConfig, or initialize / execute / finalize) and answers the server.
 */
const setup = workerData as WorkerSetup;
const control = parentPort!;
const cancelFlags = new Int32Array(setup.cancelFlags);
const config = JSON.parse(setup.configJson) as { output?: Array<{ name: string; data_type: string }> };
const outputTypes = new Map<string, Datatype | undefined>((config.output ?? []).map((o) => [o.name, configTypeToDatatype(o.data_type)]));

function post(message: FromWorker, transfer?: ArrayBuffer[]): void {
  setup.replies.postMessage(message, transfer);
}

function sendControl(message: ControlFromWorker): void {
  control.postMessage(message);
}

function wireError(error: unknown): WireError {
  // By shape: a model.ts bundles its own copy of ModelError.
  if (error instanceof Error && error.name === 'ModelError' && typeof (error as ModelError).code === 'string') {
    return { code: (error as ModelError).code, message: error.message };
  }
  if (error instanceof Error) return { code: 'INTERNAL', message: `${error.name}: ${error.message}` };
  return { code: 'INTERNAL', message: String(error) };
}

/** Outputs to wire tensors; their buffers are added to `transfer` (each once). */
function packOutputs(outputs: Response['outputs'], transfer: Set<ArrayBuffer>): WireTensor[] {
  const packed: WireTensor[] = [];
  for (const output of outputs ?? []) {
    const { tensor, transfer: buffer } = packOutput(output, outputTypes.get(output.name));
    if (buffer !== undefined) transfer.add(buffer);
    packed.push(tensor);
  }
  return packed;
}

function packResponse(response: Response | undefined, transfer: Set<ArrayBuffer>): WireResponse | WireError {
  if (response === undefined || response === null || typeof response !== 'object') {
    return { code: 'INTERNAL', message: 'execute returned no response for the request' };
  }
  if (response.error !== undefined) return typeof response.error === 'string' ? { code: 'INTERNAL', message: response.error } : wireError(response.error);
  return { outputs: packOutputs(response.outputs, transfer), parameters: { ...(response.parameters ?? {}) } };
}

// --- BLS: requests to other models through the server ---------------------------------------

interface PendingCall {
  readonly onEvent: (message: Extract<ToWorker, { t: 'infer-done' | 'infer-event' }>) => void;
}
const calls = new Map<number, PendingCall>();
let nextCall = 1;

function wireInferRequest(request: InferRequest, transfer: Set<ArrayBuffer>): WireInferRequest {
  if (typeof request?.model !== 'string') throw new TypeError('infer: the request needs a model name');
  const inputs = (request.inputs ?? []).map((input) => {
    const { tensor, transfer: buffer } = packOutput(input, undefined);
    if (buffer !== undefined) transfer.add(buffer);
    return tensor;
  });
  return {
    modelName: request.model,
    modelVersion: request.version ?? '',
    id: request.id ?? '',
    parameters: { ...(request.parameters ?? {}) },
    inputs,
    outputs: request.outputs === undefined ? undefined : [...request.outputs],
  };
}

function inferResult(response: WireInferResponse): InferResult {
  const outputs = response.outputs.map(modelTensor);
  return {
    model: response.modelName,
    version: response.modelVersion,
    id: response.id,
    parameters: response.parameters,
    outputs,
    output: (name) => outputs.find((o) => o.name === name),
  };
}

function toModelError(error: WireError): ModelError {
  return new ModelError(error.message, error.code as ModelError['code']);
}

function startCall(request: InferRequest, stream: boolean, onEvent: PendingCall['onEvent']): number {
  const transfer = new Set<ArrayBuffer>();
  const wire = wireInferRequest(request, transfer);
  const call = nextCall++;
  calls.set(call, { onEvent });
  const signal = request.signal;
  if (signal !== undefined) {
    const cancel = (): void => {
      if (calls.has(call)) post({ t: 'infer-cancel', call });
    };
    if (signal.aborted) queueMicrotask(cancel);
    else signal.addEventListener('abort', cancel, { once: true });
  }
  post({ t: 'infer', call, request: wire, stream }, [...transfer]);
  return call;
}

function infer(request: InferRequest): Promise<InferResult> {
  return new Promise((resolve, reject) => {
    const call = startCall(request, false, (message) => {
      calls.delete(call);
      if (message.error !== undefined) reject(toModelError(message.error));
      else resolve(inferResult(message.response!));
    });
  });
}

async function* inferStream(request: InferRequest): AsyncIterable<InferResult> {
  const queue: Array<InferResult | ModelError | null> = [];
  let wake: (() => void) | undefined;
  const call = startCall(request, true, (message) => {
    if (message.response !== undefined) queue.push(inferResult(message.response));
    if (message.error !== undefined) queue.push(toModelError(message.error));
    if (message.t === 'infer-done' || message.final) {
      calls.delete(call);
      queue.push(null);
    }
    wake?.();
  });
  for (;;) {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const next = queue.shift()!;
    if (next === null) return;
    if (next instanceof ModelError) throw next;
    yield next;
  }
}

const api: Nereid = {
  infer,
  inferStream,
  log: {
    info: (message) => post({ t: 'log', level: 'info', message: String(message) }),
    warn: (message) => post({ t: 'log', level: 'warn', message: String(message) }),
    error: (message) => post({ t: 'log', level: 'error', message: String(message) }),
    verbose: (message) => post({ t: 'log', level: 'verbose', message: String(message) }),
  },
};
(globalThis as Record<symbol, unknown>)[Symbol.for('nereid.model.runtime')] = api;

// --- requests ---------------------------------------------------------------------------------

/** One request as `execute` sees it (methods on the prototype: nothing allocated per request but the tensors). */
class ModelRequest implements Request {
  readonly #wire: WireRequest;
  readonly inputs: readonly Tensor[];
  #sender: ResponseSender | undefined;

  constructor(wire: WireRequest) {
    this.#wire = wire;
    this.inputs = wire.inputs.map(modelTensor);
  }

  get id(): string {
    return this.#wire.id;
  }
  get correlationId(): bigint | string {
    return this.#wire.correlationId;
  }
  get sequenceStart(): boolean {
    return this.#wire.sequenceStart;
  }
  get sequenceEnd(): boolean {
    return this.#wire.sequenceEnd;
  }
  get parameters(): Request['parameters'] {
    return this.#wire.parameters;
  }
  get requestedOutputNames(): readonly string[] {
    return this.#wire.requestedOutputs;
  }

  input(name: string): Tensor | undefined {
    return this.inputs.find((tensor) => tensor.name === name);
  }

  isCancelled(): boolean {
    const slot = this.#wire.cancelSlot;
    return slot >= 0 && Atomics.load(cancelFlags, slot) === 1;
  }

  responseSender(): ResponseSender {
    return (this.#sender ??= new Sender(this.#wire.key));
  }
}

/** A decoupled request's response sender: any number of responses, then nothing after the final one. */
class Sender implements ResponseSender {
  readonly #key: number;
  #closed = false;

  constructor(key: number) {
    this.#key = key;
  }

  send(response?: Response, options?: { readonly final?: boolean }): void {
    if (this.#closed) throw new Error('the response sender of this request already sent its final response');
    const final = options?.final === true;
    if (final) this.#closed = true;
    if (response === undefined) {
      post({ t: 'respond', key: this.#key, final });
      return;
    }
    const transfer = new Set<ArrayBuffer>();
    const packed = packResponse(response, transfer);
    if ('code' in packed) post({ t: 'respond', key: this.#key, error: packed, final });
    else post({ t: 'respond', key: this.#key, response: packed, final }, [...transfer]);
  }
}

async function execute(exec: number, wires: readonly WireRequest[], model: Model): Promise<void> {
  let responses;
  try {
    responses = await model.execute(wires.map((wire) => new ModelRequest(wire)), api);
  } catch (error) {
    post({ t: 'executed', exec, error: wireError(error) });
    return;
  }
  if (responses === undefined || responses === null) {
    post({ t: 'executed', exec });
    return;
  }
  if (!Array.isArray(responses) || responses.length !== wires.length) {
    const got = Array.isArray(responses) ? `${responses.length} responses` : typeof responses;
    post({ t: 'executed', exec, error: { code: 'INTERNAL', message: `execute must return one response per request: ${wires.length} requests, got ${got}` } });
    return;
  }
  const transfer = new Set<ArrayBuffer>();
  let packed;
  try {
    packed = responses.map((response: Response) => packResponse(response, transfer));
  } catch (error) {
    post({ t: 'executed', exec, error: wireError(error) });
    return;
  }
  post({ t: 'executed', exec, responses: packed }, [...transfer]);
}

function onMessage(model: Model): (message: unknown) => void {
  return (raw) => {
    const message = raw as ToWorker;
    if (message.t === 'execute') void execute(message.exec, message.requests, model);
    else calls.get(message.call)?.onEvent(message);
  };
}

// --- life cycle -------------------------------------------------------------------------------

async function main(): Promise<void> {
  let model: Model;
  try {
    model = (await import(setup.moduleUrl)) as Model;
    if (setup.mode === 'autocomplete') {
      let completedConfig: string | undefined;
      if (typeof model.autoCompleteConfig === 'function') {
        const helper = createAutoCompleteConfig(JSON.parse(setup.configJson) as Record<string, unknown>, setup.modelName);
        await model.autoCompleteConfig(helper, api);
        completedConfig = JSON.stringify(helper.asDict());
      }
      sendControl(completedConfig === undefined ? { t: 'ready' } : { t: 'ready', completedConfig });
      return;
    }
    if (typeof model.execute !== 'function') throw new Error('the model module exports no execute function');
    const args = { ...setup.args, model_config: JSON.parse(setup.configJson) as unknown };
    await model.initialize?.(args as Parameters<NonNullable<Model['initialize']>>[0], api);
  } catch (error) {
    sendControl({ t: 'failed', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    return;
  }
  const requests = setup.requests;
  const onRequest = onMessage(model);
  requests.on('message', onRequest);
  control.on('message', (message: ControlToWorker) => {
    if (message.t !== 'finalize') return;
    requests.off('message', onRequest);
    Promise.resolve()
      .then(() => model.finalize?.(api))
      .then(
        () => sendControl({ t: 'finalized' }),
        (error: unknown) => sendControl({ t: 'finalized', error: String(error) }),
      );
  });
  sendControl({ t: 'ready' });
}

void main();
