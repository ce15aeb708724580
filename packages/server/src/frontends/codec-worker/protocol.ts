import type { InferResponse } from '../../request/infer-response.js';
import type { ErrorCode } from '../../errors/index.js';
import type { DecodedInferRequest, OutputPlan } from '../http/codec/json-infer.js';
import type { EncodedInferResponse } from '../http/codec/infer-response.js';
import type { GrpcInferRequest } from '../grpc/convert-request.js';

/** Messages between the main thread and a codec worker (see codec-pool.ts). */

export interface DecodeJob {
  readonly kind: 'decode';
  readonly id: number;
  readonly model: string;
  readonly version: string;
  /** The whole (inflated) body; the JSON header is its first `headerLength` bytes. */
  readonly body: Uint8Array;
  readonly headerLength: number;
  readonly maxInputSize: number;
}

export interface EncodeJob {
  readonly kind: 'encode';
  readonly id: number;
  readonly response: InferResponse;
  readonly plan: OutputPlan;
}

/** A gRPC ModelInferRequest's wire bytes, decoded as convert-request.ts does. */
export interface GrpcDecodeJob {
  readonly kind: 'grpc-decode';
  readonly id: number;
  readonly message: Uint8Array;
}

export type CodecJob = DecodeJob | EncodeJob | GrpcDecodeJob;
/** A job before the pool numbers it. */
export type CodecJobBody = Omit<DecodeJob, 'id'> | Omit<EncodeJob, 'id'> | Omit<GrpcDecodeJob, 'id'>;

export type CodecReply =
  | { readonly id: number; readonly decoded: DecodedInferRequest }
  | { readonly id: number; readonly encoded: EncodedInferResponse }
  | { readonly id: number; readonly grpc: GrpcInferRequest }
  | { readonly id: number; readonly error: { readonly code: ErrorCode; readonly message: string } };

/**
 * The ArrayBuffers worth moving rather than copying: large ones (Node's small-buffer pool is 8 KiB,
 * so never among them). With `wholeOnly`, only buffers a view covers entirely: a view into part of
 * a buffer may share it with data the sender still uses (a batch split among requests, say), and
 * moving it would take that data away too. A codec worker owns everything it made, so it moves all.
 */
export function transferables(views: Iterable<Uint8Array>, wholeOnly = false): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < TRANSFER_MIN_BYTES) continue;
    if (wholeOnly && (view.byteOffset !== 0 || view.byteLength !== buffer.byteLength)) continue;
    buffers.add(buffer);
  }
  return [...buffers];
}

const TRANSFER_MIN_BYTES = 64 * 1024;
