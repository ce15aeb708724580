/**
 * Lossless BYTES elements through onnxruntime-node's string tensors.
 *
 * onnxruntime-node hands string tensors to ONNX Runtime as C strings built from JS strings, so an
 * element is cut at its first NUL byte ('ab\0cd' comes back 'ab') and bytes that are not UTF-8
 * cannot be expressed at all. Triton's BYTES elements are arbitrary bytes, so elements that text
 * cannot carry are escaped:
 *
 * - an element that is valid UTF-8, has no NUL and does not start with the marker U+10FFFD passes
 *   as its decoded text (exact, and string ops in the model see the real text);
 * - any other element becomes U+10FFFD followed by one code point U+F0000 + b per byte b (plane-15
 *   private use: valid UTF-8 without NUL, so it survives the binding).
 *
 * On the way back a string that is the marker followed only by U+F0000..U+F00FF turns back into
 * its bytes; anything else is UTF-8 encoded. The limit: ops that inspect string content (regex,
 * normalizer, Cast to number) see the escape, not the bytes, for elements text could not carry.
 */
import { isUtf8 } from 'node:buffer';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';

/** The escape marker U+10FFFD as UTF-16 (a surrogate pair). */
const MARKER = '\u{10FFFD}';
const MARKER_HIGH = 0xdbff;
const MARKER_LOW = 0xdffd;
/** U+F0000..U+F00FF in UTF-16: high surrogate 0xDB80, low surrogate 0xDC00 + byte. */
const BYTE_HIGH = 0xdb80;
const BYTE_LOW_BASE = 0xdc00;
/** The marker's UTF-8 bytes, F4 8F BF BD. */
const MARKER_UTF8 = [0xf4, 0x8f, 0xbf, 0xbd] as const;

/** The string that carries one BYTES element through onnxruntime-node. */
export function elementToString(bytes: Uint8Array): string {
  if (isUtf8(bytes) && bytes.indexOf(0) === -1 && !startsWithMarker(bytes)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
  return escapeBytes(bytes);
}

/** The BYTES element a string from onnxruntime-node stands for. */
export function stringToElement(text: string): Uint8Array {
  return isEscaped(text) ? unescapeBytes(text) : Buffer.from(text, 'utf8');
}

/**
 * Strings for the elements of a length-prefixed BYTES buffer (see `@nereid/protocol` bytes-codec).
 * Throws a plain Error naming the problem when the layout is broken.
 */
export function bytesDataToStrings(data: Uint8Array, out: string[] = []): string[] {
  for (const element of decodeBytesElements(data)) out.push(elementToString(element));
  return out;
}

/** The length-prefixed BYTES buffer for strings from onnxruntime-node (elements `start`..`end`). */
export function stringsToBytesData(
  strings: readonly string[],
  start = 0,
  end = strings.length,
): Buffer {
  const elements: Uint8Array[] = [];
  for (let i = start; i < end; i++) elements.push(stringToElement(strings[i] ?? ''));
  return encodeBytesElements(elements);
}

function startsWithMarker(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= 4 &&
    bytes[0] === MARKER_UTF8[0] &&
    bytes[1] === MARKER_UTF8[1] &&
    bytes[2] === MARKER_UTF8[2] &&
    bytes[3] === MARKER_UTF8[3]
  );
}

function escapeBytes(bytes: Uint8Array): string {
  const units = new Uint16Array(2 + 2 * bytes.byteLength);
  units[0] = MARKER_HIGH;
  units[1] = MARKER_LOW;
  for (let i = 0; i < bytes.byteLength; i++) {
    units[2 + 2 * i] = BYTE_HIGH;
    units[3 + 2 * i] = BYTE_LOW_BASE + (bytes[i] ?? 0);
  }
  return Buffer.from(units.buffer).toString('utf16le');
}

function isEscaped(text: string): boolean {
  if (!text.startsWith(MARKER) || text.length % 2 !== 0) return false;
  for (let i = 2; i < text.length; i += 2) {
    const low = text.charCodeAt(i + 1) - BYTE_LOW_BASE;
    if (text.charCodeAt(i) !== BYTE_HIGH || low < 0 || low > 0xff) return false;
  }
  return true;
}

function unescapeBytes(text: string): Uint8Array {
  const out = Buffer.allocUnsafe((text.length - 2) / 2);
  for (let i = 0; i < out.byteLength; i++) out[i] = text.charCodeAt(3 + 2 * i) - BYTE_LOW_BASE;
  return out;
}
