export { ERROR_CODES } from './codes.js';
export type { ErrorCode } from './codes.js';
export {
  ServerError,
  invalidArg,
  notFound,
  unavailable,
  unsupported,
  internal,
  toServerError,
} from './server-error.js';
export { httpStatusOf } from './http-status.js';
export { grpcStatusOf } from './grpc-status.js';
export { MAX_MESSAGE_BYTES, MAX_QUOTED_LENGTH, quoted, wireMessage } from './client-text.js';
