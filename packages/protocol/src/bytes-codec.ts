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
