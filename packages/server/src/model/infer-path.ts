/**
 * The path of a request through one model version: normalised against the signature, answered from
 * the response cache or handed to the scheduler, its outputs shaped for the response, its outcome
 * recorded (request-recording.ts).
 */
import type { CacheLookup, ModelResponseCache } from '../cache/model-response-cache.js';
import { toServerError, type ServerError } from '../errors/index.js';
import type { InferenceTrace } from '../observability/tracing/request-trace.js';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { InferResponse, StreamEvent, StreamListener } from '../request/infer-response.js';
import type { DecoupledResponse, InferenceRequest, RequestedOutput } from '../request/inference-request.js';
import type { ModelSignature } from '../request/model-signature.js';
import { normalizeRequest } from '../request/normalize.js';
import { buildResponseOutputs } from '../request/response-outputs.js';
import { EnsembleScheduler } from '../scheduler/ensemble/ensemble-scheduler.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { nowNs } from '../util/clock.js';
import { failureReason, traceExecution, type RequestRecorder } from './request-recording.js';

/** What a version's infer path runs on; its ModelVersion builds them once. */
export interface InferPathParts {
  readonly name: string;
  readonly version: bigint;
  readonly signature: ModelSignature;
  readonly scheduler: Scheduler;
  /** Set when both the model and the server enable the response cache. */
  readonly cache: ModelResponseCache | undefined;
  /** With metrics on: requests received and not yet handed to an instance (Triton's pending count). */
  readonly pending: Set<InferenceRequest> | undefined;
  readonly recorder: RequestRecorder;
  /** An ensemble (its steps run on the members): its failures are all OTHER. */
  readonly ensemble: boolean;
}

/** One version's requests, from normalisation to the response; counts those in flight. */
export class InferPath {
  readonly #name: string;
  readonly #version: bigint;
  readonly #signature: ModelSignature;
  readonly #scheduler: Scheduler;
  readonly #cache: ModelResponseCache | undefined;
  readonly #pending: Set<InferenceRequest> | undefined;
  readonly #recorder: RequestRecorder;
  readonly #ensemble: boolean;
  /** Requests handed to the scheduler and not completed yet. */
  #inFlight = 0;

  constructor(parts: InferPathParts) {
    this.#name = parts.name;
    this.#version = parts.version;
    this.#signature = parts.signature;
    this.#scheduler = parts.scheduler;
    this.#cache = parts.cache;
    this.#pending = parts.pending;
    this.#recorder = parts.recorder;
    this.#ensemble = parts.ensemble;
  }

  /** Requests queued or running (0: the version can be unloaded without waiting). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Normalises, schedules and runs one request; statistics record its outcome. As in Triton, a
   * request refused before it enters the model (malformed, queue full, unloading) is not counted.
   */
  infer(init: InferRequestInit, signal: CancelSignal | undefined, startNs: number, trace?: InferenceTrace): Promise<InferResponse> {
    return new Promise<InferResponse>((resolve, reject) => this.submit(init, signal, startNs, trace, resolve, reject));
  }

