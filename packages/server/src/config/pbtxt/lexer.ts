import { excerpt } from './excerpt.js';

/**
 * Tokenizer for the protobuf text format as protobuf's C++ TextFormat reads it (Triton parses
 * config.pbtxt with that parser): `#` comments, identifiers, decimal/hex/octal integers, floats
 * with an optional `f` suffix, single- or double-quoted strings with C escapes, and punctuation.
 * The minus sign is its own token so the parser decides where a sign is allowed.
 */

/** Token classes; `symbol` covers `{ } < > [ ] : , ; -`. */
export type TokenKind = 'identifier' | 'integer' | 'float' | 'string' | 'symbol' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token, quotes included for strings; '' at end of input. */
  readonly text: string;
  /** Decoded bytes of a string literal (escapes resolved, UTF-8 encoded). */
  readonly bytes?: Uint8Array;
  /** 1-based line and column (UTF-16 code units) of the token's first character. */
  readonly line: number;
  readonly column: number;
}

/** A syntax error at a source position; the parser adds the file name. */
export class TextFormatError extends Error {
  readonly line: number;
  readonly column: number;

  constructor(line: number, column: number, message: string) {
    super(message);
    this.name = 'TextFormatError';
    this.line = line;
    this.column = column;
  }
}

const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '?': 63, "'": 39, '"': 34,
};
const encoder = new TextEncoder();

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isHexDigit(c: string): boolean {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

/** Pull tokenizer with one token of lookahead. */
export class Lexer {
  private readonly src: string;
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private lookahead: Token | undefined;

  constructor(text: string) {
    // A UTF-8 byte order mark is not part of the text.
    this.src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  }

  peek(): Token {
    this.lookahead ??= this.scan();
    return this.lookahead;
  }

  next(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  private column(at: number): number {
    return at - this.lineStart + 1;
  }

  private fail(at: number, message: string): never {
    throw new TextFormatError(this.line, this.column(at), message);
  }

  private skipSpaceAndComments(): void {
    const src = this.src;
    while (this.pos < src.length) {
      const c = src[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < src.length && src[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private scan(): Token {
    this.skipSpaceAndComments();
    const start = this.pos;
    const line = this.line;
    const column = this.column(start);
    const c = this.src[start];
    if (c === undefined) return { kind: 'eof', text: '', line, column };
    if (isIdentStart(c)) {
      this.pos = this.takeWhile(start, isIdentPart);
      return { kind: 'identifier', text: this.src.slice(start, this.pos), line, column };
    }
    if (isDigit(c) || (c === '.' && isDigit(this.src[start + 1] ?? ''))) {
      const kind = this.scanNumber(start);
      return { kind, text: this.src.slice(start, this.pos), line, column };
    }
    if (c === '"' || c === "'") {
      const bytes = this.scanString(start, c);
      return { kind: 'string', text: this.src.slice(start, this.pos), bytes, line, column };
    }
    if (SYMBOLS.has(c)) {
      this.pos++;
      return { kind: 'symbol', text: c, line, column };
    }
    return this.fail(start, `unexpected character '${excerpt(c)}'`);
  }

  private takeWhile(from: number, pred: (c: string) => boolean): number {
    let i = from;
    while (i < this.src.length && pred(this.src[i] as string)) i++;
    return i;
  }

  private scanNumber(start: number): 'integer' | 'float' {
    const src = this.src;
    let kind: 'integer' | 'float' = 'integer';
    let i = start;
    if (src[i] === '0' && (src[i + 1] === 'x' || src[i + 1] === 'X')) {
      i = this.takeWhile(i + 2, isHexDigit);
      if (i === start + 2) this.fail(start, `'${excerpt(src.slice(start, i))}' needs hex digits`);
    } else if (src[i] === '0' && isDigit(src[i + 1] ?? '')) {
      i = this.takeWhile(i + 1, isDigit);
      const digits = src.slice(start, i);
      if (/[89]/.test(digits)) this.fail(start, `invalid octal number '${excerpt(digits)}'`);
    } else {
      i = this.takeWhile(i, isDigit);
      if (src[i] === '.') {
        kind = 'float';
        i = this.takeWhile(i + 1, isDigit);
      }
      if (src[i] === 'e' || src[i] === 'E') {
        kind = 'float';
        i++;
        if (src[i] === '+' || src[i] === '-') i++;
        const digitsStart = i;
        i = this.takeWhile(i, isDigit);
        if (i === digitsStart) this.fail(start, `'${excerpt(src.slice(start, i))}' needs exponent digits`);
      }
      if (src[i] === 'f' || src[i] === 'F') {
        kind = 'float';
        i++;
      }
    }
    this.pos = i;
    const after = src[i] ?? '';
    if (isIdentPart(after) || after === '.') {
      const end = this.takeWhile(i, (ch) => isIdentPart(ch) || ch === '.');
      this.fail(start, `invalid number '${excerpt(src.slice(start, end))}'`);
    }
    return kind;
  }

  private scanString(start: number, quote: string): Uint8Array {
    const src = this.src;
    const out: number[] = [];
    let i = start + 1;
    let runStart = i;
    const flushRun = (end: number): void => {
      if (end > runStart) for (const b of encoder.encode(src.slice(runStart, end))) out.push(b);
    };
    for (;;) {
      const c = src[i];
      if (c === undefined || c === '\n') this.fail(start, 'unterminated string literal');
      if (c === quote) {
        flushRun(i);
        this.pos = i + 1;
        return Uint8Array.from(out);
      }
      if (c === '\\') {
        flushRun(i);
        i = this.scanEscape(i, out);
        runStart = i;
      } else {
        i++;
      }
    }
  }

  /** Decodes the escape at `at` (a backslash) into `out`; returns the index after it. */
  private scanEscape(at: number, out: number[]): number {
    const src = this.src;
    const c = src[at + 1] ?? '';
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      out.push(simple);
      return at + 2;
    }
    if (c >= '0' && c <= '7') {
      const end = Math.min(this.takeWhile(at + 1, (ch) => ch >= '0' && ch <= '7'), at + 4);
      const value = Number.parseInt(src.slice(at + 1, end), 8);
      if (value > 255) this.fail(at, `octal escape '${excerpt(src.slice(at, end))}' is larger than a byte`);
      out.push(value);
      return end;
    }
    if (c === 'x' || c === 'X') {
      const end = Math.min(this.takeWhile(at + 2, isHexDigit), at + 4);
      if (end === at + 2) this.fail(at, "'\\x' escape needs hex digits");
      out.push(Number.parseInt(src.slice(at + 2, end), 16));
      return end;
    }
    if (c === 'u' || c === 'U') return this.scanUnicodeEscape(at, c === 'u' ? 4 : 8, out);
    return this.fail(at, `invalid escape sequence '\\${c}'`);
  }

  private scanUnicodeEscape(at: number, digits: number, out: number[]): number {
    const hex = this.src.slice(at + 2, at + 2 + digits);
    if (hex.length !== digits || ![...hex].every(isHexDigit)) {
      this.fail(at, `'\\${this.src[at + 1]}' escape needs ${digits} hex digits`);
    }
    let code = Number.parseInt(hex, 16);
    let end = at + 2 + digits;
    // A \u high surrogate followed by a \u low surrogate is one code point.
    if (code >= 0xd800 && code <= 0xdbff && this.src.startsWith('\\u', end)) {
      const low = Number.parseInt(this.src.slice(end + 2, end + 6), 16);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        end += 6;
      }
    }
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      this.fail(at, `'${excerpt(this.src.slice(at, end))}' is not a valid Unicode code point`);
    }
    for (const b of encoder.encode(String.fromCodePoint(code))) out.push(b);
    return end;
  }
}
