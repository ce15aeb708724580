import { ServerError, internal, toServerError } from '../../errors/server-error.js';
import type { Logger } from '../../observability/logger.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { BackendInstance, ExecutionResult } from '../backend.js';
import type { Parameters } from '../../tensor/tensor.js';
import { FrameKind, type Frame } from './frames.js';
import type { StubProcess } from './stub-process.js';
import { errorCodeOf, executeFrame, executeResults } from './wire-requests.js';

/** Starts a stub for the named instance (model.py imported, not yet initialized). */
export type StubFactory = (name: string) => Promise<StubProcess>;

export interface PythonInstanceOptions {
  readonly name: string;
  /** Triton's `initialize(args)` dictionary. */
  readonly args: Readonly<Record<string, string>>;
  readonly factory: StubFactory;
  /** A stub already started (the auto-complete one) to initialize instead of starting another. */
  readonly first: StubProcess | undefined;
  readonly logger: Logger;
  readonly onClose: () => void;
}

/** First and longest wait between restarts of a stub that keeps failing to start. */
const RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 5_000;
/** How long a stub may take to run `finalize()` at unload before it is killed. */
export const STOP_GRACE_MS = 5_000;
/** A model's `is_ready()` is asked at most this often. */
const IS_READY_INTERVAL_MS = 1_000;

/**
 * One instance of a Python model: one stub process running `TritonPythonModel`. Each execute is one
 * EXECUTE frame with the batch's requests and one reply with their responses. A stub that dies (or
 * is killed as hung) fails the requests it held, makes the instance not ready, and is replaced by a
 * new stub, initialized with the same arguments; requests that arrive meanwhile wait for it.
 */
export class PythonInstance implements BackendInstance {
  readonly #options: PythonInstanceOptions;
  #stub: StubProcess | undefined;
  /** A restart in progress; resolves with the new stub, or undefined once the instance is closed. */
  #restarting: Promise<StubProcess | undefined> | undefined;
  #closed: Promise<void> | undefined;
  /** The model defines `is_ready()`; its last answer, and when it was last asked. */
  #hasIsReady = false;
  #userReady = true;
  #askedAt = -Infinity;
  #asking = false;
  /** The batches being executed, by number, for the stub's questions about them (is_cancelled). */
  readonly #batches = new Map<number, readonly InferenceRequest[]>();
  /** Requests of a decoupled model still waiting for their final response, by `batch:index`. */
  readonly #open = new Map<string, InferenceRequest>();
  #nextBatch = 0;

  private constructor(options: PythonInstanceOptions) {
    this.#options = options;
  }

  static async create(options: PythonInstanceOptions): Promise<PythonInstance> {
    const instance = new PythonInstance(options);
    const stub = options.first ?? (await options.factory(options.name));
    try {
      await instance.#initialize(stub);
    } catch (error) {
      stub.kill();
      await stub.exited;
      throw error;
    }
    instance.#adopt(stub);
    return instance;
  }

