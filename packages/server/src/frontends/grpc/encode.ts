import { toBinary } from '@bufbuild/protobuf';
import type { EncodedParts } from './transport/framing.js';
import {
  ModelInferResponseSchema,
  ModelStreamInferResponseSchema,
  type ModelInferResponse,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';

/** Below this many tensor bytes one buffer is made (copying is cheaper than extra writes). */
const PARTS_FROM_BYTES = 64 * 1024;

/**
 * Encoders for the two infer responses that copy each tensor at most once. protobuf-es' toBinary
 * grows its buffer by doubling and slices it at the end: a 1 MiB output costs several copies and
 * ~150 µs, against ~60 µs here (bench/src/proto-codec.bench.ts measures toBinary). Here toBinary
 * encodes everything but the raw output contents (a few hundred bytes), and the tensors are appended
 * behind it as field 6 entries in one buffer of the exact size. Protobuf readers accept fields in
 * any order; repeated entries keep their order, so raw_output_contents[i] still belongs to outputs[i].
 */

/** Tag of ModelInferResponse.raw_output_contents (field 6, length-delimited). */
const RAW_OUTPUT_TAG = (6 << 3) | 2;
/** Tag of ModelStreamInferResponse.infer_response (field 2, length-delimited). */
const INFER_RESPONSE_TAG = (2 << 3) | 2;

export function encodeModelInferResponse(message: ModelInferResponse): Uint8Array | EncodedParts {
  if (message.rawOutputContents.length === 0) return toBinary(ModelInferResponseSchema, message);
  const head = headOf(message);
  if (rawBytes(message.rawOutputContents) >= PARTS_FROM_BYTES) return partsOf([head], message.rawOutputContents);
  const out = Buffer.allocUnsafe(head.byteLength + rawContentsSize(message.rawOutputContents));
  out.set(head, 0);
  writeRawContents(out, head.byteLength, message.rawOutputContents);
  return out;
}

export function encodeModelStreamInferResponse(message: ModelStreamInferResponse): Uint8Array | EncodedParts {
  const inner = message.inferResponse;
  if (inner === undefined || inner.rawOutputContents.length === 0) {
    return toBinary(ModelStreamInferResponseSchema, message);
  }
  const outerHead = toBinary(ModelStreamInferResponseSchema, { ...message, inferResponse: undefined });
  const innerHead = headOf(inner);
  const innerSize = innerHead.byteLength + rawContentsSize(inner.rawOutputContents);
  const innerTag = Buffer.allocUnsafe(1 + varintSize(innerSize));
  innerTag[0] = INFER_RESPONSE_TAG;
  writeVarint(innerTag, 1, innerSize);
  if (rawBytes(inner.rawOutputContents) >= PARTS_FROM_BYTES) return partsOf([outerHead, innerTag, innerHead], inner.rawOutputContents);
  const out = Buffer.allocUnsafe(outerHead.byteLength + innerTag.byteLength + innerSize);
  out.set(outerHead, 0);
  let offset = outerHead.byteLength;
  out.set(innerTag, offset);
  offset += innerTag.byteLength;
  out.set(innerHead, offset);
  writeRawContents(out, offset + innerHead.byteLength, inner.rawOutputContents);
  return out;
}

/** The response without its raw contents, encoded by protobuf-es. */
function headOf(message: ModelInferResponse): Uint8Array {
  return toBinary(ModelInferResponseSchema, { ...message, rawOutputContents: [] });
}

/** The heads, then each tensor behind a small buffer holding its field-6 tag and length. */
function partsOf(heads: readonly Uint8Array[], contents: readonly Uint8Array[]): EncodedParts {
  const parts: Uint8Array[] = [...heads];
  let byteLength = 0;
  for (const head of heads) byteLength += head.byteLength;
  for (const bytes of contents) {
    const prefix = Buffer.allocUnsafe(1 + varintSize(bytes.byteLength));
    prefix[0] = RAW_OUTPUT_TAG;
    writeVarint(prefix, 1, bytes.byteLength);
    parts.push(prefix, bytes);
    byteLength += prefix.byteLength + bytes.byteLength;
  }
  return { parts, byteLength };
}

function rawBytes(contents: readonly Uint8Array[]): number {
  let size = 0;
  for (const bytes of contents) size += bytes.byteLength;
  return size;
}

function rawContentsSize(contents: readonly Uint8Array[]): number {
  let size = 0;
  for (const bytes of contents) size += 1 + varintSize(bytes.byteLength) + bytes.byteLength;
  return size;
}

function writeRawContents(out: Buffer, start: number, contents: readonly Uint8Array[]): void {
  let offset = start;
  for (const bytes of contents) {
    out[offset++] = RAW_OUTPUT_TAG;
    offset = writeVarint(out, offset, bytes.byteLength);
    out.set(bytes, offset);
    offset += bytes.byteLength;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 128)) size++;
  return size;
}

function writeVarint(out: Buffer, start: number, value: number): number {
  let offset = start;
  let rest = value;
  while (rest >= 0x80) {
    out[offset++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[offset++] = rest;
  return offset;
}
