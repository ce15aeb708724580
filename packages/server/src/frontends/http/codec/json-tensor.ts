import {
  bytesElementLength,
  bytesElementStarts,
  scanBytesElements,
  elementByteSize,
  isDatatype,
  typedView,
  type Datatype,
} from '@nereid/protocol';
import { internal, invalidArg } from '../../../errors/index.js';
import { NOT_BOOL, NOT_INT, NOT_NUMBER, NOT_STRING, NOT_UINT, fieldError } from './json-fields.js';
import { JsonBytes, type JsonValue } from './json-parse.js';

/**
 * Tensor `data` in JSON, both ways: JSON arrays (nested or flat) into wire-layout bytes, and
 * wire-layout bytes into the flat JSON array of a response. Values follow Triton's JSON rules:
 * integers wrap to the element width as a C cast would, INT64/UINT64 stay exact (bigint), floats
 * accept NaN/Infinity, BYTES are strings, FP16/BF16 are refused.
 */

/** Triton refuses `data` arrays nested deeper than this. */
const MAX_NESTING = 100;
const DATA = "Unable to parse 'data'";
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Flattens a `data` value into its leaves in row-major order. Nesting depth is limited as in
 * Triton; the leaf count is checked by the caller.
 */
export function flattenData(data: JsonValue): JsonValue[] {
  if (!Array.isArray(data)) throw fieldError(DATA, 'attempt to access JSON non-array as array');
  for (let i = 0; i < data.length; i++) {
    if (Array.isArray(data[i])) {
      const out: JsonValue[] = [];
      collectLeaves(data, 0, out);
      return out;
    }
  }
  return data;
}

function collectLeaves(value: JsonValue, depth: number, out: JsonValue[]): void {
  if (depth >= MAX_NESTING) {
    throw fieldError(DATA, `JSON nesting depth exceeds maximum allowed limit (${MAX_NESTING})`);
  }
  if (!Array.isArray(value)) {
    out.push(value);
    return;
  }
  for (const element of value) collectLeaves(element, depth + 1, out);
}

/**
 * Turns the leaves of an input's `data` into wire-layout bytes. `leaves` must already hold exactly
 * the shape's element count.
 */
export function encodeJsonLeaves(inputName: string, datatype: string, leaves: readonly JsonValue[]): Uint8Array {
  const checked = jsonInputDatatype(inputName, datatype);
  const suffix = ` for input '${inputName}'`;
  switch (checked) {
    case 'BYTES':
      return bytesLeaves(leaves, suffix);
    case 'BOOL':
      return boolLeaves(leaves, suffix);
    case 'INT64':
    case 'UINT64':
      return bigLeaves(checked, leaves, suffix);
    case 'FP32':
    case 'FP64':
      return floatLeaves(checked === 'FP32' ? new Float32Array(leaves.length) : new Float64Array(leaves.length), leaves, suffix);
    default:
      return intLeaves(checked, leaves, suffix);
  }
}

type JsonInputDatatype = Exclude<Datatype, 'FP16' | 'BF16'>;

/** The datatype of an input sent as JSON `data`; FP16/BF16 are refused with Triton's words. */
export function jsonInputDatatype(inputName: string, datatype: string): JsonInputDatatype {
  if (!isDatatype(datatype)) throw invalidArg(`invalid datatype for input ${inputName}`);
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw invalidArg(
      `receiving ${datatype} data via JSON is not supported. Please use the binary data format for input ${inputName}`,
    );
  }
  return datatype;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function boolLeaves(leaves: readonly JsonValue[], suffix: string): Uint8Array {
  const out = new Uint8Array(leaves.length);
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i];
    if (v === true) out[i] = 1;
    else if (v !== false) throw fieldError(DATA, NOT_BOOL + suffix);
  }
  return out;
}

function floatLeaves(out: Float32Array | Float64Array, leaves: readonly JsonValue[], suffix: string): Uint8Array {
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i];
    if (typeof v === 'number') out[i] = v;
    else if (typeof v === 'bigint') out[i] = Number(v);
    else throw fieldError(DATA, NOT_NUMBER + suffix);
  }
  return bytesOf(out);
}