  /**
   * The stub is alive and, when the model defines `is_ready()`, its last answer was True. The answer
   * is refreshed in the background when readiness is asked, at most once a second (Triton asks it
   * synchronously on every readiness check; the core's readiness is synchronous here), so a change
   * shows from the next check after the model answered.
   */
  ready(): boolean {
    const stub = this.#stub;
    if (this.#closed !== undefined || stub === undefined || !stub.alive) return false;
    if (this.#hasIsReady) this.#askIsReady(stub);
    return this.#userReady;
  }

  #askIsReady(stub: StubProcess): void {
    const now = performance.now();
    if (this.#asking || now - this.#askedAt < IS_READY_INTERVAL_MS) return;
    this.#asking = true;
    this.#askedAt = now;
    stub
      .call(FrameKind.IS_READY, {})
      .then(
        (reply) => {
          this.#userReady = reply.header['ok'] === true && reply.header['result'] === true;
          if (reply.header['ok'] !== true) this.#options.logger.error(`is_ready() of '${this.#options.name}' failed: ${String(reply.header['error'])}`);
        },
        () => undefined,
      )
      .finally(() => {
        this.#asking = false;
      });
  }

  async execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult> {
    const start = process.hrtime.bigint();
    let responses: ExecutionResult['responses'];
    let parameters: ExecutionResult['parameters'];
    try {
      const stub = await this.#current();
      const { header, tensors } = executeFrame(requests);
      const batch = ++this.#nextBatch;
      this.#batches.set(batch, requests);
      // A decoupled model answers through RESPONSE frames, also after its execute returned.
      requests.forEach((request, index) => {
        if (request.responder !== undefined) this.#open.set(`${batch}:${index}`, request);
      });
      try {
        const reply = await stub.call(FrameKind.EXECUTE, { ...header, batch }, tensors);
        if (requests.some((request) => request.responder !== undefined) && reply.header['ok'] === true) {
          responses = requests.map(() => []);
        } else {
          requests.forEach((_, index) => this.#open.delete(`${batch}:${index}`));
          ({ responses, parameters } = executeResults(reply, requests.length, this.#options.name));
        }
      } catch (error) {
        requests.forEach((_, index) => this.#open.delete(`${batch}:${index}`));
        throw error;
      } finally {
        this.#batches.delete(batch);
      }
    } catch (error) {
      const failure = toServerError(error);
      const message = `Failed to process the request(s) for model instance '${this.#options.name}', message: ${failure.message}`;
      responses = requests.map(() => new ServerError(failure.code, message));
    }
    const inferNs = Number(process.hrtime.bigint() - start);
    return { responses, parameters, timings: { computeInputNs: 0, computeInferNs: inferNs, computeOutputNs: 0 } };
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#options.onClose();
      await this.#restarting;
      await this.#stub?.stop(STOP_GRACE_MS);
    })();
    return this.#closed;
  }

  /** The serving stub, waiting for a restart in progress. */
  async #current(): Promise<StubProcess> {
    if (this.#stub?.alive === true) return this.#stub;
    const next = await this.#restarting;
    if (next === undefined) throw internal(`model instance '${this.#options.name}' is closed`);
    return next;
  }

  /** Answers the stub's questions about the requests it executes; other frames go on as before. */
  #listen(stub: StubProcess): void {
    const others = stub.onFrame;
    stub.onFrame = (frame, from) => {
      if (frame.kind === FrameKind.RESPONSE) {
        this.#respond(frame);
        return;
      }
      if (frame.kind !== FrameKind.QUERY) return others(frame, from);
      const key = `${String(frame.header['batch'])}:${String(frame.header['index'])}`;
      const request = this.#batches.get(Number(frame.header['batch']))?.[Number(frame.header['index'])] ?? this.#open.get(key);
      from.send(FrameKind.QUERY_RESULT, { call: frame.header['call'], result: request?.signal?.aborted === true });
    };
  }

  /** One response of a decoupled request, from its response sender. */
  #respond(frame: Frame): void {
    const key = `${String(frame.header['batch'])}:${String(frame.header['index'])}`;
    const request = this.#open.get(key);
    if (request?.responder === undefined) {
      this.#options.logger.error(`model instance '${this.#options.name}' sent a response for a request that is not open`);
      return;
    }
    const final = frame.header['final'] === true;
    if (final) this.#open.delete(key);
    const error = frame.header['error'] as [number, string] | undefined;
    if (error !== undefined) {
      request.responder.send({ error: new ServerError(errorCodeOf(error[0]), error[1]), final: true });
      this.#open.delete(key);
      return;
    }
    const params = frame.header['params'] as Parameters | undefined;
    const hasOutputs = Array.isArray(frame.header['t']);
    request.responder.send({ ...(hasOutputs ? { outputs: frame.tensors } : {}), ...(params === undefined ? {} : { parameters: params }), final });
  }

  /** A dead stub's open decoupled requests end with its error. */
  #failOpen(message: string): void {
    for (const request of this.#open.values()) request.responder?.send({ error: internal(message), final: true });
    this.#open.clear();
  }

  async #initialize(stub: StubProcess): Promise<void> {
    this.#listen(stub);
    stub.name = this.#options.name;
    const reply = await stub.call(FrameKind.INITIALIZE, { args: this.#options.args });
    if (reply.header['ok'] !== true) {
      throw internal(`Failed to initialize Python stub: ${String(reply.header['error'])}`);
    }
    this.#hasIsReady = (reply.header['result'] as { is_ready?: boolean } | undefined)?.is_ready === true;
    this.#userReady = true;
    this.#askedAt = -Infinity;
  }

  /** Serves with `stub` and restarts when it ends while the instance is open. */
  #adopt(stub: StubProcess): void {
    this.#stub = stub;
    void stub.exited.then(({ code, signal }) => {
      if (this.#stub === stub) this.#failOpen(`Stub process '${this.#options.name}' is not healthy.`);
      if (this.#closed !== undefined || this.#stub !== stub) return;
      this.#options.logger.error(
        `Stub process '${this.#options.name}' (pid ${stub.pid}) ended unexpectedly (${signal ?? `exit code ${code}`}); restarting it`,
      );
      this.#restarting = this.#restart();
    });
  }

  async #restart(): Promise<StubProcess | undefined> {
    let delay = RESTART_DELAY_MS;
    while (this.#closed === undefined) {
      try {
        const stub = await this.#options.factory(this.#options.name);
        try {
          await this.#initialize(stub);
        } catch (error) {
          stub.kill();
          throw error;
        }
        if (this.#closed !== undefined) {
          await stub.stop(STOP_GRACE_MS);
          return undefined;
        }
        this.#adopt(stub);
        this.#options.logger.info(`Stub process '${this.#options.name}' restarted (pid ${stub.pid})`);
        return stub;
      } catch (error) {
        this.#options.logger.error(`restarting stub process '${this.#options.name}' failed: ${toServerError(error).message}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
      }
    }
    return undefined;
  }
}
