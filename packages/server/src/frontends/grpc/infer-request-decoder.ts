import { fromBinary } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { censusOfInferRequest, inferRequestHeader } from './contents-census.js';
import {
  DEFERRED_DECODING,
  REFUSED_BEFORE_DECODING,
  type DeferredInferRequest,
  type RefusedInferRequest,
} from './message-marks.js';

/** Messages with at least this many typed elements are decoded on a codec worker. */
const DEFER_TYPED_ELEMENTS = 64 * 1024;

/**
 * ModelInferRequest from its wire bytes: counted first (contents-census.ts), then refused, deferred
 * to a codec worker, or decoded here (message-marks.ts). Decoding runs on the event loop and makes
 * one JS value per typed element, so what it may cost is decided before it starts.
 */
export function decodeInferRequest(bytes: Uint8Array): unknown {
  const census = censusOfInferRequest(bytes);
  if (census.refusal !== undefined) {
    return { ...inferRequestHeader(bytes), [REFUSED_BEFORE_DECODING]: census.refusal } satisfies RefusedInferRequest;
  }
  // fromBinary hands out `bytes` fields as views into `bytes`: tensor data is never copied here.
  if (census.elements < DEFER_TYPED_ELEMENTS) return fromBinary(ModelInferRequestSchema, bytes);
  return { ...inferRequestHeader(bytes), [DEFERRED_DECODING]: bytes } satisfies DeferredInferRequest;
}
