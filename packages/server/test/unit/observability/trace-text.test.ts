import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cppFloat, formatTensorData } from '../../../src/observability/tracing/tensor-text.js';
import { stoi } from '../../../src/observability/tracing/trace-update.js';
import { TraceText } from '../../../src/observability/tracing/trace-text.js';
import { formatTraceRecords } from '../../../src/observability/tracing/trace-records.js';

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

test('trace entries write ids and nanoseconds exactly, zeros inside large numbers included', () => {
  const values = [0, 7, 10, 999_999_999, 1_000_000_000, 1_000_000_001, 1_000_000_010_000, 12_000_000_000_000, 1_234_567_890_123_456, Number.MAX_SAFE_INTEGER];
  for (const ns of values) {
    const text = new TraceText();
    text.timestamp(ns, 'QUEUE_START', ns);
    text.timestamp(3, 'COMPUTE_START', ns);
    const bytes = Buffer.alloc(text.byteLength);
    text.copyTo(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2), 0);
    text.release();
    const entries = JSON.parse(`[${formatTraceRecords(bytes, bytes.length).toString('latin1')}]`) as Array<{ id: number; timestamps: Array<{ name: string; ns: number }> }>;
    assert.deepEqual(entries, [
      { id: ns, timestamps: [{ name: 'QUEUE_START', ns }] },
      { id: 3, timestamps: [{ name: 'COMPUTE_START', ns }] },
    ]);
  }
});

test('trace records format as JSON entries: timestamps, text entries of any length, activities without a code', () => {
  const text = new TraceText();
  text.entry('{"id":1,"model_name":"m\u00e9","model_version":1}');
  text.timestamp(1, 'REQUEST_START', 1_700_000_000_123_456);
  text.entry(`{"id":1,"activity":"TENSOR_QUEUE_INPUT","tensor":{"name":"x","data":"${'1,'.repeat(2000)}1"}}`);
  text.timestamp(1, 'CUSTOM_ACTIVITY', 5);
  text.timestamp(2, 'HTTP_SEND_END', 0);
  assert.equal(text.byteLength % 8, 0);
  const bytes = Buffer.alloc(text.byteLength + 8);
  const length = 4 * text.copyTo(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2), 2);
  text.release();
  // Records laid after other records (at an 8-byte offset) read the same.
  const entries = JSON.parse(`[${formatTraceRecords(bytes.subarray(8), length).toString('utf8')}]`) as unknown[];
  assert.deepEqual(entries, [
    { id: 1, model_name: 'mé', model_version: 1 },
    { id: 1, timestamps: [{ name: 'REQUEST_START', ns: 1_700_000_000_123_456 }] },
    { id: 1, activity: 'TENSOR_QUEUE_INPUT', tensor: { name: 'x', data: `${'1,'.repeat(2000)}1` } },
    { id: 1, timestamps: [{ name: 'CUSTOM_ACTIVITY', ns: 5 }] },
    { id: 2, timestamps: [{ name: 'HTTP_SEND_END', ns: 0 }] },
  ]);
});

test('trace headers written as bytes read as the JSON Triton writes: ids, escaped model fields, a parent id', () => {
  const text = new TraceText();
  const fields = Uint8Array.from(Buffer.from(`,"model_name":${JSON.stringify('m\u00e9 "q"')},"model_version":3`, 'utf8'));
  text.header(1, fields, '', 0);
  text.header(Number.MAX_SAFE_INTEGER, fields, '', 1_000_000_007);
  text.timestamp(2, 'REQUEST_START', 9);
  const bytes = Buffer.alloc(text.byteLength);
  text.copyTo(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2), 0);
  text.release();
  assert.deepEqual(JSON.parse(`[${formatTraceRecords(bytes, bytes.length).toString('utf8')}]`), [
    { id: 1, model_name: 'm\u00e9 "q"', model_version: 3 },
    { id: Number.MAX_SAFE_INTEGER, model_name: 'm\u00e9 "q"', model_version: 3, parent_id: 1_000_000_007 },
    { id: 2, timestamps: [{ name: 'REQUEST_START', ns: 9 }] },
  ]);
});
