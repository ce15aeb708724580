import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerError } from '../../../../../src/errors/index.js';
import { JsonBytes, parseJson } from '../../../../../src/frontends/http/codec/json-parse.js';

const parse = (text: string | Uint8Array): unknown => parseJson(typeof text === 'string' ? Buffer.from(text) : text);

function parseError(text: string): string {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof ServerError);
    assert.equal(error.code, 'INVALID_ARG');
    return error.message;
  }
  assert.fail(`expected ${text} to fail`);
}

describe('parseJson', () => {
  it('parses ordinary JSON like JSON.parse', () => {
    assert.deepEqual(parse('{"a":[1,2.5,"x",true,null],"b":{}}'), { a: [1, 2.5, 'x', true, null], b: {} });
  });

  it('keeps integers beyond 2^53 exact as bigints', () => {
    assert.deepEqual(parse('[9007199254740993,-9223372036854775808,18446744073709551615,12]'), [
      9007199254740993n,
      -9223372036854775808n,
      18446744073709551615n,
      12,
    ]);
  });

  it('keeps 16+ digit integers that are safe as numbers, and long fractions as doubles', () => {
    assert.deepEqual(parse('[1000000000000000,0.30000000000000004,1.0000000000000002e5]'), [
      1000000000000000, 0.30000000000000004, 100000.00000000002,
    ]);
  });

  it('turns integers past uint64 into doubles, as RapidJSON does', () => {
    assert.deepEqual(parse('[100000000000000000000]'), [1e20]);
  });

  it('accepts the NaN and Infinity tokens Triton reads and writes', () => {
    const value = parse('[NaN,Infinity,-Infinity,-Inf]') as number[];
    assert.ok(Number.isNaN(value[0]));
    assert.deepEqual(value.slice(1), [Infinity, -Infinity, -Infinity]);
  });

  it('keeps strings with bytes that are not UTF-8 exact', () => {
    const body = Buffer.concat([Buffer.from('["a\\u0000b","'), Buffer.from([0xff, 0x00 + 0x41]), Buffer.from('"]')]);
    const value = parse(body) as [string, JsonBytes];
    assert.equal(value[0], 'a\u0000b');
    assert.ok(value[1] instanceof JsonBytes);
    assert.deepEqual([...value[1].bytes], [0xff, 0x41]);
  });

  it('decodes escapes and surrogate pairs in the exact parser', () => {
    assert.equal((parse('["\\ud83d\\ude00\\n\\"\\/",1]') as string[])[0], '\u{1f600}\n"/');
    assert.equal((parse('["\\ud83d\\ude00\\t",NaN]') as string[])[0], '\u{1f600}\t');
  });

  it('keeps a __proto__ key an ordinary member', () => {
    const value = parse('{"__proto__":{"x":1},"n":NaN}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['__proto__', 'n']);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });

  it('reports errors with RapidJSON wording and the byte offset', () => {
    assert.equal(parseError(''), 'failed to parse the request JSON buffer: The document is empty. at 0');
    assert.equal(parseError('{"a":1,}'), 'failed to parse the request JSON buffer: Missing a name for object member. at 7');
    assert.equal(parseError('[1 2]'), "failed to parse the request JSON buffer: Missing a comma or ']' after an array element. at 3");
    assert.equal(parseError('{"a" 1}'), 'failed to parse the request JSON buffer: Missing a colon after a name of object member. at 5');
    assert.equal(parseError('[1] x'), 'failed to parse the request JSON buffer: The document root must not be followed by other values. at 4');
    assert.equal(parseError('[tru]'), 'failed to parse the request JSON buffer: Invalid value. at 1');
    assert.equal(parseError('["abc'), 'failed to parse the request JSON buffer: Missing a closing quotation mark in string. at 5');
    assert.equal(parseError('[NaN,1e999]'), 'failed to parse the request JSON buffer: Number too big to be stored in double. at 5');
    // JSON.parse takes a lone surrogate; the exact parser (used here because of NaN) refuses it like RapidJSON.
    assert.match(parseError('["\\ud800",NaN]'), /The surrogate pair in string is invalid. at 8/);
  });
});
