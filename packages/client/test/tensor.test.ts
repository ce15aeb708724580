import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bf16ToNumber, fp16ToNumber, numberToBf16, numberToFp16, stringsToBytes, bytesToStrings } from '../src/index.js';
import { inputBytes } from '../src/tensor.js';
import { parseSse } from '../src/sse.js';

describe('FP16 and BF16 conversions', () => {
  it('every FP16 bit pattern converts to its number and back exactly (NaNs to the quiet NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fp16ToNumber(bits);
      if (Number.isNaN(value)) assert.equal(numberToFp16(value), 0x7e00);
      else assert.equal(numberToFp16(value), bits, `0x${bits.toString(16)}`);
    }
  });

  it('FP16 rounds to nearest, ties to even, and overflows to infinity', () => {
    assert.equal(numberToFp16(1 + 2 ** -11), 0x3c00, 'a tie rounds to the even 1.0');
    assert.equal(numberToFp16(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to the even 0x3c02');
    assert.equal(numberToFp16(1 + 2 ** -11 + 2 ** -20), 0x3c01);
    assert.equal(numberToFp16(65519), 0x7bff);
    assert.equal(numberToFp16(65520), 0x7c00);
    assert.equal(numberToFp16(2 ** -25), 0x0000, 'half the smallest subnormal ties to zero');
    assert.equal(numberToFp16(-0), 0x8000);
    assert.equal(numberToFp16(0.1), 0x2e66);
  });

  it('every BF16 bit pattern converts to its number and back exactly; rounding ties to even', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = bf16ToNumber(bits);
      if (!Number.isNaN(value)) assert.equal(numberToBf16(value), bits, `0x${bits.toString(16)}`);
      else assert.ok(Number.isNaN(bf16ToNumber(numberToBf16(value))));
    }
    assert.equal(numberToBf16(1 + 2 ** -8), 0x3f80);
    assert.equal(numberToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(numberToBf16(0.1), 0x3dcd);
  });
});

describe('input checks', () => {
  it('refuses the wrong TypedArray, the wrong element count and a BYTES input that is not an array', () => {
    assert.throws(() => inputBytes({ name: 'x', datatype: 'FP32', shape: [2], data: new Float64Array(2) }), /input 'x' \(FP32\) takes a Float32Array, got Float64Array/);
    assert.throws(() => inputBytes({ name: 'x', datatype: 'INT64', shape: [2], data: new Int32Array(2) }), /takes a BigInt64Array/);
    assert.throws(() => inputBytes({ name: 'x', datatype: 'INT32', shape: [3], data: new Int32Array(2) }), /has 2 elements but shape \[3\] holds 3/);
    assert.throws(() => inputBytes({ name: 'x', datatype: 'BYTES', shape: [1], data: new Uint8Array(1) }), /takes Uint8Array\[\] or string\[\]/);
    assert.deepEqual(inputBytes({ name: 'x', datatype: 'BOOL', shape: [3], data: [true, false, true] }), new Uint8Array([1, 0, 1]));
    assert.deepEqual(Array.from(inputBytes({ name: 'x', datatype: 'BYTES', shape: [2], data: ['ab', ''] })), [2, 0, 0, 0, 97, 98, 0, 0, 0, 0]);
    assert.deepEqual(bytesToStrings(stringsToBytes(['é', '\u0000'])), ['é', '\u0000']);
  });
});

describe('server-sent events', () => {
  async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) yield new TextEncoder().encode(part);
  }
  const collect = async (source: AsyncIterable<string>) => {
    const out: string[] = [];
    for await (const item of source) out.push(item);
    return out;
  };

  it('yields each event data across chunk boundaries; joins data lines; ignores comments and other fields', async () => {
    assert.deepEqual(await collect(parseSse(chunks('data: {"a":1}\n\nda', 'ta: {"b":', '2}\n\n: comment\nevent: x\ndata: l1\ndata:l2\n\n'))), ['{"a":1}', '{"b":2}', 'l1\nl2']);
    assert.deepEqual(await collect(parseSse(chunks('data: end without blank line'))), ['end without blank line']);
    assert.deepEqual(await collect(parseSse(chunks('data: crlf\r\n\r\n'))), ['crlf']);
  });
});
