import type { ErrorCode } from './codes.js';

/**
 * The one error type of the server. `code` decides the HTTP and gRPC status; `message` is what the
 * client reads, so it names the model, tensor, field or file at fault.
 */
export class ServerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
  }
}

export function invalidArg(message: string, cause?: unknown): ServerError {
  return new ServerError('INVALID_ARG', message, cause === undefined ? undefined : { cause });
}

export function notFound(message: string): ServerError {
  return new ServerError('NOT_FOUND', message);
}

export function unavailable(message: string): ServerError {
  return new ServerError('UNAVAILABLE', message);
}

export function unsupported(message: string): ServerError {
  return new ServerError('UNSUPPORTED', message);
}

export function internal(message: string, cause?: unknown): ServerError {
  return new ServerError('INTERNAL', message, cause === undefined ? undefined : { cause });
}

/** Turns anything thrown into a ServerError; foreign errors become INTERNAL with their message. */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof Error) return internal(error.message, error);
  return internal(String(error));
}
