import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBytesElements } from '@nereid/protocol';
import { classify } from '../../../src/request/classification.js';

const text = (data: Uint8Array): string[] => decodeBytesElements(data).map((e) => Buffer.from(e).toString());

test('top-k per batch row, highest first, with labels, as "value:index:label"', () => {
  const values = new Float32Array([0.1, 0.7, 0.2, 5, 1, 3]);
  const tensor = { name: 'OUT', datatype: 'FP32' as const, shape: [2, 3], data: new Uint8Array(values.buffer) };
  const result = classify(tensor, 2, true, ['cat', 'dog', 'eel']);
  assert.equal(result.datatype, 'BYTES');
  assert.deepEqual(result.shape, [2, 2]);
  assert.deepEqual(text(result.data), ['0.700000:1:dog', '0.200000:2:eel', '5.000000:0:cat', '3.000000:2:eel']);
});

test('integers print plainly, k is capped at the class count, non-batching shape is [k]', () => {
  const values = new Int32Array([4, 9]);
  const tensor = { name: 'OUT', datatype: 'INT32' as const, shape: [2], data: new Uint8Array(values.buffer) };
  const result = classify(tensor, 5, false, undefined);
  assert.deepEqual(result.shape, [2]);
  assert.deepEqual(text(result.data), ['9:1', '4:0']);
});

test('BYTES outputs cannot be classified', () => {
  const tensor = { name: 'OUT', datatype: 'BYTES' as const, shape: [1], data: new Uint8Array(5) };
  assert.throws(() => classify(tensor, 1, false, undefined), /unsupported type 'BYTES'/);
});
