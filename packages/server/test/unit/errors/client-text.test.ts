import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MESSAGE_BYTES, MAX_QUOTED_LENGTH, quoted, wireMessage } from '../../../src/errors/index.js';

test('quoted keeps short strings and clips long ones with a marker naming the length', () => {
  assert.equal(quoted('INPUT0'), 'INPUT0');
  const exact = 'a'.repeat(MAX_QUOTED_LENGTH);
  assert.equal(quoted(exact), exact);
  assert.equal(quoted('b'.repeat(100_000)), `${'b'.repeat(MAX_QUOTED_LENGTH)}...[100000 chars]`);
  // A surrogate pair straddling the cut is dropped whole, never split.
  const clipped = quoted(`${'c'.repeat(MAX_QUOTED_LENGTH - 1)}😀${'d'.repeat(10)}`);
  assert.equal(clipped, `${'c'.repeat(MAX_QUOTED_LENGTH - 1)}...[${MAX_QUOTED_LENGTH + 11} chars]`);
});

test('wireMessage bounds the UTF-8 size of a message without splitting characters', () => {
  assert.equal(wireMessage('short'), 'short');
  const ascii = wireMessage('x'.repeat(100_000));
  assert.equal(Buffer.byteLength(ascii), MAX_MESSAGE_BYTES);
  assert.ok(ascii.endsWith('...'));
  const wide = wireMessage('é😀'.repeat(10_000));
  assert.ok(Buffer.byteLength(wide) <= MAX_MESSAGE_BYTES);
  assert.ok(!wide.includes('\uFFFD') && wide.endsWith('...'));
  const fits = 'é'.repeat(MAX_MESSAGE_BYTES / 2);
  assert.equal(wireMessage(fits), fits, 'a message of exactly the limit is kept');
});