  /**
   * `infer` with callbacks instead of a promise, for the core's own callers (ensemble steps): one
   * of the two is called exactly once, possibly before this returns (a malformed request, a cache hit).
   */
  submit(
    init: InferRequestInit,
    signal: CancelSignal | undefined,
    startNs: number,
    trace: InferenceTrace | undefined,
    resolve: (response: InferResponse) => void,
    reject: (error: unknown) => void,
  ): void {
    trace?.requestStart(this.#name, this.#version, init.id, startNs);
    let request: InferenceRequest;
    try {
      request = normalizeRequest(init, this.#signature, this.#version, signal);
    } catch (error) {
      trace?.requestEnd(nowNs());
      reject(error);
      return;
    }
    const enqueuedNs = nowNs();
    if (trace !== undefined) {
      trace.report('QUEUE_START', enqueuedNs);
      trace.reportTensors('TENSOR_QUEUE_INPUT', request.inputs);
    }
    const cached = this.#cache?.lookup(request);
    if (cached?.outputs !== undefined) {
      this.#answerFromCache(init, request, cached, startNs, enqueuedNs, trace, resolve, reject);
      return;
    }
    this.#inFlight++;
    this.#pending?.add(request);
    this.#scheduler.enqueue({
      request,
      enqueuedNs,
      signal,
      trace,
      complete: (outcome) => {
        this.#inFlight--;
        this.#pending?.delete(request);
        if (!outcome.ok) {
          this.#recorder.fail(startNs, failureReason(outcome.reason, this.#ensemble));
          trace?.requestEnd(nowNs());
          reject(outcome.error);
          return;
        }
        let response: InferResponse;
        try {
          const outputs = buildResponseOutputs(request, this.#signature, outcome.outputs);
          if (cached !== undefined) {
            const missNs = cached.lookupNs + this.#cache!.insert(cached, request, outcome.outputs);
            this.#recorder.cacheMiss(missNs);
          }
          const timings = { requestNs: nowNs() - startNs, ...outcome.timings };
          this.#recorder.success(timings, request.batchSize);
          if (trace !== undefined) traceExecution(trace, enqueuedNs, outcome.timings, outcome.outputs, this.#scheduler instanceof EnsembleScheduler);
          const stats = { queueNs: timings.queueNs, computeNs: timings.computeInputNs + timings.computeInferNs + timings.computeOutputNs, batchSize: request.batchSize };
          response = { modelName: this.#name, modelVersion: String(this.#version), id: init.id, parameters: outcome.parameters ?? {}, outputs, stats };
        } catch (error) {
          this.#recorder.fail(startNs, 'OTHER');
          trace?.requestEnd(nowNs());
          reject(toServerError(error));
          return;
        }
        // Outside the try: what the caller does with its response is not this request's failure.
        resolve(response);
      },
    });
  }

  /** `ModelVersion.inferStream` for a decoupled model: its backend sends 0..n responses through the request's responder. */
  inferDecoupled(init: InferRequestInit, signal: CancelSignal | undefined, startNs: number, listen: StreamListener): Promise<void> {
    let request: InferenceRequest;
    try {
      request = normalizeRequest(init, this.#signature, this.#version, signal);
    } catch (error) {
      // Refused before entering the model: not a failure in the statistics (as in Triton).
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      let sent = 0;
      let finished = false;
      const finish = (event: StreamEvent | undefined, failure?: ServerError): void => {
        finished = true;
        if (failure !== undefined && sent === 0) {
          this.#recorder.fail(startNs, 'BACKEND');
          reject(failure);
          return;
        }
        if (event !== undefined) listen(event);
        if (failure !== undefined) this.#recorder.fail(startNs, 'BACKEND');
        else this.#recorder.statistics.recordSuccess({ requestNs: nowNs() - startNs, queueNs: 0, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 }, request.batchSize);
        resolve();
      };
      // Per response: its index and when the model began on it (Triton's response statistics).
      let index = 0;
      let since = nowNs();
      const account = (kind: 'success' | 'empty' | 'fail' | 'cancel'): void => {
        const now = nowNs();
        this.#recorder.statistics.recordResponse(index++, kind, since, now);
        since = now;
      };
      const responder = {
        send: (response: DecoupledResponse): void => {
          if (finished) return;
          account(response.error !== undefined ? (response.error.code === 'CANCELLED' ? 'cancel' : 'fail') : response.outputs === undefined ? 'empty' : 'success');
          if (response.error !== undefined) {
            finish({ error: response.error, final: true }, response.error);
            return;
          }
          let event: StreamEvent = { final: response.final };
          if (response.outputs !== undefined) {
            try {
              const outputs = buildResponseOutputs({ ...request, requestedOutputs: requestedOf(request, response.outputs) }, this.#signature, response.outputs);
              event = { response: { modelName: this.#name, modelVersion: String(this.#version), id: init.id, parameters: response.parameters ?? {}, outputs }, final: response.final };
            } catch (error) {
              const failure = toServerError(error);
              finish({ error: failure, final: true }, failure);
              return;
            }
          }
          if (response.final) {
            finish(event);
            return;
          }
          sent++;
          listen(event);
        },
      };
      this.#inFlight++;
      this.#scheduler.enqueue({
        request: { ...request, responder },
        enqueuedNs: nowNs(),
        signal,
        complete: (outcome) => {
          this.#inFlight--;
          // The execution is over; a decoupled model may still answer later, unless it failed.
          if (!outcome.ok && !finished) finish({ error: outcome.error, final: true }, outcome.error);
        },
      });
    });
  }

  /** A cache hit: the stored outputs shaped for this request, without the queue or the backend. */
  #answerFromCache(
    init: InferRequestInit,
    request: InferenceRequest,
    cached: CacheLookup,
    startNs: number,
    enqueuedNs: number,
    trace: InferenceTrace | undefined,
    resolve: (response: InferResponse) => void,
    reject: (error: unknown) => void,
  ): void {
    let outputs;
    try {
      outputs = buildResponseOutputs(request, this.#signature, cached.outputs!);
    } catch (error) {
      this.#recorder.fail(startNs, 'OTHER');
      trace?.requestEnd(nowNs());
      reject(toServerError(error));
      return;
    }
    const requestNs = nowNs() - startNs;
    const queueNs = cached.startNs - enqueuedNs;
    this.#recorder.cacheHit(requestNs, queueNs, cached.lookupNs);
    trace?.requestEnd(nowNs());
    resolve({ modelName: this.#name, modelVersion: String(this.#version), id: init.id, parameters: {}, outputs });
  }
}

/**
 * The requested outputs a decoupled response answers: the request's, limited to those the response
 * carries (a decoupled model may send some outputs in one response and others in the next).
 */
function requestedOf(request: InferenceRequest, outputs: readonly { readonly name: string }[]): readonly RequestedOutput[] {
  return request.requestedOutputs.filter((requested) => outputs.some((output) => output.name === requested.name));
}
