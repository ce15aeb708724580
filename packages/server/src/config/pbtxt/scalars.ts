import { ScalarType } from '@bufbuild/protobuf';
import type { DescEnum } from '@bufbuild/protobuf';
import type { ScalarValue } from '@bufbuild/protobuf/reflect';
import { excerpt } from './excerpt.js';
import type { Token } from './lexer.js';
import { didYouMean } from './suggest.js';

/** A field value as written: an optional minus sign and one token (strings already joined). */
export interface RawValue {
  readonly negative: boolean;
  readonly token: Token;
  /** Decoded bytes when the token is a string (adjacent literals concatenated). */
  readonly bytes?: Uint8Array;
  /** The value as written, for error messages. */
  readonly text: string;
}

/** Thrown by the converters; the parser adds position and field path. */
export class ValueError extends Error {}

interface IntRange {
  readonly label: string;
  readonly min: bigint;
  readonly max: bigint;
  readonly big: boolean;
}

const INT_RANGES: Partial<Record<ScalarType, IntRange>> = {
  [ScalarType.INT32]: { label: 'int32', min: -(2n ** 31n), max: 2n ** 31n - 1n, big: false },
  [ScalarType.SINT32]: { label: 'sint32', min: -(2n ** 31n), max: 2n ** 31n - 1n, big: false },
  [ScalarType.SFIXED32]: { label: 'sfixed32', min: -(2n ** 31n), max: 2n ** 31n - 1n, big: false },
  [ScalarType.UINT32]: { label: 'uint32', min: 0n, max: 2n ** 32n - 1n, big: false },
  [ScalarType.FIXED32]: { label: 'fixed32', min: 0n, max: 2n ** 32n - 1n, big: false },
  [ScalarType.INT64]: { label: 'int64', min: -(2n ** 63n), max: 2n ** 63n - 1n, big: true },
  [ScalarType.SINT64]: { label: 'sint64', min: -(2n ** 63n), max: 2n ** 63n - 1n, big: true },
  [ScalarType.SFIXED64]: { label: 'sfixed64', min: -(2n ** 63n), max: 2n ** 63n - 1n, big: true },
  [ScalarType.UINT64]: { label: 'uint64', min: 0n, max: 2n ** 64n - 1n, big: true },
  [ScalarType.FIXED64]: { label: 'fixed64', min: 0n, max: 2n ** 64n - 1n, big: true },
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The integer a token spells (decimal, 0x hex or leading-zero octal), sign applied. */
function integerOf(raw: RawValue): bigint | undefined {
  if (raw.token.kind !== 'integer') return undefined;
  const text = raw.token.text;
  const isOctal = text.length > 1 && text[0] === '0' && text[1] !== 'x' && text[1] !== 'X';
  const magnitude = BigInt(isOctal ? `0o${text.slice(1)}` : text);
  return raw.negative ? -magnitude : magnitude;
}

function toInteger(range: IntRange, raw: RawValue): number | bigint {
  const value = integerOf(raw);
  if (value === undefined) throw new ValueError(`expects an integer, got '${excerpt(raw.text)}'`);
  if (value < range.min || value > range.max) {
    throw new ValueError(`is out of range for ${range.label}, got '${excerpt(raw.text)}'`);
  }
  return range.big ? value : Number(value);
}

function toFloat(scalar: ScalarType, raw: RawValue): number {
  const { token } = raw;
  let value: number;
  if (token.kind === 'float') {
    value = Number(token.text.replace(/[fF]$/, ''));
  } else if (token.kind === 'integer') {
    value = Number(integerOf({ ...raw, negative: false }));
  } else if (token.kind === 'identifier') {
    const word = token.text.toLowerCase();
    if (word === 'inf' || word === 'infinity') value = Infinity;
    else if (word === 'nan') value = NaN;
    else throw new ValueError(`expects a number, got '${excerpt(raw.text)}'`);
  } else {
    throw new ValueError(`expects a number, got '${excerpt(raw.text)}'`);
  }
  if (raw.negative) value = -value;
  if (scalar === ScalarType.FLOAT) {
    const rounded = Math.fround(value);
    if (!Number.isFinite(rounded) && Number.isFinite(value)) {
      throw new ValueError(`is out of range for float, got '${excerpt(raw.text)}'`);
    }
    return rounded;
  }
  return value;
}

const TRUE_WORDS = new Set(['true', 'True', 't']);
const FALSE_WORDS = new Set(['false', 'False', 'f']);

function toBool(raw: RawValue): boolean {
  const { token } = raw;
  if (!raw.negative && token.kind === 'identifier') {
    if (TRUE_WORDS.has(token.text)) return true;
    if (FALSE_WORDS.has(token.text)) return false;
  }
  if (!raw.negative && token.kind === 'integer') {
    const value = integerOf(raw);
    if (value === 0n || value === 1n) return value === 1n;
  }
  throw new ValueError(`expects true or false, got '${excerpt(raw.text)}'`);
}

function toStringOrBytes(scalar: ScalarType, raw: RawValue): string | Uint8Array {
  if (raw.negative || raw.token.kind !== 'string' || raw.bytes === undefined) {
    throw new ValueError(`expects a quoted string, got '${excerpt(raw.text)}'`);
  }
  if (scalar === ScalarType.BYTES) return raw.bytes;
  try {
    return utf8.decode(raw.bytes);
  } catch {
    throw new ValueError(`has a string value that is not valid UTF-8: ${excerpt(raw.text)}`);
  }
}

/** Converts a written value to the representation protobuf-es reflection expects. */
export function toScalar(scalar: ScalarType, raw: RawValue): ScalarValue {
  const range = INT_RANGES[scalar];
  if (range !== undefined) return toInteger(range, raw);
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return toFloat(scalar, raw);
    case ScalarType.BOOL:
      return toBool(raw);
    default:
      return toStringOrBytes(scalar, raw);
  }
}

/** Converts an enum value written by name or by number. */
export function toEnum(desc: DescEnum, raw: RawValue): number {
  const { token } = raw;
  if (token.kind === 'identifier' && !raw.negative) {
    const value = desc.values.find((v) => v.name === token.text);
    if (value !== undefined) return value.number;
    const hint = didYouMean(token.text, desc.values.map((v) => v.name));
    throw new ValueError(`has unknown value '${excerpt(token.text)}' for enum ${desc.typeName}${hint}`);
  }
  if (token.kind === 'integer') {
    const value = integerOf(raw);
    if (value !== undefined && value >= -(2n ** 31n) && value < 2n ** 31n) {
      const number = Number(value);
      // Open (proto3) enums keep numbers they do not name; closed enums do not.
      if (desc.open || desc.value[number] !== undefined) return number;
    }
    throw new ValueError(`has unknown value ${excerpt(raw.text)} for enum ${desc.typeName}`);
  }
  throw new ValueError(`expects a value of enum ${desc.typeName}, got '${excerpt(raw.text)}'`);
}