type SmallIntType = 'UINT8' | 'UINT16' | 'UINT32' | 'INT8' | 'INT16' | 'INT32';

function intLeaves(datatype: SmallIntType, leaves: readonly JsonValue[], suffix: string): Uint8Array {
  const n = leaves.length;
  const unsigned = datatype.startsWith('U');
  const out =
    datatype === 'UINT8' ? new Uint8Array(n)
    : datatype === 'UINT16' ? new Uint16Array(n)
    : datatype === 'UINT32' ? new Uint32Array(n)
    : datatype === 'INT8' ? new Int8Array(n)
    : datatype === 'INT16' ? new Int16Array(n)
    : new Int32Array(n);
  const bits = elementByteSize(datatype) * 8;
  const detail = (unsigned ? NOT_UINT : NOT_INT) + suffix;
  for (let i = 0; i < n; i++) {
    const v = leaves[i];
    if (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) {
      out[i] = v; // typed-array stores wrap modulo 2^bits, like Triton's C casts
    } else if (typeof v === 'bigint' && inIntRange(v, unsigned)) {
      out[i] = Number(unsigned ? BigInt.asUintN(bits, v) : BigInt.asIntN(bits, v));
    } else {
      throw fieldError(DATA, detail);
    }
  }
  return bytesOf(out);
}

function inIntRange(v: bigint, unsigned: boolean): boolean {
  return unsigned ? v >= 0n && v <= UINT64_MAX : v >= INT64_MIN && v <= INT64_MAX;
}

function bigLeaves(datatype: 'INT64' | 'UINT64', leaves: readonly JsonValue[], suffix: string): Uint8Array {
  const unsigned = datatype === 'UINT64';
  const out = unsigned ? new BigUint64Array(leaves.length) : new BigInt64Array(leaves.length);
  const detail = (unsigned ? NOT_UINT : NOT_INT) + suffix;
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i];
    if (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) out[i] = BigInt(v);
    else if (typeof v === 'bigint' && inIntRange(v, unsigned)) out[i] = v;
    else throw fieldError(DATA, detail);
  }
  return bytesOf(out);
}

function bytesLeaves(leaves: readonly JsonValue[], suffix: string): Uint8Array {
  let total = 0;
  for (const v of leaves) {
    if (typeof v === 'string') total += 4 + Buffer.byteLength(v, 'utf8');
    else if (v instanceof JsonBytes) total += 4 + v.bytes.byteLength;
    else throw fieldError(DATA, NOT_STRING + suffix);
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const v of leaves) {
    let length: number;
    if (typeof v === 'string') {
      length = out.write(v, offset + 4, 'utf8');
    } else {
      const bytes = (v as JsonBytes).bytes;
      out.set(bytes, offset + 4);
      length = bytes.byteLength;
    }
    out.writeUInt32LE(length, offset);
    offset += 4 + length;
  }
  return out;
}

/** Byte size of BYTES leaves once serialised (Triton checks it against the input limit). */
export function bytesLeavesSize(leaves: readonly JsonValue[]): number {
  let total = 0;
  for (const v of leaves) {
    if (typeof v === 'string') total += 4 + Buffer.byteLength(v, 'utf8');
    else if (v instanceof JsonBytes) total += 4 + v.bytes.byteLength;
  }
  return total;
}

/** Receives JSON text and raw (already escaped) byte runs of a response being built. */
export interface JsonSink {
  text(s: string): void;
  raw(bytes: Uint8Array): void;
}

/**
 * Writes an output's data as a flat JSON array. Floats print as the shortest text that reads back
 * to the same double (for FP32: the same float), NaN/Infinity as the bare tokens Triton writes.
 */
