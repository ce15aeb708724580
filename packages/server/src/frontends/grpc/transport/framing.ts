import { Status, type CallStatus } from './status.js';

/**
 * gRPC's length-prefixed messages on an HTTP/2 stream: a 1-byte compressed flag, a 4-byte big-endian
 * length, then the message. DATA frames cut messages anywhere, so the reader keeps state between
 * chunks. A message that fits in one chunk is handed out as a view of it (no copy); a longer one is
 * gathered into a buffer of its announced size, allocated up front only while that size is modest:
 * a client announcing 2 GiB and sending slowly must not make the server hold 2 GiB.
 */

export const FRAME_HEADER_BYTES = 5;
/** Announced lengths up to this are allocated at once; beyond, chunks are kept and joined at the end. */
const PREALLOCATE_LIMIT = 256 * 1024 * 1024;
/** Gathered messages at least this long are placed so that the byte `alignAt` names is aligned. */
const ALIGN_FROM_BYTES = 64 * 1024;
const ALIGNMENT = 64;

/**
 * Given the first bytes of a message, the offset of the byte that should start on an aligned
 * address (e.g. a tensor payload), or undefined.
 */
export type AlignmentHint = (head: Buffer) => number | undefined;

export interface ReceivedMessage {
  readonly compressed: boolean;
  readonly bytes: Buffer;
}

export class MessageReader {
  readonly #maxLength: number;
  readonly #alignAt: AlignmentHint | undefined;
  /** Allocated only when a prefix is split across chunks (rare): most calls never need it. */
  #header: Buffer | undefined;
  #headerFilled = 0;
  #compressed = false;
  #length = 0;
  /** The message being gathered: one preallocated buffer, or the chunks so far. */
  #body: Buffer | Buffer[] | undefined;
  #bodyFilled = 0;

  constructor(maxLength: number, alignAt?: AlignmentHint) {
    this.#maxLength = maxLength;
    this.#alignAt = alignAt;
  }

  /** True when the bytes so far end inside a message (the stream may not end here). */
  get midMessage(): boolean {
    return this.#headerFilled > 0;
  }

  /**
   * Reads one chunk, calling `emit` for each message it completes. Returns the status to fail the
   * call with when a message announces more than the limit (nothing of it is buffered).
   */
  push(chunk: Buffer, emit: (message: ReceivedMessage) => void): CallStatus | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#headerFilled < FRAME_HEADER_BYTES) {
        // Fast path: a whole message inside this chunk, with no state carried over.
        if (this.#headerFilled === 0 && chunk.length - offset >= FRAME_HEADER_BYTES) {
          const length = chunk.readUInt32BE(offset + 1);
          if (length > this.#maxLength) return tooLarge(length, this.#maxLength);
          const end = offset + FRAME_HEADER_BYTES + length;
          if (end <= chunk.length) {
            emit({ compressed: chunk[offset] !== 0, bytes: chunk.subarray(offset + FRAME_HEADER_BYTES, end) });
            offset = end;
            continue;
          }
        }
        const header = (this.#header ??= Buffer.allocUnsafe(FRAME_HEADER_BYTES));
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, chunk.length - offset);
        chunk.copy(header, this.#headerFilled, offset, offset + take);
        this.#headerFilled += take;
        offset += take;
        if (this.#headerFilled < FRAME_HEADER_BYTES) break;
        this.#compressed = header[0] !== 0;
        this.#length = header.readUInt32BE(1);
        if (this.#length > this.#maxLength) return tooLarge(this.#length, this.#maxLength);
        this.#bodyFilled = 0;
        this.#body = this.#length <= PREALLOCATE_LIMIT ? undefined : [];
        if (this.#length === 0) {
          this.#body = Buffer.alloc(0);
          this.#finish(emit);
          continue;
        }
      }
      const take = Math.min(this.#length - this.#bodyFilled, chunk.length - offset);
      // Allocated when its first bytes are at hand, so the alignment hint can read them.
      const body = (this.#body ??= this.#allocate(chunk.subarray(offset, offset + take)));
      if (Array.isArray(body)) body.push(chunk.subarray(offset, offset + take));
      else chunk.copy(body, this.#bodyFilled, offset, offset + take);
      this.#bodyFilled += take;
      offset += take;
      if (this.#bodyFilled === this.#length) this.#finish(emit);
    }
    return undefined;
  }

  #allocate(head: Buffer): Buffer {
    const length = this.#length;
    const target = length >= ALIGN_FROM_BYTES ? this.#alignAt?.(head) : undefined;
    if (target === undefined) return Buffer.allocUnsafe(length);
    const shift = (ALIGNMENT - (target % ALIGNMENT)) % ALIGNMENT;
    // An ArrayBuffer of its own (allocUnsafeSlow): offsets within it are what element alignment is checked against.
    return Buffer.allocUnsafeSlow(length + ALIGNMENT).subarray(shift, shift + length);
  }

  #finish(emit: (message: ReceivedMessage) => void): void {
    const body = this.#body!;
    const bytes = Array.isArray(body) ? Buffer.concat(body, this.#length) : body;
    this.#body = undefined;
    this.#headerFilled = 0;
    emit({ compressed: this.#compressed, bytes });
  }
}

/** grpc's own words for an oversized message. */
function tooLarge(length: number, max: number): CallStatus {
  return { code: Status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs. ${max})` };
}

/** A message as several byte ranges sent back to back (large tensors are not copied into one). */
export interface EncodedParts {
  readonly parts: readonly Uint8Array[];
  readonly byteLength: number;
}

/** What an encoder returns: the message's bytes, whole or in parts. */
export type EncodedMessage = Uint8Array | EncodedParts;

/** The message in one buffer (joins parts; a whole message is returned as is). */
export function joined(message: EncodedMessage): Uint8Array {
  if (message instanceof Uint8Array) return message;
  return Buffer.concat(message.parts, message.byteLength);
}

/** The 5-byte prefix of a message of `length` bytes. */
export function frameHeader(length: number, compressed: boolean): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header[0] = compressed ? 1 : 0;
  header.writeUInt32BE(length, 1);
  return header;
}

/** Messages up to this size are copied behind their prefix (one DATA write); larger go as two writes. */
export const COPY_INTO_FRAME_LIMIT = 64 * 1024;

/** Prefix + message in one buffer. */
export function framed(message: Uint8Array, compressed: boolean): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.byteLength);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, FRAME_HEADER_BYTES);
  return out;
}
