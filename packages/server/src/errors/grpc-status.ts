import type { ErrorCode } from './codes.js';

/** gRPC status numbers (google.rpc.Code) for Triton's codes, as Triton's CodeToStatus maps them. */
const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = {
  UNKNOWN: 2,
  INTERNAL: 13,
  NOT_FOUND: 5,
  INVALID_ARG: 3,
  UNAVAILABLE: 14,
  UNSUPPORTED: 12,
  ALREADY_EXISTS: 6,
  CANCELLED: 1,
};

export function grpcStatusOf(code: ErrorCode): number {
  return GRPC_STATUS[code];
}
