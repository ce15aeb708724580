import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { AsyncQueue } from './async-queue.js';
import { GrpcStatus, InferenceServerError, grpcError } from './errors.js';
import { inferRequestMessage, inferResult } from './grpc-infer-messages.js';
import type { InferRequest, InferResult } from './tensor.js';

/** One message of a ModelStreamInfer stream: a response, or the error the server sent in its place. */
export type StreamMessage =
  | { readonly result: InferResult; readonly final: boolean; readonly error?: undefined }
  | { readonly error: InferenceServerError; readonly result?: undefined; readonly final?: undefined };

/** A ModelStreamInfer stream: send requests, iterate responses. */
export class InferStream implements AsyncIterable<StreamMessage> {
  readonly #call: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>;
  readonly #queue: AsyncQueue<StreamMessage>;
  readonly #signal: AbortSignal | undefined;

  constructor(call: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>, signal: AbortSignal | undefined) {
    this.#call = call;
    this.#signal = signal;
    this.#queue = new AsyncQueue(() => call.cancel());
    const onAbort = () => {
      this.#queue.fail(signal!.reason);
      call.cancel();
    };
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
    call.on('data', (message: ModelStreamInferResponse) => {
      if (message.errorMessage !== '') {
        // A stream's error message carries no status code.
        this.#queue.push({ error: new InferenceServerError(message.errorMessage, 'grpc', GrpcStatus.UNKNOWN) });
      } else {
        const result = inferResult(message.inferResponse!);
        this.#queue.push({ result, final: result.parameters['triton_final_response'] !== false });
      }
    });
    call.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      this.#queue.end();
    });
    call.on('error', (error: ServiceError) => {
      signal?.removeEventListener('abort', onAbort);
      this.#queue.fail(signal?.aborted ? signal.reason : grpcError(error));
    });
  }

  /** Sends one request (a message built by `inferRequestMessage`, or model + request). */
  send(message: ModelInferRequest): void;
  send(model: string, request: InferRequest): void;
  send(modelOrMessage: string | ModelInferRequest, request?: InferRequest): void {
    if (this.#signal?.aborted) return;
    this.#call.write(typeof modelOrMessage === 'string' ? inferRequestMessage(modelOrMessage, request!) : modelOrMessage);
  }

  /** No more requests: the server ends the stream once every response is sent. */
  end(): void {
    this.#call.end();
  }

  cancel(): void {
    this.#call.cancel();
    this.#queue.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamMessage> {
    return this.#queue;
  }
}
