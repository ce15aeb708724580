import type { ServerError } from '../../errors/index.js';

/**
 * What the ModelInferRequest decoder (infer-request-decoder.ts) hands over instead of a decoded
 * message. Decoders run synchronously on the event loop, and the transport answers INTERNAL if one
 * throws, so a refusal travels as a marked message to the handler, which answers INVALID_ARGUMENT:
 * - a refusal: the message's census is over a limit; inferRequestFromProto throws it (INVALID_ARGUMENT);
 * - a deferral: the message holds so many typed elements that protobuf decoding is codec-worker work
 *   (decodeInferMessage); the few fields a stream needs first are read from the wire.
 */
export const REFUSED_BEFORE_DECODING = Symbol('refused before decoding');
export const DEFERRED_DECODING = Symbol('decoded on a codec worker');

export interface RefusedInferRequest {
  readonly [REFUSED_BEFORE_DECODING]: ServerError;
}

export interface DeferredInferRequest {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
  readonly [DEFERRED_DECODING]: Uint8Array;
}
