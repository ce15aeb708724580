import type { ServiceError } from '@grpc/grpc-js';

/**
 * A failure the server reported: Triton's message with the transport's status, the HTTP status
 * (e.g. 400, 404) or the gRPC status code (e.g. 5 = NOT_FOUND). Cancellation is not this error: an
 * aborted call rejects with the AbortSignal's reason, as fetch does.
 */
export class InferenceServerError extends Error {
  override readonly name = 'InferenceServerError';

  constructor(
    message: string,
    /** Which transport `status` belongs to. */
    readonly transport: 'http' | 'grpc',
    /** HTTP status code, or gRPC status code. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** gRPC status codes (the ones Triton answers with). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNIMPLEMENTED: 12,
} as const;

/** Triton's `{"error": "..."}` body (or the raw text) as an InferenceServerError. */
export function httpError(status: number, body: Uint8Array): InferenceServerError {
  const text = new TextDecoder().decode(body);
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  return new InferenceServerError(message, 'http', status);
}

/** A failed gRPC call (unary or stream) as an InferenceServerError: Triton's message, the call's status code. */
export function grpcError(error: ServiceError): InferenceServerError {
  return new InferenceServerError(error.details || error.message, 'grpc', error.code);
}
