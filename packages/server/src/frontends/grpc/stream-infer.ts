import { ServerError } from '../../errors/index.js';
import { create } from '@bufbuild/protobuf';
import {
  ModelStreamInferResponseSchema,
  type ModelInferRequest,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import type { Logger } from '../../observability/logger.js';
import type { InferResponse } from '../../request/infer-response.js';
import { decodeInferMessage } from './infer-message.js';
import { inferWithRequestLog } from './request-logging.js';
import { inferResponseToProto } from './convert-response.js';
import type { DecoupledProbe } from './infer.js';
import { inferParameterOf } from './parameters.js';
import { toGrpcError, type GrpcErrorStatus } from './reply-error.js';
import type { ServerStream, StreamHandler } from './transport/handlers.js';
import { CancelToken } from '../../util/cancel-signal.js';
import { nowNs } from '../../util/clock.js';
import { NEVER_DRAINING, SHUTTING_DOWN_MESSAGE, type DrainingProbe } from './shutting-down.js';

/**
 * Where one streamed request's responses go. A decoupled model may `send` 0..n responses, the last
 * with `final`, or end with `finish()` and no response; a request that fails calls `fail` instead.
 * Today the core answers every request with exactly one response: `send(response, true)`.
 */
export interface StreamResponseSink {
  send(response: InferResponse, final: boolean): void;
  /** The request is complete and its final response, if any, was already sent. */
  finish(): void;
  fail(error: unknown): void;
}

type Stream = ServerStream<ModelInferRequest, ModelStreamInferResponse>;

/** Responses of one non-decoupled request, held until every earlier request's were written. */
interface OrderedSlot {
  readonly messages: ModelStreamInferResponse[];
  done: boolean;
}

const FINAL = 'triton_final_response';
const FINAL_TRUE = { [FINAL]: inferParameterOf(true) };
const FINAL_FALSE = { [FINAL]: inferParameterOf(false) };

/**
 * ModelStreamInfer: every request read from the stream starts at once (requests run concurrently).
 * As in Triton, responses of non-decoupled models go out in request order, responses of decoupled
 * models as they come, and every response carries `triton_final_response`. A failed request becomes
 * a response with `error_message` and the stream goes on, unless the client opened the stream with
 * metadata `triton_grpc_error: true`: then the first error ends the stream with its gRPC status and
 * the other requests are cancelled. A client cancel aborts every request in flight.
 */
export function modelStreamInferHandler(
  core: InferenceCore,
  logger: Logger,
  isDecoupled: DecoupledProbe,
  isDraining: DrainingProbe = NEVER_DRAINING,
): StreamHandler<ModelInferRequest, ModelStreamInferResponse> {
  return (call) => new InferStream(core, logger, isDecoupled, call, isDraining).listen();
}

class InferStream {
  readonly #core: InferenceCore;
  readonly #logger: Logger;
  readonly #isDecoupled: DecoupledProbe;
  readonly #call: Stream;
  readonly #grpcErrorMode: boolean;
  readonly #ordered: OrderedSlot[] = [];
  readonly #inflight = new Set<CancelToken>();
  /** Requests read whose final response (or error) is not written yet. */
  #open = 0;
  #readDone = false;
  #closed = false;

  readonly #isDraining: DrainingProbe;

  constructor(core: InferenceCore, logger: Logger, isDecoupled: DecoupledProbe, call: Stream, isDraining: DrainingProbe) {
    this.#isDraining = isDraining;
    this.#core = core;
    this.#logger = logger;
    this.#isDecoupled = isDecoupled;
    this.#call = call;
    this.#grpcErrorMode = call.metadata['triton_grpc_error'] === 'true';
  }

  listen(): void {
    this.#call.cancelled.addEventListener('abort', () => this.#abortAll());
    this.#call.listen({
      message: (request) => this.#onRequest(request),
      halfClose: () => {
        this.#readDone = true;
        this.#endIfDone();
      },
    });
  }

  #onRequest(request: ModelInferRequest): void {
    if (this.#closed) return;
    this.#open++;
    const sink = this.#sinkFor(request);
    // A stream opened before the drain stays open for the requests it holds; new ones are refused,
    // as Triton does.
    if (this.#isDraining()) {
      sink.fail(new ServerError('UNAVAILABLE', SHUTTING_DOWN_MESSAGE));
      return;
    }
    const controller = new CancelToken();
    this.#inflight.add(controller);
    // A sampled request gets Triton's gRPC timestamps; GRPC_SEND_END once its response is written (or held for order).
    const trace = this.#core.startTrace?.(request.modelName, this.#call.metadata);
    trace?.captureTimestamp('GRPC_WAITREAD_START', nowNs());
    decodeInferMessage(request)
      .then((parsed) => {
        sink.enableEmptyFinalResponse = parsed.enableEmptyFinalResponse;
        if (controller.aborted) throw new ServerError('CANCELLED', 'the stream was cancelled');
        trace?.captureTimestamp('GRPC_WAITREAD_END', nowNs());
        if (sink.decoupled) {
          // Zero or more responses, then the final flag (alone unless empty final responses were asked for).
          return this.#core.inferStream(parsed.init, {
            signal: controller,
            listen: (event) => {
              if (event.error !== undefined) sink.fail(event.error);
              else if (event.response !== undefined) sink.send(event.response, event.final);
              else if (event.final) sink.finish();
            },
          }).then(() => trace?.finish());
        }
        return inferWithRequestLog(this.#core, 'grpc-stream', parsed.init, this.#call.metadata, (logged) =>
          this.#core.infer(logged, { signal: controller, trace: trace?.root }),
        ).then((response) => {
          if (trace === undefined) {
            sink.send(response, true);
            return;
          }
          const now = nowNs();
          trace.captureTimestamp('INFER_RESPONSE_COMPLETE', now);
          trace.captureTimestamp('GRPC_SEND_START', now);
          sink.send(response, true);
          trace.captureTimestamp('GRPC_SEND_END', nowNs());
          trace.finish();
        });
      })
      .then(
      () => {
        this.#inflight.delete(controller);
      },
      (error: unknown) => {
        this.#inflight.delete(controller);
        sink.fail(error);
        trace?.finish();
      },
    );
  }

  #sinkFor(request: ModelInferRequest): StreamResponseSink & { enableEmptyFinalResponse: boolean; readonly decoupled: boolean } {
    let decoupled = false;
    try {
      decoupled = this.#isDecoupled(request.modelName, request.modelVersion);
    } catch {
      // An unknown model is reported by the core when the request runs.
    }
    const slot: OrderedSlot | undefined = decoupled ? undefined : { messages: [], done: false };
    if (slot) this.#ordered.push(slot);
    const identity = { id: request.id, modelName: request.modelName, modelVersion: request.modelVersion };
    let finished = false;
    const emit = (message: ModelStreamInferResponse | undefined, final: boolean): void => {
      if (finished) return;
      finished = final;
      this.#emit(slot, message, final);
    };
    const sink = {
      decoupled,
      enableEmptyFinalResponse: false,
      send: (response: InferResponse, final: boolean): void => {
        let message: ModelStreamInferResponse;
        try {
          const inferResponse = inferResponseToProto(response, final ? FINAL_TRUE : FINAL_FALSE);
          message = create(ModelStreamInferResponseSchema, { inferResponse });
        } catch (error) {
          sink.fail(error);
          return;
        }
        emit(message, final);
      },
      finish: (): void => {
        const empty = decoupled && sink.enableEmptyFinalResponse;
        emit(empty ? this.#responseOf(identity, '') : undefined, true);
      },
      fail: (error: unknown): void => {
        if (finished) return;
        const status = toGrpcError(error, this.#logger);
        if (this.#grpcErrorMode) {
          finished = true;
          this.#closeWithStatus(status);
          return;
        }
        emit(this.#responseOf(identity, status.details), true);
      },
    };
    return sink;
  }

  /** A response without outputs: an error, or the empty final response of a decoupled request. */
  #responseOf(
    identity: { id: string; modelName: string; modelVersion: string },
    errorMessage: string,
  ): ModelStreamInferResponse {
    return create(ModelStreamInferResponseSchema, {
      errorMessage,
      inferResponse: { ...identity, parameters: FINAL_TRUE },
    });
  }

  #emit(slot: OrderedSlot | undefined, message: ModelStreamInferResponse | undefined, final: boolean): void {
    if (slot === undefined) {
      if (message !== undefined) this.#write(message);
      if (final) this.#requestDone();
      return;
    }
    if (message !== undefined) slot.messages.push(message);
    if (final) slot.done = true;
    this.#flushOrdered();
  }

  /** Writes what the oldest requests have ready, stopping at the first one still running. */
  #flushOrdered(): void {
    while (this.#ordered.length > 0) {
      const head = this.#ordered[0]!;
      for (const message of head.messages) this.#write(message);
      head.messages.length = 0;
      if (!head.done) return;
      this.#ordered.shift();
      this.#requestDone();
    }
  }

  #write(message: ModelStreamInferResponse): void {
    if (!this.#closed) this.#call.write(message);
  }

  #requestDone(): void {
    this.#open--;
    this.#endIfDone();
  }

  /** The client half-closed and every request was answered: end the stream with OK. */
  #endIfDone(): void {
    if (this.#closed || !this.#readDone || this.#open > 0) return;
    this.#closed = true;
    this.#call.end();
  }

  #closeWithStatus(status: GrpcErrorStatus): void {
    if (this.#closed) return;
    this.#abortAll();
    this.#call.fail(status);
  }

  #abortAll(): void {
    this.#closed = true;
    for (const controller of this.#inflight) controller.cancel();
    this.#inflight.clear();
  }
}
