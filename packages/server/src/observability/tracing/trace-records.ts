/**
 * Collected traces as binary records, and their formatting into Triton's JSON trace entries.
 *
 * A traced request records a dozen timestamps. Writing each as JSON text on the event loop cost
 * ~0.2 µs (digits, names, separators), over 2 µs a request. That is a tenth of a small request's
 * time on the event loop when every request is traced. So the request path stores numbers only, and
 * the formatter thread (trace-formatter.ts) turns a chunk of records into text.
 *
 * Records are 8-byte aligned and read as float64 slots:
 *   - a timestamp: [activity code ≥ 0, trace id, ns]. Ids and ns are integers below 2^53, so doubles
 *     hold them exactly;
 *   - a text entry (a trace's header, a tensor, an activity without a code): [-(byte length + 1)],
 *     then its UTF-8 bytes, padded to a multiple of 8.
 */

/** Triton's timestamp activities, by code (a record holds the index). */
export const ACTIVITIES = [
  'REQUEST_START',
  'QUEUE_START',
  'COMPUTE_START',
  'COMPUTE_INPUT_END',
  'COMPUTE_OUTPUT_START',
  'COMPUTE_END',
  'REQUEST_END',
  'HTTP_RECV_START',
  'HTTP_RECV_END',
  'HTTP_SEND_START',
  'HTTP_SEND_END',
  'GRPC_WAITREAD_START',
  'GRPC_WAITREAD_END',
  'GRPC_SEND_START',
  'GRPC_SEND_END',
  'INFER_RESPONSE_COMPLETE',
] as const;

export const ACTIVITY_CODES: ReadonlyMap<string, number> = new Map(ACTIVITIES.map((name, code) => [name, code]));

/** Bytes of a timestamp record. */
export const TIMESTAMP_RECORD_BYTES = 24;

/** Bytes a text record of `textBytes` takes (its length slot and its bytes padded to 8). */
export const textRecordBytes = (textBytes: number): number => 8 + ((textBytes + 7) & ~7);

const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const ID = ascii('{"id":');
const TIMESTAMP_END = ascii('}]}');
/** Per activity, everything between the id and the ns: `,"timestamps":[{"name":"<name>","ns":`. */
const SEGMENTS = ACTIVITIES.map((name) => ascii(`,"timestamps":[{"name":"${name}","ns":`));
/** The longest text a timestamp record becomes: id and ns of up to 16 digits each. */
const MAX_TIMESTAMP_TEXT = ID.length + Math.max(...SEGMENTS.map((segment) => segment.length)) + 2 * 16 + TIMESTAMP_END.length;

/** The most bytes the text of `length` bytes of records can take: every record a timestamp of the longest text, plus a comma each. */
export const formattedBound = (length: number): number => Math.ceil(length / TIMESTAMP_RECORD_BYTES) * (MAX_TIMESTAMP_TEXT + 1) + length;

/**
 * The JSON entries of `length` bytes of records in `records` (8-byte aligned), comma-separated,
 * without brackets: what one chunk adds to a trace file. Written into `into` when it is large
 * enough (formattedBound), else into a new buffer.
 */
export function formatTraceRecords(records: Uint8Array, length: number, into?: Buffer): Buffer {
  const slots = new Float64Array(records.buffer, records.byteOffset, length >> 3);
  const bound = formattedBound(length);
  const out = new TextWriter(into !== undefined && into.length >= bound ? into : Buffer.allocUnsafeSlow(bound));
  let slot = 0;
  while (slot < slots.length) {
    const head = slots[slot]!;
    if (out.length > 0) out.byte(0x2c);
    if (head >= 0) {
      out.bytes(ID);
      out.int(slots[slot + 1]!);
      out.bytes(SEGMENTS[head]!);
      out.int(slots[slot + 2]!);
      out.bytes(TIMESTAMP_END);
      slot += TIMESTAMP_RECORD_BYTES / 8;
    } else {
      const bytes = -head - 1;
      const start = (slot + 1) * 8;
      out.bytes(records.subarray(start, start + bytes));
      slot += textRecordBytes(bytes) / 8;
    }
  }
  return out.buffer.subarray(0, out.length);
}

/** Writes JSON bytes into a buffer of sufficient size: no strings, no checks. */
class TextWriter {
  readonly buffer: Buffer;
  length = 0;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  byte(value: number): void {
    this.buffer[this.length++] = value;
  }

  bytes(bytes: Uint8Array): void {
    if (bytes.length > 64) {
      this.buffer.set(bytes, this.length);
      this.length += bytes.length;
      return;
    }
    const buf = this.buffer;
    let at = this.length;
    for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i]!;
    this.length = at;
  }

  /** A non-negative integer (below 2^53) in decimal: the high part above 10^9, then the low 9 digits, in int32 arithmetic. */
  int(value: number): void {
    if (value < 1e9) {
      this.#small(value | 0, 0);
      return;
    }
    const high = Math.floor(value / 1e9);
    this.int(high);
    this.#small((value - high * 1e9) | 0, 9);
  }

  /** `value` (< 10^9) in decimal, left-padded with zeros to `width` digits. */
  #small(value: number, width: number): void {
    let digits = 1;
    for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
    if (digits < width) digits = width;
    const buf = this.buffer;
    let at = this.length + digits;
    this.length = at;
    for (let i = 0; i < digits; i++) {
      const next = (value / 10) | 0;
      buf[--at] = 0x30 + (value - next * 10);
      value = next;
    }
  }
}
