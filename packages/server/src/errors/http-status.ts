import type { ErrorCode } from './codes.js';

/** Triton's HttpCodeFromError: everything not listed is 400. */
const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INTERNAL: 500,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  UNSUPPORTED: 501,
  UNKNOWN: 400,
  INVALID_ARG: 400,
  ALREADY_EXISTS: 400,
  CANCELLED: 400,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}
