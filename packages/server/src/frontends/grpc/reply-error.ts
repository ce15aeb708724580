import { ServerError, grpcStatusOf, wireMessage } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import { Status, type CallStatus } from './transport/status.js';

/** What a failed RPC sends: the status code and the message the client reads. */
export type GrpcErrorStatus = CallStatus;

/**
 * Maps anything a handler threw onto a gRPC status: a ServerError keeps its message and gets the
 * status Triton's CodeToStatus gives its code; anything else is a bug, so it is logged and sent as
 * INTERNAL. The message is bounded (wireMessage): it travels in the HTTP/2 trailers, and trailers
 * larger than the client accepts are never delivered, stalling every call on the connection.
 */
export function toGrpcError(error: unknown, logger: Logger): GrpcErrorStatus {
  if (error instanceof ServerError) return { code: grpcStatusOf(error.code), details: wireMessage(error.message) };
  const message = error instanceof Error ? error.message : String(error);
  logger.error(`gRPC request failed unexpectedly: ${error instanceof Error ? (error.stack ?? message) : message}`);
  return { code: Status.INTERNAL, details: wireMessage(message) };
}
