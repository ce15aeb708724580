import { isUtf8 } from 'node:buffer';
import { invalidArg } from '../../../errors/index.js';

/**
 * JSON request bodies, parsed the way Triton's RapidJSON settings accept them. The fast path is
 * `JSON.parse`. A byte-level parser takes over when that would lose information or reject what
 * Triton accepts: integer literals beyond 2^53 (INT64/UINT64 data, uint64 sequence ids), the
 * `NaN`/`Infinity` tokens, strings holding bytes that are not UTF-8, and anything `JSON.parse`
 * rejects (so parse errors read like Triton's).
 */

/** A JSON string whose bytes are not valid UTF-8 (kept exact for BYTES tensors). */
export class JsonBytes {
  constructor(readonly bytes: Uint8Array) {}
}

export type JsonValue = null | boolean | number | bigint | string | JsonBytes | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

const MAX_DEPTH = 1_000;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Parses a request body; errors are INVALID_ARG with RapidJSON's wording and byte offset. */
export function parseJson(bytes: Uint8Array): JsonValue {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) {
    const text = buffer.toString('utf8');
    if (!hasLongInteger(text)) {
      try {
        return JSON.parse(text) as JsonValue;
      } catch {
        // Fall through: NaN/Infinity are valid for Triton, and errors need RapidJSON's wording.
      }
    }
  }
  return new ExactJsonParser(buffer).parseDocument();
}

/**
 * Whether the text holds an integer literal of 16+ digits (maybe beyond 2^53) outside fractions and
 * exponents. A plain scan: a regular expression over a 10-million-digit literal overflows the stack.
 */
function hasLongInteger(text: string): boolean {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i - start < 16) continue;
    const before = start > 0 ? text.charCodeAt(start - 1) : 0;
    const signed = before === 0x2d;
    const lead = signed ? (start > 1 ? text.charCodeAt(start - 2) : 0) : before;
    const after = i < n ? text.charCodeAt(i) : 0;
    const leadOk = !(isDigit(lead) || lead === 0x2e || lead === 0x65 || lead === 0x45 || lead === 0x2b || (!signed && lead === 0x2d));
    const afterOk = after !== 0x2e && after !== 0x65 && after !== 0x45;
    if (leadOk && afterOk) return true;
  }
  return false;
}

class ExactJsonParser {
  private pos = 0;

  constructor(private readonly src: Buffer) {}

  parseDocument(): JsonValue {
    this.skipSpace();
    if (this.pos >= this.src.length) this.fail('The document is empty.');
    const value = this.parseValue(0);
    this.skipSpace();
    if (this.pos < this.src.length) this.fail('The document root must not be followed by other values.');
    return value;
  }

  private fail(message: string, at = this.pos): never {
    throw invalidArg(`failed to parse the request JSON buffer: ${message} at ${at}`);
  }

  private skipSpace(): void {
    const src = this.src;
    let pos = this.pos;
    while (pos < src.length) {
      const c = src[pos];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos++;
    }
    this.pos = pos;
  }

  private parseValue(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('Nesting is too deep.');
    const c = this.src[this.pos];
    switch (c) {
      case 0x7b: // {
        return this.parseObject(depth);
      case 0x5b: // [
        return this.parseArray(depth);
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        return this.parseNumber();
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (this.src.toString('latin1', this.pos, this.pos + word.length) !== word) this.fail('Invalid value.');
    this.pos += word.length;
    return value;
  }

  private parseObject(depth: number): JsonObject {
    const object: JsonObject = {};
    this.pos++;
    this.skipSpace();
    if (this.src[this.pos] === 0x7d) {
      this.pos++;
      return object;
    }
    for (;;) {
      if (this.src[this.pos] !== 0x22) this.fail('Missing a name for object member.');
      const key = this.parseString();
      const name = typeof key === 'string' ? key : key.bytes.toString();
      this.skipSpace();
      if (this.src[this.pos] !== 0x3a) this.fail('Missing a colon after a name of object member.');
      this.pos++;
      this.skipSpace();
      const value = this.parseValue(depth + 1);
      // defineProperty keeps a "__proto__" key an ordinary member, as JSON.parse does.
      Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const next = this.src[this.pos];
      this.pos++;
      if (next === 0x7d) return object;
      if (next !== 0x2c) this.fail("Missing a comma or '}' after an object member.", this.pos - 1);
      this.skipSpace();
    }
  }

  private parseArray(depth: number): JsonValue[] {
    const array: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.src[this.pos] === 0x5d) {
      this.pos++;
      return array;
    }
    for (;;) {
      array.push(this.parseValue(depth + 1));
      this.skipSpace();
      const next = this.src[this.pos];
      this.pos++;
      if (next === 0x5d) return array;
      if (next !== 0x2c) this.fail("Missing a comma or ']' after an array element.", this.pos - 1);
      this.skipSpace();
    }
  }

