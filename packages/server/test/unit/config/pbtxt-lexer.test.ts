import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lexer, TextFormatError } from '../../../src/config/pbtxt/lexer.js';
import type { Token } from '../../../src/config/pbtxt/lexer.js';

function tokens(text: string): Token[] {
  const lexer = new Lexer(text);
  const out: Token[] = [];
  for (let t = lexer.next(); t.kind !== 'eof'; t = lexer.next()) out.push(t);
  return out;
}

function kinds(text: string): string[] {
  return tokens(text).map((t) => `${t.kind}:${t.text}`);
}

function stringBytes(literal: string): number[] {
  const [token] = tokens(literal);
  assert.equal(token?.kind, 'string');
  return [...(token?.bytes ?? [])];
}

function lexError(text: string): TextFormatError {
  try {
    tokens(text);
  } catch (error) {
    assert.ok(error instanceof TextFormatError);
    return error;
  }
  assert.fail(`expected a lexer error for ${text}`);
}

describe('pbtxt lexer', () => {
  it('skips whitespace and # comments and tracks line and column', () => {
    const list = tokens('# header\n  name: "x" # trailing\n\tdims { }');
    assert.deepEqual(
      list.map((t) => [t.text, t.line, t.column]),
      [['name', 2, 3], [':', 2, 7], ['"x"', 2, 9], ['dims', 3, 2], ['{', 3, 7], ['}', 3, 9]],
    );
  });

  it('reads punctuation and keeps the minus sign as its own token', () => {
    assert.deepEqual(kinds('{}<>[]:,;-7'), [
      'symbol:{', 'symbol:}', 'symbol:<', 'symbol:>', 'symbol:[', 'symbol:]', 'symbol::',
      'symbol:,', 'symbol:;', 'symbol:-', 'integer:7',
    ]);
  });

  it('classifies integers and floats', () => {
    assert.deepEqual(kinds('0 42 0x1F 0X2a 017 1.5 .5 1e-3 2E+4 1.0f 3f 7.'), [
      'integer:0', 'integer:42', 'integer:0x1F', 'integer:0X2a', 'integer:017', 'float:1.5',
      'float:.5', 'float:1e-3', 'float:2E+4', 'float:1.0f', 'float:3f', 'float:7.',
    ]);
  });

  it('reads identifiers including inf and nan words', () => {
    assert.deepEqual(kinds('TYPE_FP32 inf nan _x1'), [
      'identifier:TYPE_FP32', 'identifier:inf', 'identifier:nan', 'identifier:_x1',
    ]);
  });

  it('rejects numbers glued to letters and malformed numbers', () => {
    assert.match(lexError('10bar').message, /invalid number '10bar'/);
    assert.match(lexError('1.2.3').message, /invalid number/);
    assert.match(lexError('0x').message, /needs hex digits/);
    assert.match(lexError('09').message, /invalid octal number '09'/);
    assert.match(lexError('1e+').message, /needs exponent digits/);
  });

  it('decodes simple C escapes in double- and single-quoted strings', () => {
    assert.deepEqual(stringBytes(String.raw`"a\n\t\r\\\"\'\?\a\b\f\v"`), [
      97, 10, 9, 13, 92, 34, 39, 63, 7, 8, 12, 11,
    ]);
    assert.deepEqual(stringBytes(String.raw`'it"s'`), [105, 116, 34, 115]);
  });

  it('decodes octal, hex and unicode escapes to bytes', () => {
    assert.deepEqual(stringBytes(String.raw`"\0\101\1012\377"`), [0, 65, 65, 50, 255]);
    assert.deepEqual(stringBytes(String.raw`"\x41\xff\x9z"`), [65, 255, 9, 122]);
    assert.deepEqual(stringBytes(String.raw`"\u00e9\U0001F600"`), [
      0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80,
    ]);
    // A surrogate pair written as two \u escapes is one code point.
    assert.deepEqual(stringBytes(String.raw`"\ud83d\ude00"`), [0xf0, 0x9f, 0x98, 0x80]);
  });

  it('encodes raw non-ASCII text as UTF-8', () => {
    assert.deepEqual(stringBytes('"é"'), [0xc3, 0xa9]);
  });

  it('rejects bad escapes and unterminated strings with their position', () => {
    const bad = lexError('name: "a\\qb"');
    assert.equal(bad.line, 1);
    assert.equal(bad.column, 9);
    assert.match(bad.message, /invalid escape sequence '\\q'/);
    assert.match(lexError('"abc').message, /unterminated string literal/);
    assert.match(lexError('"ab\ncd"').message, /unterminated string literal/);
    assert.match(lexError(String.raw`"\400"`).message, /larger than a byte/);
    assert.match(lexError(String.raw`"\u12"`).message, /needs 4 hex digits/);
    assert.match(lexError(String.raw`"\U00110000"`).message, /not a valid Unicode code point/);
  });

  it('rejects characters outside the grammar', () => {
    const error = lexError('name: "x"\n  @');
    assert.equal(error.line, 2);
    assert.equal(error.column, 3);
    assert.match(error.message, /unexpected character '@'/);
  });

  it('ignores a UTF-8 byte order mark', () => {
    assert.deepEqual(kinds('\uFEFFname'), ['identifier:name']);
  });
});
