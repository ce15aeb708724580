import type { Datatype } from '@nereid/protocol';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * The framing between the server and a Python stub (see python/nereid_python_stub.py):
 *
 *   u32 LE length of what follows | u8 kind | u32 LE header length | header JSON | padding to 8 |
 *   tensor bytes, each starting at a multiple of 8 from the data start
 *
 * The header's `t` lists `[name, datatype, shape, offset, nbytes]` for the tensors in the data, in
 * order. Tensor bytes are the wire layout the rest of the server uses (BYTES length-prefixed).
 */
export const FrameKind = {
  // Server -> stub
  AUTO_COMPLETE: 1,
  INITIALIZE: 2,
  EXECUTE: 3,
  FINALIZE: 4,
  IS_READY: 5,
  BLS_RESULT: 6,
  PING: 7,
  /** The answer to a QUERY: `{ call, result }`. */
  QUERY_RESULT: 8,
  // Stub -> server
  HELLO: 64,
  REPLY: 65,
  BLS_CALL: 67,
  LOG: 68,
  PONG: 69,
  /** Reserved for decoupled models: one response of a request (`request`, `final`) and its tensors. */
  RESPONSE: 70,
  /** A question about a request being executed: `{ call, what: "cancelled", batch, index }`. */
  QUERY: 71,
} as const;

export type TensorDescriptor = [name: string, datatype: string, shape: number[], offset: number, nbytes: number];

export interface Frame {
  readonly kind: number;
  readonly header: Record<string, unknown>;
  /** The tensors the header's `t` describes, as views into the received bytes. */
  readonly tensors: Tensor[];
}

const align8 = (value: number): number => (value + 7) & ~7;

/** One frame's bytes, as a list of buffers to write (tensor data is not copied). */
export function encodeFrame(kind: number, header: Record<string, unknown>, tensors: readonly Tensor[] = []): Uint8Array[] {
  let body = header;
  if (tensors.length > 0) {
    const described: TensorDescriptor[] = [];
    let offset = 0;
    for (const tensor of tensors) {
      described.push([tensor.name, tensor.datatype, tensor.shape as number[], offset, tensor.data.byteLength]);
      offset = align8(offset + tensor.data.byteLength);
    }
    body = { ...header, t: described };
  }
  const json = Buffer.from(JSON.stringify(body));
  const parts: Uint8Array[] = [];
  const prefix = Buffer.allocUnsafe(9);
  parts.push(prefix, json);
  let cursor = 5 + json.length;
  for (const tensor of tensors) {
    const pad = align8(cursor) - cursor;
    if (pad > 0) parts.push(Buffer.alloc(pad));
    if (tensor.data.byteLength > 0) parts.push(tensor.data);
    cursor += pad + tensor.data.byteLength;
  }
  prefix.writeUInt32LE(cursor, 0);
  prefix.writeUInt8(kind, 4);
  prefix.writeUInt32LE(json.length, 5);
  return parts;
}

/** Splits a byte stream into frames; tensors are views into the frame's bytes. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #onFrame: (frame: Frame) => void;

  constructor(onFrame: (frame: Frame) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#buffered < 4) return;
      const head = this.#peek(4);
      const length = head.readUInt32LE(0);
      if (this.#buffered < 4 + length) return;
      const all = this.#take(4 + length);
      this.#onFrame(decodeBody(all.subarray(4)));
    }
  }

  #peek(size: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= size) return first;
    this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!;
  }

  #take(size: number): Buffer {
    let first = this.#chunks[0]!;
    if (first.length < size) {
      first = Buffer.concat(this.#chunks);
      this.#chunks = [first];
    }
    const frame = first.subarray(0, size);
    if (first.length === size) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(size);
    this.#buffered -= size;
    return frame;
  }
}

function decodeBody(body: Buffer): Frame {
  const kind = body.readUInt8(0);
  const headerLength = body.readUInt32LE(1);
  const header = JSON.parse(body.toString('utf8', 5, 5 + headerLength)) as Record<string, unknown>;
  const described = (header['t'] as TensorDescriptor[] | undefined) ?? [];
  const dataStart = align8(5 + headerLength);
  const tensors: Tensor[] = described.map(([name, datatype, shape, offset, nbytes]) => ({
    name,
    datatype: datatype as Datatype,
    shape,
    data: body.subarray(dataStart + offset, dataStart + offset + nbytes),
  }));
  return { kind, header, tensors };
}
