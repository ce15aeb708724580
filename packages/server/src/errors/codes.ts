/**
 * Triton's closed set of error codes (`TRITONSERVER_Error_Code`). Errors carry one of these and no
 * transport knowledge; `http-status.ts` and `grpc-status.ts` are the only places that map them.
 */
export const ERROR_CODES = [
  'UNKNOWN',
  'INTERNAL',
  'NOT_FOUND',
  'INVALID_ARG',
  'UNAVAILABLE',
  'UNSUPPORTED',
  'ALREADY_EXISTS',
  'CANCELLED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
