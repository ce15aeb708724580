import type { handleUnaryCall } from '@grpc/grpc-js';
import type { Logger } from '../../observability/logger.js';
import { toGrpcError } from './reply-error.js';

/**
 * A grpc-js unary handler from a function of the request: its result (or the promise of one) is the
 * response, anything it throws or rejects with becomes the gRPC status (reply-error.ts).
 */
export function unary<Request, Response>(
  logger: Logger,
  answer: (request: Request) => Response | Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    let result: Response | Promise<Response>;
    try {
      result = answer(call.request);
    } catch (error) {
      callback(toGrpcError(error, logger));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcError(error, logger)),
      );
    } else {
      callback(null, result);
    }
  };
}
