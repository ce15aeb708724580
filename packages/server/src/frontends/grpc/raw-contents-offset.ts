/**
 * Where the first `raw_input_contents` payload (ModelInferRequest field 7) starts in the first bytes
 * of a message, so the transport can place a large message in memory with that payload aligned:
 * tensors are then handed to ONNX Runtime in place instead of through an aligning copy. Walks the
 * top-level fields only as far as `head` reaches; undefined when the field is not within it.
 */
const RAW_INPUT_CONTENTS = 7;

export function rawContentsOffset(head: Uint8Array): number | undefined {
  let offset = 0;
  while (offset < head.length) {
    const tag = readVarint(head, offset);
    if (tag === undefined) return undefined;
    offset = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value & 7;
    if (wireType === 2) {
      const length = readVarint(head, offset);
      if (length === undefined) return undefined;
      if (field === RAW_INPUT_CONTENTS) return length.next;
      offset = length.next + length.value;
    } else if (wireType === 0) {
      const value = readVarint(head, offset);
      if (value === undefined) return undefined;
      offset = value.next;
    } else if (wireType === 1) {
      offset += 8;
    } else if (wireType === 5) {
      offset += 4;
    } else {
      return undefined;
    }
  }
  return undefined;
}

function readVarint(bytes: Uint8Array, start: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = start; i < bytes.length && i < start + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: i + 1 };
    scale *= 128;
  }
  return undefined;
}
