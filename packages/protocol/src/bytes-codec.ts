/**
 * The BYTES tensor layout shared by the binary HTTP extension and gRPC raw contents: each element is
 * a 4-byte little-endian length followed by that many bytes, with no padding. Elements are arbitrary
 * bytes (NUL and non-UTF-8 included).
 */

/** Serialises elements into one buffer in the length-prefixed layout. */
export function encodeBytesElements(elements: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const element of elements) total += 4 + element.byteLength;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const element of elements) {
    out.writeUInt32LE(element.byteLength, offset);
    out.set(element, offset + 4);
    offset += 4 + element.byteLength;
  }
  return out;
}

/** Why a length-prefixed buffer could not be split; the caller names the tensor. */
export class BytesLayoutError extends Error {}

/**
 * Splits a length-prefixed buffer into element views (no copies). With `expectedCount` the buffer
 * must hold exactly that many elements and nothing after them.
 */
export function decodeBytesElements(data: Uint8Array, expectedCount?: number): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const elements: Uint8Array[] = [];
  let offset = 0;
  while (offset < data.byteLength) {
    if (offset + 4 > data.byteLength) {
      throw new BytesLayoutError(`truncated length prefix at byte ${offset}`);
    }
    const length = view.getUint32(offset, true);
    const start = offset + 4;
    if (start + length > data.byteLength) {
      throw new BytesLayoutError(
        `element ${elements.length} declares ${length} bytes but only ${data.byteLength - start} remain`,
      );
    }
    elements.push(data.subarray(start, start + length));
    offset = start + length;
  }
  if (expectedCount !== undefined && elements.length !== expectedCount) {
    throw new BytesLayoutError(`holds ${elements.length} elements, expected ${expectedCount}`);
  }
  return elements;
}

/** How a length-prefixed buffer failed to hold the expected elements; counts as Triton reports them. */
export type BytesScanProblem =
  /** More elements than expected: `found` is the ordinal of the first extra one (expected + 1). */
  | { readonly kind: 'too-many'; readonly found: number }
  /** The data ended after `found` whole elements. */
  | { readonly kind: 'too-few'; readonly found: number }
  /** A 4-byte length prefix is cut by the end of the data. */
  | { readonly kind: 'truncated-prefix'; readonly element: number }
  /** Element `element` declares `length` bytes but only `available` remain. */
  | { readonly kind: 'truncated-element'; readonly element: number; readonly length: number; readonly available: number };

/**
 * Checks that `data` holds exactly `expectedCount` length-prefixed elements, in one pass that
 * allocates nothing (a request may carry millions of elements). Stops at the first extra element,
 * so a hostile buffer costs at most `expectedCount` steps. Returns undefined when the layout holds.
 */
export function scanBytesElements(data: Uint8Array, expectedCount: number): BytesScanProblem | undefined {
  const end = data.byteLength;
  let offset = 0;
  let count = 0;
  while (offset < end) {
    if (count >= expectedCount) return { kind: 'too-many', found: count + 1 };
    if (offset + 4 > end) return { kind: 'truncated-prefix', element: count };
    const length = (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16)) + data[offset + 3]! * 0x1000000;
    const start = offset + 4;
    if (start + length > end) return { kind: 'truncated-element', element: count, length, available: end - start };
    offset = start + length;
    count++;
  }
  return count === expectedCount ? undefined : { kind: 'too-few', found: count };
}

/**
 * The start offset of every element of a buffer already checked by scanBytesElements, in one typed
 * array (index i holds element i's first byte; its length sits in the 4 bytes before it). One
 * allocation, however many elements.
 */
export function bytesElementStarts(data: Uint8Array, count: number): Uint32Array {
  // Offsets fit 32 bits: no request body or tensor reaches 4 GiB (bodies stop at 2 GiB).
  if (data.byteLength > 0xffffffff) throw new BytesLayoutError('BYTES data of 4 GiB or more');
  const starts = new Uint32Array(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16)) + data[offset + 3]! * 0x1000000;
    starts[i] = offset + 4;
    offset += 4 + length;
  }
  return starts;
}

/** The length of the element starting at `start` (from its prefix). */
export function bytesElementLength(data: Uint8Array, start: number): number {
  return (data[start - 4]! | (data[start - 3]! << 8) | (data[start - 2]! << 16)) + data[start - 1]! * 0x1000000;
}
