import { status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import { ServerError, grpcStatusOf } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';

/** What a failed RPC sends: the status code and the message the client reads. */
export type GrpcErrorStatus = Pick<StatusObject, 'code' | 'details'>;

/**
 * Maps anything a handler threw onto a gRPC status: a ServerError keeps its message and gets the
 * status Triton's CodeToStatus gives its code; anything else is a bug, so it is logged and sent as
 * INTERNAL.
 */
export function toGrpcError(error: unknown, logger: Logger): GrpcErrorStatus {
  if (error instanceof ServerError) return { code: grpcStatusOf(error.code), details: error.message };
  const message = error instanceof Error ? error.message : String(error);
  logger.error(`gRPC request failed unexpectedly: ${error instanceof Error ? (error.stack ?? message) : message}`);
  return { code: GrpcStatus.INTERNAL, details: message };
}
