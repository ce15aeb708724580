/**
 * Collected traces as binary records, and their formatting into Triton's JSON trace entries.
 *
 * A traced request records a dozen timestamps. Writing each as JSON text on the event loop cost
 * ~0.2 µs (digits, names, separators), over 2 µs a request. That is a tenth of a small request's
 * time on the event loop when every request is traced. So the request path stores numbers only, and
 * the trace writer thread (trace-writer.ts) turns a chunk of records into text.
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

export const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
export const ID = ascii('{"id":');
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
 *
 * Every request traced means ~13 entries (~900 bytes of text) for the trace writer thread; this is
 * its inner loop, so it writes bytes directly: the id's text is made once per trace (consecutive
 * records mostly share it), digits go two at a time from a table, and the ~45 fixed bytes of each
 * timestamp are one native copy (`set`), half the cost of a byte loop (2.4 → 1.2 µs a trace).
 */
export function formatTraceRecords(records: Uint8Array, length: number, into?: Buffer): Buffer {
  const slots = new Float64Array(records.buffer, records.byteOffset, length >> 3);
  const bound = formattedBound(length);
  const out = into !== undefined && into.length >= bound ? into : Buffer.allocUnsafeSlow(bound);
  /** `{"id":<id>` of the last id seen. */
  const idText = new Uint8Array(ID.length + 16);
  idText.set(ID);
  let idLength = 0;
  let lastId = -1;
  let at = 0;
  let slot = 0;
  while (slot < slots.length) {
    const head = slots[slot]!;
    if (at > 0) out[at++] = 0x2c;
    if (head >= 0) {
      const id = slots[slot + 1]!;
      if (id !== lastId) {
        lastId = id;
        idLength = writeInt(idText, ID.length, id);
      }
      for (let i = 0; i < idLength; i++) out[at++] = idText[i]!;
      const segment = SEGMENTS[head | 0]!;
      out.set(segment, at);
      at += segment.length;
      at = writeInt(out, at, slots[slot + 2]!);
      out[at++] = 0x7d; // }]}
      out[at++] = 0x5d;
      out[at++] = 0x7d;
      slot += TIMESTAMP_RECORD_BYTES / 8;
    } else {
      const bytes = -head - 1;
      const start = (slot + 1) * 8;
      out.set(records.subarray(start, start + bytes), at);
      at += bytes;
      slot += textRecordBytes(bytes) / 8;
    }
  }
  return out.subarray(0, at);
}

/** "00" to "99": the two digit bytes of each, for writing numbers two digits a step. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

/** A non-negative integer below 2^53 in decimal at `at` (room for 16 digits); returns the end. Int32 arithmetic: the part above 10^8, then the low 8 digits. */
export function writeInt(buf: Uint8Array, at: number, value: number): number {
  if (value < 1e8) return writeSmall(buf, at, value | 0);
  const high = Math.floor(value / 1e8);
  at = writeSmall(buf, at, high);
  let low = (value - high * 1e8) | 0;
  // Exactly 8 digits, zeros included, from the right.
  for (let end = at + 8; end > at; end -= 2) {
    const next = (low / 100) | 0;
    const pair = (low - next * 100) << 1;
    buf[end - 2] = DIGIT_PAIRS[pair]!;
    buf[end - 1] = DIGIT_PAIRS[pair + 1]!;
    low = next;
  }
  return at + 8;
}

/** `value` (0 ≤ value < 2^31) in decimal at `at`, without leading zeros; returns the end. */
function writeSmall(buf: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
  let end = at + digits;
  while (value >= 100) {
    const next = (value / 100) | 0;
    const pair = (value - next * 100) << 1;
    buf[--end] = DIGIT_PAIRS[pair + 1]!;
    buf[--end] = DIGIT_PAIRS[pair]!;
    value = next;
  }
  if (value >= 10) {
    buf[--end] = DIGIT_PAIRS[(value << 1) + 1]!;
    buf[--end] = DIGIT_PAIRS[value << 1]!;
  } else {
    buf[--end] = 0x30 + value;
  }
  return at + digits;
}
