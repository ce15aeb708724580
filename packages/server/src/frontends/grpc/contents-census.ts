import { invalidArg, type ServerError } from '../../errors/index.js';
import { MAX_REQUEST_STRING_ELEMENTS } from '../../request/limits.js';

/**
 * A census of a ModelInferRequest's typed tensor contents, taken on its wire bytes before protobuf
 * decoding materialises them: decoding makes one JS value per element, so a message of tens of
 * millions of tiny `bytes_contents` (or packed numbers) would exhaust the heap before any check ran.
 * Only tags and lengths are read; payloads are skipped.
 *
 * Field numbers (grpc_service.proto): ModelInferRequest.inputs = 5; InferInputTensor.contents = 5;
 * InferTensorContents: bool 1, int 2, int64 3, uint 4, uint64 5 (varints), fp32 6, fp64 7, bytes 8.
 */

/** Numeric typed elements a request may carry (a 64 MiB FP32 payload); beyond, use raw contents. */
export const MAX_REQUEST_TYPED_ELEMENTS = 16 * 1024 * 1024;

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
/** Groups nest at most this deep here (protobuf-es allows the same depth of messages). */
const MAX_GROUP_DEPTH = 100;
const I32 = 5;

export interface InferRequestCensus {
  /** The error for a message over a limit (undefined within them, or when malformed: decoding reports that). */
  readonly refusal: ServerError | undefined;
  /** Typed elements counted (strings and numbers); a packed varint field counts its bytes. */
  readonly elements: number;
}

export function censusOfInferRequest(bytes: Uint8Array): InferRequestCensus {
  const totals = { strings: 0, numbers: 0 };
  const refusal = refusalOf(bytes, totals);
  return { refusal, elements: totals.strings + totals.numbers };
}

/** The fields a stream needs before the message is decoded (to order and label its response). */
export function inferRequestHeader(bytes: Uint8Array): { modelName: string; modelVersion: string; id: string } {
  const header = { modelName: '', modelVersion: '', id: '' };
  try {
    forEachField(bytes, 0, bytes.length, (field, wire, start, end) => {
      if (wire !== LEN) return;
      const text = (): string => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
      if (field === 1) header.modelName = text();
      else if (field === 2) header.modelVersion = text();
      else if (field === 3) header.id = text();
    });
  } catch {
    // Malformed: decoding reports it.
  }
  return header;
}

function refusalOf(bytes: Uint8Array, totals: { strings: number; numbers: number }): ServerError | undefined {
  const overLimit = (): boolean => totals.strings > MAX_REQUEST_STRING_ELEMENTS || totals.numbers > MAX_REQUEST_TYPED_ELEMENTS;
  try {
    forEachField(bytes, 0, bytes.length, (field, wire, start, end) => {
      // Every decoded field costs a JS value: raw contents entries (7) count as strings do.
      if (field === 7 && wire === LEN) totals.strings += 1;
      if (field === 5 && wire === LEN) {
        totals.numbers += 1;
        forEachField(bytes, start, end, (inputField, inputWire, s, e) => {
          if (inputField === 5 && inputWire === LEN) countContents(bytes, s, e, totals);
          else if (inputField === 3) totals.numbers += inputWire === LEN ? e - s : 1; // shape (int64s)
        });
      }
      // Stop walking as soon as a limit is passed: the rest cannot change the answer.
      if (overLimit()) throw new LimitPassed();
    });
  } catch (error) {
    // A message the walk cannot follow would fail protobuf decoding too: refuse it here.
    if (!(error instanceof LimitPassed)) return invalidArg('malformed ModelInferRequest: it could not be decoded');
  }
  if (totals.strings > MAX_REQUEST_STRING_ELEMENTS) {
    return invalidArg(
      `inference request holds ${totals.strings} BYTES elements, more than the ${MAX_REQUEST_STRING_ELEMENTS} a request may hold`,
    );
  }
  if (totals.numbers > MAX_REQUEST_TYPED_ELEMENTS) {
    return invalidArg(
      `inference request holds ${totals.numbers} typed tensor elements, more than the ${MAX_REQUEST_TYPED_ELEMENTS} ` +
        'a request may hold; send large tensors as raw_input_contents',
    );
  }
  return undefined;
}

function countContents(bytes: Uint8Array, start: number, end: number, totals: { strings: number; numbers: number }): void {
  forEachField(bytes, start, end, (field, wire, s, e) => {
    if (field === 8) totals.strings += 1;
    else if (wire === LEN) totals.numbers += field === 6 ? (e - s) / 4 : field === 7 ? (e - s) / 8 : e - s;
    else totals.numbers += 1;
  });
}

class WireError extends Error {}
class LimitPassed extends Error {}

/** Calls `visit` for each field in bytes[start, end): its number, wire type and payload range. */
function forEachField(
  bytes: Uint8Array,
  start: number,
  end: number,
  visit: (field: number, wire: number, start: number, end: number) => void,
): void {
  let pos = start;
  while (pos < end) {
    const field = readField(bytes, pos, end, 0);
    if (field.wire === END_GROUP) throw new WireError('end group without a start');
    visit(field.number, field.wire, field.payloadStart, field.payloadEnd);
    pos = field.payloadEnd;
  }
}

interface WireField {
  readonly number: number;
  readonly wire: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

/**
 * The field whose tag is at `pos`: its number, wire type and payload range (a group's payload runs
 * to just past its END_GROUP; an END_GROUP's is empty).
 */
function readField(bytes: Uint8Array, pos: number, end: number, depth: number): WireField {
  const [tag, afterTag] = readVarint(bytes, pos, end);
  const number = Math.floor(tag / 8);
  const wire = tag % 8;
  let payloadStart = afterTag;
  let payloadEnd: number;
  if (wire === VARINT) payloadEnd = readVarint(bytes, afterTag, end)[1];
  else if (wire === I64) payloadEnd = afterTag + 8;
  else if (wire === I32) payloadEnd = afterTag + 4;
  else if (wire === LEN) {
    const [length, afterLength] = readVarint(bytes, afterTag, end);
    payloadStart = afterLength;
    payloadEnd = afterLength + length;
  } else if (wire === START_GROUP) payloadEnd = skipGroup(bytes, afterTag, end, number, depth);
  else if (wire === END_GROUP) payloadEnd = afterTag;
  else throw new WireError('unsupported wire type');
  if (payloadEnd > end) throw new WireError('field past the end');
  return { number, wire, payloadStart, payloadEnd };
}

/** The offset just past the END_GROUP that closes group `number` opened before `start`. */
function skipGroup(bytes: Uint8Array, start: number, end: number, number: number, depth: number): number {
  if (depth > MAX_GROUP_DEPTH) throw new WireError('groups nested too deep');
  let pos = start;
  while (pos < end) {
    const field = readField(bytes, pos, end, depth + 1);
    if (field.wire === END_GROUP) {
      if (field.number !== number) throw new WireError('mismatched end group');
      return field.payloadEnd;
    }
    pos = field.payloadEnd;
  }
  throw new WireError('unterminated group');
}

function readVarint(bytes: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError('truncated varint');
    const byte = bytes[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new WireError('varint too long');
}