  private parseString(): string | JsonBytes {
    const src = this.src;
    const start = ++this.pos;
    let pos = start;
    // Common case: no escapes, so the string is one slice of the body.
    while (pos < src.length) {
      const c = src[pos] as number;
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
      pos++;
    }
    if (src[pos] === 0x22) {
      this.pos = pos + 1;
      return this.finishString(src.subarray(start, pos));
    }
    return this.parseEscapedString(start);
  }

  private parseEscapedString(start: number): string | JsonBytes {
    const src = this.src;
    const out: number[] = [];
    let pos = start;
    for (;;) {
      if (pos >= src.length) this.fail('Missing a closing quotation mark in string.', pos);
      const c = src[pos] as number;
      if (c === 0x22) break;
      if (c < 0x20) {
        this.fail(c === 0 ? 'Missing a closing quotation mark in string.' : 'Invalid encoding in string.', pos);
      }
      if (c !== 0x5c) {
        out.push(c);
        pos++;
        continue;
      }
      pos = this.parseEscape(pos + 1, out);
    }
    this.pos = pos + 1;
    return this.finishString(Buffer.from(out));
  }

  /** Decodes the escape after a backslash at `pos` into `out`; returns the position after it. */
  private parseEscape(pos: number, out: number[]): number {
    const e = this.src[pos];
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) {
      out.push(simple);
      return pos + 1;
    }
    if (e !== 0x75) this.fail('Invalid escape character in string.', pos);
    let code = this.hex4(pos + 1);
    let next = pos + 5;
    if (code >= 0xd800 && code <= 0xdbff) {
      if (this.src[next] !== 0x5c || this.src[next + 1] !== 0x75) {
        this.fail('The surrogate pair in string is invalid.', next);
      }
      const low = this.hex4(next + 2);
      if (low < 0xdc00 || low > 0xdfff) this.fail('The surrogate pair in string is invalid.', next);
      code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      next += 6;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      this.fail('The surrogate pair in string is invalid.', pos);
    }
    for (const byte of Buffer.from(String.fromCodePoint(code), 'utf8')) out.push(byte);
    return next;
  }

  private hex4(pos: number): number {
    const text = this.src.toString('latin1', pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(text)) this.fail('Incorrect hex digit after \\u escape in string.', pos);
    return Number.parseInt(text, 16);
  }

  private finishString(bytes: Buffer): string | JsonBytes {
    return isUtf8(bytes) ? bytes.toString('utf8') : new JsonBytes(Buffer.from(bytes));
  }

  private parseNumber(): number | bigint {
    const src = this.src;
    const start = this.pos;
    let pos = start;
    if (src[pos] === 0x2d) pos++;
    const special = this.parseNanOrInfinity(pos, start);
    if (special !== undefined) return special;
    const intStart = pos;
    while (isDigit(src[pos])) pos++;
    if (pos === intStart) this.fail('Invalid value.', start);
    let integral = true;
    if (src[pos] === 0x2e) {
      integral = false;
      pos++;
      if (!isDigit(src[pos])) this.fail('Miss fraction part in number.', pos);
      while (isDigit(src[pos])) pos++;
    }
    if (src[pos] === 0x65 || src[pos] === 0x45) {
      integral = false;
      pos++;
      if (src[pos] === 0x2b || src[pos] === 0x2d) pos++;
      if (!isDigit(src[pos])) this.fail('Miss exponent in number.', pos);
      while (isDigit(src[pos])) pos++;
    }
    this.pos = pos;
    const text = src.toString('latin1', start, pos);
    const value = Number(text);
    if (integral && !Number.isSafeInteger(value)) {
      const big = BigInt(text);
      // Like RapidJSON: integers that fit int64/uint64 stay exact, larger ones become doubles.
      if (big >= INT64_MIN && big <= UINT64_MAX) return big;
    }
    if (!Number.isFinite(value)) this.fail('Number too big to be stored in double.', start);
    return value;
  }

  private parseNanOrInfinity(pos: number, start: number): number | undefined {
    const c = this.src[pos];
    if (c !== 0x4e && c !== 0x49) return undefined;
    const negative = pos > start;
    for (const [word, value] of [
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['Inf', Number.POSITIVE_INFINITY],
    ] as const) {
      if (this.src.toString('latin1', pos, pos + word.length) === word) {
        this.pos = pos + word.length;
        return negative ? -value : value;
      }
    }
    return this.fail('Invalid value.', start);
  }
}

const SIMPLE_ESCAPES: ReadonlyMap<number, number> = new Map([
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x2f, 0x2f],
  [0x62, 0x08],
  [0x66, 0x0c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
]);

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}
