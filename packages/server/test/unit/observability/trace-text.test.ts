import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cppFloat, formatTensorData } from '../../../src/observability/tracing/tensor-text.js';
import { stoi } from '../../../src/observability/tracing/trace-update.js';

test('cppFloat prints as std::ostream does with precision 6 (%g)', () => {
  const cases: [number, string][] = [
    [0, '0'], [1, '1'], [-2.5, '-2.5'], [0.1, '0.1'], [1 / 3, '0.333333'], [123456, '123456'], [1234567, '1.23457e+06'],
    [0.0001, '0.0001'], [0.00001, '1e-05'], [1e21, '1e+21'], [999999.5, '1e+06'], [Number.NaN, 'nan'], [-Infinity, '-inf'],
  ];
  for (const [value, text] of cases) assert.equal(cppFloat(value), text, String(value));
});

test("tensor data as Triton's TENSORS trace writes it", () => {
  const fp32 = new Uint8Array(Float32Array.from([1.5, 0.1, -3]).buffer);
  assert.equal(formatTensorData({ name: 'x', datatype: 'FP32', shape: [3], data: fp32 }), '1.5,0.1,-3');
  assert.equal(formatTensorData({ name: 'b', datatype: 'BOOL', shape: [3], data: Uint8Array.from([0, 2, 1]) }), '0,1,1');
  const bytes = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('hi'), Buffer.from([0, 0, 0, 0])]);
  assert.equal(formatTensorData({ name: 's', datatype: 'BYTES', shape: [2], data: bytes }), '"hi",""');
  assert.equal(formatTensorData({ name: 'h', datatype: 'FP16', shape: [1], data: Uint8Array.from([0, 60]) }), '');
  const i64 = new Uint8Array(BigInt64Array.from([-(2n ** 62n)]).buffer);
  assert.equal(formatTensorData({ name: 'l', datatype: 'INT64', shape: [1], data: i64 }), String(-(2n ** 62n)));
});

test('stoi reads as std::stoi: blanks, a sign, digits, trailing text ignored, int32 range', () => {
  assert.equal(stoi('  42abc'), 42);
  assert.equal(stoi('+7'), 7);
  assert.equal(stoi('-1'), -1);
  assert.equal(stoi('x1'), 'invalid');
  assert.equal(stoi(''), 'invalid');
  assert.equal(stoi('2147483648'), 'out-of-range');
  assert.equal(stoi('-2147483648'), -2147483648);
});
