/**
 * String tensors ↔ the BYTES wire layout, for whichever thread does the work: the event loop for
 * small tensors (OrtValues), a run thread for large ones (run-thread-worker.ts), where onnxruntime's
 * per-element std::string work and these per-element loops cannot hold the event loop. No
 * per-element JS object is made: a request may hold millions of elements.
 */
import { bytesElementLength, bytesElementStarts } from '@nereid/protocol';
import { koffi } from './ffi.js';
import { copyToNative } from './native-memory.js';
import type { OrtApi, Pointer } from './ort-api.js';
import { check, OutSlot } from './ort-status.js';

/** String tensors of at least this many elements are made, read and freed on run threads. */
export const OFF_THREAD_STRING_ELEMENTS = 16 * 1024;

/**
 * Fills string tensor `value` (of `count` elements) from wire-layout `data`, already checked to
 * hold exactly that many. Without NUL bytes it is one FillStringTensor call over NUL-terminated
 * copies; elements holding NUL are written one by one into buffers onnxruntime sizes for them.
 */
export function fillStringTensor(api: OrtApi, value: Pointer, data: Uint8Array, count: number): void {
  if (count === 0) return;
  const text = nulTerminated(data, count);
  if (text !== 'has-nul') {
    check(api, api.FillStringTensor(value, text.pointers, count));
    return;
  }
  const out = new OutSlot();
  const starts = bytesElementStarts(data, count);
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const length = bytesElementLength(data, start);
    check(api, api.GetResizedStringTensorElementBuffer(value, i, length, out.arg));
    copyToNative(out.pointer(), data.subarray(start, start + length));
  }
}

/**
 * Copies string tensor `value` into `wire` (4·count + total bytes, total from
 * GetStringTensorDataLength) in the wire layout.
 */
export function readStringTensor(api: OrtApi, value: Pointer, wire: Uint8Array, count: number, total: number): void {
  if (count === 0) return;
  const offsets = new BigUint64Array(new ArrayBuffer(8 * count));
  check(api, api.GetStringTensorContent(value, wire.subarray(4 * count), total, offsets, count));
  toWireLayout(wire, offsets, count, total);
}

/**
 * FillStringTensor's input for wire-layout `data`: one copy of the bytes whose length prefixes
 * become the NUL terminators of the element before them, and a pointer per element into it. 'has-nul'
 * when an element holds a NUL (C strings cannot carry it).
 */
function nulTerminated(data: Uint8Array, count: number): { bytes: Uint8Array; pointers: BigUint64Array } | 'has-nul' {
  const starts = bytesElementStarts(data, count);
  const text = new Uint8Array(new ArrayBuffer(data.byteLength + 1));
  text.set(data);
  // Prefix bytes set non-zero first, so a zero left in `text` can only be inside an element.
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    text[start - 4] = 1;
    text[start - 3] = 1;
    text[start - 2] = 1;
    text[start - 1] = 1;
  }
  if (text.subarray(0, data.byteLength).indexOf(0) !== -1) return 'has-nul';
  const pointers = new BigUint64Array(new ArrayBuffer(8 * count));
  const halves = new Uint32Array(pointers.buffer);
  const base = koffi.address(text) as bigint;
  const baseLow = Number(base & 0xffffffffn);
  const baseHigh = Number(base >> 32n);
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    text[start + bytesElementLength(data, start)] = 0;
    const low = baseLow + start;
    halves[2 * i] = low >>> 0;
    halves[2 * i + 1] = baseHigh + Math.floor(low / 0x100000000);
  }
  return { bytes: text, pointers };
}

/**
 * Turns `wire`, whose content (from GetStringTensorContent) sits at offset 4·count, into the wire
 * layout in place: each element moves left behind its length prefix (never over an element not yet
 * moved), so no per-element buffer is made.
 */
function toWireLayout(wire: Uint8Array, offsets: BigUint64Array, count: number, total: number): void {
  const contentAt = 4 * count;
  // Read as 32-bit halves: a BigUint64Array read would allocate a bigint per element.
  const halves = new Uint32Array(offsets.buffer, offsets.byteOffset, 2 * count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const start = halves[2 * i]! + halves[2 * i + 1]! * 0x100000000;
    const end = i + 1 < count ? halves[2 * i + 2]! + halves[2 * i + 3]! * 0x100000000 : total;
    const length = end - start;
    wire[at] = length & 0xff;
    wire[at + 1] = (length >>> 8) & 0xff;
    wire[at + 2] = (length >>> 16) & 0xff;
    wire[at + 3] = length >>> 24;
    moveBytes(wire, at + 4, contentAt + start, end - start);
    at += 4 + end - start;
  }
}

/** Copies `length` bytes within `buffer` from `from` to `to` (to <= from); short runs by hand. */
function moveBytes(buffer: Uint8Array, to: number, from: number, length: number): void {
  if (length > 32) {
    buffer.copyWithin(to, from, from + length);
    return;
  }
  for (let k = 0; k < length; k++) buffer[to + k] = buffer[from + k]!;
}
