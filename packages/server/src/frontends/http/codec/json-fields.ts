import { invalidArg, type ServerError } from '../../../errors/index.js';
import type { ParameterValue } from '../../../tensor/tensor.js';
import { JsonBytes, type JsonObject, type JsonValue } from './json-parse.js';

/**
 * Typed access to parsed JSON with Triton's wording: its TritonJson accessor messages, prefixed the
 * way http_server.cc prefixes them ("Unable to parse 'shape': attempt to access JSON ..."). Triton
 * reports these as INTERNAL (500); Nereid answers INVALID_ARG (400) because the client is at fault.
 */

export const NOT_ARRAY = 'attempt to access JSON non-array as array';
export const NOT_STRING = 'attempt to access JSON non-string as string';
export const NOT_BOOL = 'attempt to access JSON non-boolean as boolean';
export const NOT_UINT = 'attempt to access JSON non-unsigned-integer as unsigned-integer';
export const NOT_INT = 'attempt to access JSON non-signed-integer as signed-integer';
export const NOT_NUMBER = 'attempt to access JSON non-number as double';

const UINT64_MAX = 2n ** 64n - 1n;

/** `<prefix>: <detail>` as Triton's RETURN_MSG_IF_ERR builds it. */
export function fieldError(prefix: string, detail: string): ServerError {
  return invalidArg(`${prefix}: ${detail}`);
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonBytes);
}

/** An own member of an object, or undefined (also when `object` is not an object). */
export function member(object: JsonValue | undefined, key: string): JsonValue | undefined {
  return isJsonObject(object) && Object.hasOwn(object, key) ? object[key] : undefined;
}

function missing(key: string): string {
  return `attempt to access non-existing object member '${key}'`;
}

export function memberArray(object: JsonValue, key: string, prefix: string): JsonValue[] {
  const value = member(object, key);
  if (value === undefined) throw fieldError(prefix, missing(key));
  if (!Array.isArray(value)) throw fieldError(prefix, NOT_ARRAY);
  return value;
}

/** A member that must exist. */
export function memberValue(object: JsonValue, key: string, prefix: string): JsonValue {
  const value = member(object, key);
  if (value === undefined) throw fieldError(prefix, missing(key));
  return value;
}

export function memberString(object: JsonValue, key: string, prefix: string): string {
  const value = member(object, key);
  if (value === undefined) throw fieldError(prefix, missing(key));
  return asString(value, prefix);
}

export function asString(value: JsonValue, prefix: string): string {
  if (typeof value === 'string') return value;
  // Names and ids that are not UTF-8 are kept byte for byte in a binary string.
  if (value instanceof JsonBytes) return Buffer.from(value.bytes).toString('latin1');
  throw fieldError(prefix, NOT_STRING);
}

export function asBool(value: JsonValue, prefix: string): boolean {
  if (typeof value !== 'boolean') throw fieldError(prefix, NOT_BOOL);
  return value;
}

/** A uint64: a number while it is a safe integer, a bigint beyond that. */
export function isUInt(value: JsonValue): value is number | bigint {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'bigint' && value >= 0n && value <= UINT64_MAX;
}

export function asUInt(value: JsonValue, prefix: string): number | bigint {
  if (!isUInt(value)) throw fieldError(prefix, NOT_UINT);
  return value;
}

/** A uint64 that must also fit a JS number (sizes, offsets, shape dims). */
export function asSize(value: JsonValue, prefix: string): number {
  const size = asUInt(value, prefix);
  if (typeof size === 'bigint') throw fieldError(prefix, `value ${size} is too large`);
  return size;
}

/** A parameter value: string, bool, integer or double; objects, arrays and null are refused. */
export function asParameterValue(key: string, value: JsonValue): ParameterValue {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (typeof value === 'number') return value;
  if (value instanceof JsonBytes) return Buffer.from(value.bytes).toString('latin1');
  throw invalidArg(`parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.`);
}

/** Copies the scalar members of a `parameters` object; other members are dropped. */
export function scalarParameters(value: JsonValue | undefined): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  if (!isJsonObject(value)) return out;
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') {
      out[key] = v;
    }
  }
  return out;
}
