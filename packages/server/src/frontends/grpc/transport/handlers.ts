import type { IncomingHttpHeaders } from 'node:http2';
import type { CancelSignal } from '../../../util/cancel-signal.js';
import type { CallStatus } from './status.js';

/**
 * What a gRPC method implementation sees of its call. The transport decodes and encodes messages;
 * handlers work with protobuf-es messages only.
 */
export interface CallContext {
  /** The request headers (custom metadata among them), names lower-case. */
  readonly metadata: IncomingHttpHeaders;
  /** Aborted when the client cancels, the deadline passes, or the connection goes. */
  readonly cancelled: CancelSignal;
  /** Calls `listener` once the call's stream has closed (its response and status sent, or it failed). */
  onClosed(listener: () => void): void;
}

/** A unary method: the response, or a promise of it; whatever it throws becomes the status. */
export type UnaryHandler<Request = never, Response = unknown> = (
  request: Request,
  call: CallContext,
) => Response | Promise<Response>;

/** Where a bidirectional stream's requests go. */
export interface StreamListener<Request> {
  message(request: Request): void;
  /** The client sent its last request. */
  halfClose(): void;
}

/** A bidirectional stream as its handler drives it. */
export interface ServerStream<Request, Response> extends CallContext {
  /** Starts delivery of requests (call once). */
  listen(listener: StreamListener<Request>): void;
  write(response: Response): void;
  /** Ends the call with OK. */
  end(): void;
  /** Ends the call with an error status. */
  fail(status: CallStatus): void;
}

export type StreamHandler<Request = never, Response = never> = (stream: ServerStream<Request, Response>) => void;

/** A service's implementation: one handler per method, keyed by the method's local (camelCase) name. */
export type ServiceHandlers = Readonly<Record<string, UnaryHandler<never, unknown> | StreamHandler<never, never>>>;
