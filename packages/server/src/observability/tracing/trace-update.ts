import { ServerError, invalidArg, unsupported } from '../../errors/index.js';
import { TRACE_LEVEL_DISABLED, TRACE_LEVEL_TENSORS, TRACE_LEVEL_TIMESTAMPS } from './trace-setting.js';
import type { TraceSettingUpdate } from './trace-manager.js';

const UINT32_MAX = 4294967295;
const INT32_MAX = 2147483647;
const MIN_TRACE_COUNT = -1;

type Protocol = 'http' | 'grpc';

/**
 * Reads a trace extension update the way Triton's HTTP frontend does (HandleTrace): string values,
 * `null` to clear a field, a level list where 'OFF' must stand alone and unknown words are ignored.
 * TritonJson's type errors are Triton's INTERNAL errors.
 */
export function traceUpdateFromJson(body: Readonly<Record<string, unknown>>): TraceSettingUpdate {
  if (Object.hasOwn(body, 'trace_file')) throw unsupported('trace file location can not be updated through network protocol');
  const update: { -readonly [K in keyof TraceSettingUpdate]: TraceSettingUpdate[K] } = {};
  if (Object.hasOwn(body, 'trace_level')) {
    const value = body['trace_level'];
    if (value === null) update.level = null;
    else {
      if (!Array.isArray(value)) throw jsonError('attempt to access JSON non-array as array');
      const level = parseLevels(value.map((entry) => {
        if (typeof entry !== 'string') throw jsonError('attempt to access JSON non-string as string');
        return entry;
      }));
      if (level !== undefined) update.level = level;
    }
  }
  for (const [key, field] of NUMERIC_FIELDS) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null) update[field] = null;
    else if (typeof value !== 'string') throw jsonError('attempt to access JSON non-string as string');
    else update[field] = parseNumber(key, value, 'http');
  }
  return update;
}

/** The same for gRPC's TraceSetting (Triton's grpc_server.cc): an empty value list clears a field. */
export function traceUpdateFromGrpc(settings: Readonly<Record<string, { readonly value: readonly string[] }>>): TraceSettingUpdate {
  if (settings['trace_file'] !== undefined) throw unsupported('trace file location can not be updated through network protocol');
  const update: { -readonly [K in keyof TraceSettingUpdate]: TraceSettingUpdate[K] } = {};
  const levels = settings['trace_level']?.value;
  if (levels !== undefined) {
    if (levels.length === 0) update.level = null;
    else {
      const level = parseLevels(levels);
      if (level !== undefined) update.level = level;
    }
  }
  for (const [key, field] of NUMERIC_FIELDS) {
    const values = settings[key]?.value;
    if (values === undefined) continue;
    if (values.length === 0) update[field] = null;
    else if (values.length === 1) update[field] = parseNumber(key, values[0]!, 'grpc');
    else throw invalidArg(`expect only 1 value for '${key}'`);
  }
  return update;
}

const NUMERIC_FIELDS: readonly (readonly [string, 'rate' | 'count' | 'logFrequency'])[] = [
  ['trace_rate', 'rate'],
  ['trace_count', 'count'],
  ['log_frequency', 'logFrequency'],
];

/** Level words to bits; undefined when no word is known (the level is then left as it is). */
function parseLevels(words: readonly string[]): number | undefined {
  let level: number | undefined;
  for (const word of words) {
    if (word === 'OFF') {
      if (words.length !== 1) throw invalidArg("Expect only one trace level 'OFF' is specified");
      level = TRACE_LEVEL_DISABLED;
    } else if (word === 'TIMESTAMPS') level = (level ?? 0) | TRACE_LEVEL_TIMESTAMPS;
    else if (word === 'TENSORS') level = (level ?? 0) | TRACE_LEVEL_TENSORS;
  }
  return level;
}

/** std::stoi: leading blanks, a sign and digits, anything after ignored; int32 or out of range. */
export function stoi(text: string): number | 'invalid' | 'out-of-range' {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (match === null) return 'invalid';
  const value = Number(match[1]);
  if (value > INT32_MAX || value < -INT32_MAX - 1) return 'out-of-range';
  return value;
}

function parseNumber(key: string, text: string, protocol: Protocol): number {
  const parsed = stoi(text);
  const isCount = key === 'trace_count';
  if (parsed === 'invalid') throw invalidArg(`Unable to parse '${key}', got: ${text}`);
  if (parsed === 'out-of-range') {
    const range = isCount ? `${MIN_TRACE_COUNT}, ${INT32_MAX}` : `0, ${UINT32_MAX}`;
    throw invalidArg(`Unable to parse '${key}', value is out of range [ ${range} ], got: ${text}`);
  }
  if (isCount) {
    if (parsed < MIN_TRACE_COUNT) {
      // Triton's two frontends differ by a space.
      throw invalidArg(`Unable to parse '${key}'. Expecting value >= ${MIN_TRACE_COUNT}, got:${protocol === 'grpc' ? ' ' : ''}${text}`);
    }
    return parsed;
  }
  // Stored in a uint32: a negative value wraps, as in Triton.
  return parsed >>> 0;
}

function jsonError(message: string): ServerError {
  return new ServerError('INTERNAL', message);
}
