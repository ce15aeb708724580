import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';
import {
  bytesDataToStrings,
  elementToString,
  stringToElement,
  stringsToBytesData,
} from '../../../../src/backends/onnxruntime/string-tensors.js';

const MARKER = '\u{10FFFD}';

/** Elements text cannot carry, and text that must pass as is. */
const AWKWARD: readonly Uint8Array[] = [
  Buffer.from('ab\0cd', 'latin1'),
  Uint8Array.of(0),
  Uint8Array.of(0xff),
  Uint8Array.of(0xff, 0xfe, 0x00, 0x80),
  Uint8Array.of(0xc3), // a truncated two-byte sequence
  Buffer.from(MARKER, 'utf8'),
  Buffer.from(`${MARKER}\u{F0041}`, 'utf8'), // looks like an escape: must stay itself
  Uint8Array.from({ length: 256 }, (_, i) => i),
];
const TEXT: readonly string[] = ['', 'hello', 'é', '日本語', '🙂 emoji', `x${MARKER}`, '\u{F0041}'];

describe('onnxruntime string tensors', () => {
  it('passes valid UTF-8 without NUL as its own text', () => {
    for (const text of TEXT) assert.equal(elementToString(Buffer.from(text, 'utf8')), text);
  });

  it('round-trips every awkward element exactly', () => {
    for (const bytes of AWKWARD) {
      const carried = elementToString(bytes);
      assert.deepEqual(new Uint8Array(stringToElement(carried)), new Uint8Array(bytes));
    }
  });

  it('escapes into valid UTF-8 without NUL, starting with the marker', () => {
    for (const bytes of AWKWARD) {
      const carried = elementToString(bytes);
      const utf8 = Buffer.from(carried, 'utf8');
      assert.ok(isUtf8(utf8));
      assert.equal(utf8.indexOf(0), -1);
      assert.ok(carried.startsWith(MARKER));
    }
  });

  it('decodes strings that only look like escapes as UTF-8', () => {
    // The marker followed by something outside U+F0000..U+F00FF is plain text.
    for (const text of [MARKER + 'a', MARKER + '\u{F0100}', MARKER + '\u{F0041}x']) {
      assert.deepEqual(stringToElement(text), Buffer.from(text, 'utf8'));
    }
    assert.deepEqual(new Uint8Array(stringToElement(MARKER)), new Uint8Array(0));
  });

  it('converts whole length-prefixed tensors both ways', () => {
    const elements = [...AWKWARD, ...TEXT.map((text) => Buffer.from(text, 'utf8'))];
    const wire = encodeBytesElements(elements);
    const strings = bytesDataToStrings(wire);
    assert.equal(strings.length, elements.length);
    const back = stringsToBytesData(strings);
    assert.deepEqual(back, wire);
    const middle = decodeBytesElements(stringsToBytesData(strings, 1, 3));
    assert.deepEqual(middle.map((e) => Buffer.from(e)), elements.slice(1, 3).map((e) => Buffer.from(e)));
  });

  it('reads elements from an unaligned view without copying the caller data', () => {
    const wire = encodeBytesElements([Buffer.from('a\0b', 'latin1'), Buffer.from('ok')]);
    const padded = Buffer.concat([Buffer.from([9]), wire]);
    const strings = bytesDataToStrings(padded.subarray(1));
    assert.equal(strings[1], 'ok');
    assert.deepEqual(stringToElement(strings[0] ?? ''), Buffer.from('a\0b', 'latin1'));
  });

  it('rejects a broken layout', () => {
    assert.throws(() => bytesDataToStrings(Uint8Array.of(5, 0, 0, 0, 1)), /declares 5 bytes but only 1 remain/);
    assert.throws(() => bytesDataToStrings(Uint8Array.of(1, 0)), /truncated length prefix/);
  });
});