export function writeJsonData(
  sink: JsonSink,
  outputName: string,
  datatype: Datatype,
  elementCount: number,
  data: Uint8Array,
): void {
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw invalidArg(`sending ${datatype} data via JSON is not supported. Please use the binary data format for output`);
  }
  if (datatype === 'BYTES') {
    writeBytesData(sink, outputName, elementCount, data);
    return;
  }
  if (data.byteLength !== elementCount * elementByteSize(datatype)) {
    throw internal(
      `Failed to write 'data' field: output tensor shape does not match size of output for '${outputName}'`,
    );
  }
  const view = typedView(datatype, data);
  if (datatype === 'BOOL') {
    let s = '[';
    for (let i = 0; i < view.length; i++) s += (i === 0 ? '' : ',') + (view[i] === 0 ? 'false' : 'true');
    sink.text(s + ']');
    return;
  }
  // TypedArray#join prints exact integers (also for BigInt64Array) and shortest round-trip floats.
  sink.text('[' + view.join(',') + ']');
}

function writeBytesData(sink: JsonSink, outputName: string, elementCount: number, data: Uint8Array): void {
  if (scanBytesElements(data, elementCount) !== undefined) {
    throw internal(`output tensor shape does not match size of output for '${outputName}'`);
  }
  sink.raw(bytesJsonArray(data, elementCount));
}

/**
 * A BYTES tensor as a JSON array of string literals, written straight into one buffer (a response
 * may hold millions of elements: no per-element string or view). Bytes go out as they are, escaped
 * as Triton's RapidJSON writer does (quote, backslash, control characters); non-UTF-8 stays exact.
 */
function bytesJsonArray(data: Uint8Array, count: number): Buffer {
  const starts = bytesElementStarts(data, count);
  let size = 2 + Math.max(0, count - 1);
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const end = start + bytesElementLength(data, start);
    size += 2 + end - start;
    for (let k = start; k < end; k++) size += ESCAPE_GROWTH[data[k]!]!;
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  out[o++] = 0x5b;
  for (let i = 0; i < count; i++) {
    if (i > 0) out[o++] = 0x2c;
    const start = starts[i]!;
    o = writeStringLiteral(out, o, data, start, start + bytesElementLength(data, start));
  }
  out[o++] = 0x5d;
  return out;
}

/** The letter of a two-character escape (\\b \\t \\n \\f \\r) by byte value; 0 when there is none. */
const SHORT_ESCAPE = (() => {
  const letters = new Uint8Array(256);
  letters[0x08] = 0x62;
  letters[0x09] = 0x74;
  letters[0x0a] = 0x6e;
  letters[0x0c] = 0x66;
  letters[0x0d] = 0x72;
  letters[0x22] = 0x22;
  letters[0x5c] = 0x5c;
  return letters;
})();

/** Extra bytes each byte value takes once escaped: 1 for a two-character escape, 5 for \\u00XX. */
const ESCAPE_GROWTH = (() => {
  const growth = new Uint8Array(256);
  for (let c = 0; c < 0x20; c++) growth[c] = SHORT_ESCAPE[c] === 0 ? 5 : 1;
  growth[0x22] = 1;
  growth[0x5c] = 1;
  return growth;
})();

const HEX = '0123456789ABCDEF';

/** Writes bytes[start, end) as a JSON string literal at `o`; returns the offset after it. */
function writeStringLiteral(out: Uint8Array, o: number, bytes: Uint8Array, start: number, end: number): number {
  out[o++] = 0x22;
  for (let k = start; k < end; k++) {
    const c = bytes[k]!;
    if (ESCAPE_GROWTH[c] === 0) {
      out[o++] = c;
    } else {
      const short = SHORT_ESCAPE[c]!;
      out[o++] = 0x5c;
      if (short !== 0) {
        out[o++] = short;
      } else {
        out[o++] = 0x75; // u00XX
        out[o++] = 0x30;
        out[o++] = 0x30;
        out[o++] = HEX.charCodeAt(c >> 4);
        out[o++] = HEX.charCodeAt(c & 15);
      }
    }
  }
  out[o++] = 0x22;
  return o;
}


