/**
 * Just enough of the protobuf wire format to build or edit an ONNX ModelProto without a schema:
 * split a message into its fields, and encode the two field kinds a model needs (the engine's
 * self-test model, the tests' and benchmarks' models).
 */

/** One field of a message, as byte ranges into the message. */
export interface WireField {
  readonly number: number;
  readonly wireType: number;
  /** The whole field, tag included. */
  readonly start: number;
  readonly end: number;
  /** The value: varint bytes, fixed bytes, or the payload of a length-delimited field. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Splits a message into its fields; throws on malformed input (the caller names the file). */
export function readFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const start = offset;
    const [tag, afterTag] = readVarint(bytes, offset);
    const wireType = tag % 8;
    const number = Math.floor(tag / 8);
    let valueStart = afterTag;
    let valueEnd: number;
    switch (wireType) {
      case VARINT:
        valueEnd = readVarint(bytes, afterTag)[1];
        break;
      case FIXED64:
        valueEnd = afterTag + 8;
        break;
      case LENGTH_DELIMITED: {
        const [length, afterLength] = readVarint(bytes, afterTag);
        valueStart = afterLength;
        valueEnd = afterLength + length;
        break;
      }
      case FIXED32:
        valueEnd = afterTag + 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${wireType} at byte ${start}`);
    }
    if (valueEnd > bytes.byteLength) throw new Error(`protobuf field at byte ${start} is truncated`);
    fields.push({ number, wireType, start, end: valueEnd, valueStart, valueEnd });
    offset = valueEnd;
  }
  return fields;
}

/** The payload of a length-delimited field. */
export function payload(bytes: Uint8Array, field: WireField): Uint8Array {
  return bytes.subarray(field.valueStart, field.valueEnd);
}

/** The value of a varint field. */

/** The UTF-8 string value of a length-delimited field. */
export function stringValue(bytes: Uint8Array, field: WireField): string {
  const length = field.valueEnd - field.valueStart;
  return Buffer.from(bytes.buffer, bytes.byteOffset + field.valueStart, length).toString('utf8');
}

/** The first field with `number`, if any. */
export function findField(fields: readonly WireField[], number: number): WireField | undefined {
  return fields.find((field) => field.number === number);
}

/** A length-delimited field holding `value` (bytes or a UTF-8 string). */
export function encodeBytesField(number: number, value: Uint8Array | string): Uint8Array {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([
    encodeVarint(number * 8 + LENGTH_DELIMITED),
    encodeVarint(data.byteLength),
    data,
  ]);
}

/** A varint field holding a non-negative integer. */
export function encodeVarintField(number: number, value: number): Uint8Array {
  return Buffer.concat([encodeVarint(number * 8 + VARINT), encodeVarint(value)]);
}

function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < bytes.byteLength && i < offset + 10; i++) {
    const byte = bytes[i] ?? 0;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error(`bad protobuf varint at byte ${offset}`);
}

function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Uint8Array.from(out);
}
