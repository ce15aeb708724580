import type { ModelInferRequest } from '@nereid/protocol/generated/grpc_service_pb';
import { codecPoolFor } from '../codec-worker/codec-pool.js';
import { inferRequestFromProto, type GrpcInferRequest } from './convert-request.js';
import { DEFERRED_DECODING, type DeferredInferRequest } from './message-marks.js';

/** Cap on a deferred decode worker's heap, as for a 256 MiB JSON body (see codecPoolFor). */
const DECODE_HEAP_SCALE_BYTES = 256 * 1024 * 1024;

/**
 * A received ModelInferRequest as the core takes it: decoded here, or on a codec worker when the
 * deserializer deferred it (millions of typed elements).
 */
export async function decodeInferMessage(message: ModelInferRequest): Promise<GrpcInferRequest> {
  const bytes = (message as unknown as Partial<DeferredInferRequest>)[DEFERRED_DECODING];
  if (bytes === undefined) return inferRequestFromProto(message);
  return codecPoolFor(DECODE_HEAP_SCALE_BYTES).decodeGrpc(bytes);
}
