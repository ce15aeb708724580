/**
 * ModelConfig <-> the JSON Triton serves at `GET /v2/models/{m}/config` and accepts in the load
 * API. Triton prints protobuf JSON with proto field names and always_print_primitive_fields, then
 * rewrites 64-bit integers from strings to numbers (core ModelConfigToJson); it reads JSON with
 * case-insensitive enums and rejects unknown fields (core JsonToModelConfig).
 */
import { fromJson, ScalarType } from '@bufbuild/protobuf';
import type { DescEnum, DescField, DescMessage, JsonValue, MessageShape } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import type { ReflectMessage, ScalarValue } from '@bufbuild/protobuf/reflect';
import { base64Encode } from '@bufbuild/protobuf/wire';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg, ServerError } from '../errors/index.js';
import { shortestFloat32 } from '@nereid/protocol';
import { didYouMean } from './pbtxt/suggest.js';

/**
 * A JSON value as Triton prints it. 64-bit integers are numbers, except that a value beyond
 * Number.MAX_SAFE_INTEGER is a bigint so that no digit is lost; JSON.stringify rejects bigint,
 * so serialise with {@link stringifyTritonJson}.
 */
export type TritonJson =
  | null
  | boolean
  | number
  | bigint
  | string
  | TritonJson[]
  | { [key: string]: TritonJson };

function jsonNumber(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

function scalarJson(scalar: ScalarType, value: ScalarValue): TritonJson {
  if (typeof value === 'bigint') {
    const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(value) : value;
  }
  if (value instanceof Uint8Array) return base64Encode(value);
  if (typeof value === 'number') {
    return jsonNumber(scalar === ScalarType.FLOAT ? shortestFloat32(value) : value);
  }
  return value;
}

function enumJson(desc: DescEnum, value: number): string | number {
  return desc.value[value]?.name ?? value;
}

function compareKeys(a: string, b: string, numeric: boolean): number {
  if (numeric) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether protobuf's JSON printer with always_print_primitive_fields prints the field. */
function printsField(r: ReflectMessage, field: DescField): boolean {
  if (field.oneof !== undefined) return r.oneofCase(field.oneof) === field;
  switch (field.fieldKind) {
    case 'list':
    case 'map':
      return true;
    case 'message':
      return r.isSet(field);
    default:
      return field.presence === FeatureSet_FieldPresence.IMPLICIT || r.isSet(field);
  }
}

function fieldJson(r: ReflectMessage, field: DescField): TritonJson {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarJson(field.scalar, r.get(field));
    case 'enum':
      return enumJson(field.enum, r.get(field));
    case 'message':
      return reflectToJson(r.get(field));
    case 'list':
      return [...r.get(field)].map((item) => {
        if (field.listKind === 'message') return reflectToJson(item as ReflectMessage);
        if (field.listKind === 'enum') return enumJson(field.enum, item as number);
        return scalarJson(field.scalar, item as ScalarValue);
      });
    case 'map': {
      // Sorted for stable output: integer keys by value, string and bool keys by text.
      const numeric = field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL;
      const keyed = [...r.get(field).entries()].map(([k, v]) => [String(k), v] as const);
      keyed.sort(([a], [b]) => compareKeys(a, b, numeric));
      const out: { [key: string]: TritonJson } = {};
      for (const [key, value] of keyed) {
        if (field.mapKind === 'message') out[key] = reflectToJson(value as ReflectMessage);
        else if (field.mapKind === 'enum') out[key] = enumJson(field.enum, value as number);
        else out[key] = scalarJson(field.scalar, value as ScalarValue);
      }
      return out;
    }
  }
}

function reflectToJson(r: ReflectMessage): { [key: string]: TritonJson } {
  const out: { [key: string]: TritonJson } = {};
  for (const field of r.fields) {
    if (printsField(r, field)) out[field.name] = fieldJson(r, field);
  }
  return out;
}

/**
 * Any message as Triton prints it: proto field names in declaration order; every field without
 * presence printed even when default (0, "", false, first enum name, [], {}); singular message
 * fields and oneof members only when set; enums by name; 64-bit integers as numbers.
 */
export function messageToTritonJson<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): { [key: string]: TritonJson } {
  return reflectToJson(reflect(schema, message));
}

/** The model configuration as `GET /v2/models/{m}/config` returns it (before serialising). */
export function modelConfigToJson(config: ModelConfig): { [key: string]: TritonJson } {
  return messageToTritonJson(ModelConfigSchema, config);
}

/** Compact JSON text (no spaces, like Triton's writer) with 64-bit integers written exactly. */
export function stringifyTritonJson(value: TritonJson): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stringifyTritonJson).join(',')}]`;
  const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${stringifyTritonJson(v)}`);
  return `{${members.join(',')}}`;
}

/** The body of `GET /v2/models/{m}/config`. */
export function modelConfigToJsonString(config: ModelConfig): string {
  return stringifyTritonJson(modelConfigToJson(config));
}

/** Options for {@link modelConfigFromJson}. */
export interface ModelConfigFromJsonOptions {
  /** Names the source in error messages (e.g. `load request for 'm'`). */
  readonly fileName?: string;
}

const jsonFieldIndex = new WeakMap<DescMessage, Map<string, DescField>>();

/** Fields by proto name and by lowerCamel JSON name, both accepted on input. */
function jsonFields(desc: DescMessage): Map<string, DescField> {
  let index = jsonFieldIndex.get(desc);
  if (index === undefined) {
    index = new Map();
    for (const f of desc.fields) {
      index.set(f.jsonName, f);
      index.set(f.name, f);
    }
    jsonFieldIndex.set(desc, index);
  }
  return index;
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Enum names are matched ignoring case; anything else is left for fromJson to judge. */
function normalizeEnum(desc: DescEnum, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const upper = value.toUpperCase();
  return desc.values.find((v) => v.name.toUpperCase() === upper)?.name ?? value;
}

function normalizeValue(field: DescField, value: unknown, path: string): unknown {
  if (value === null) return value;
  switch (field.fieldKind) {
    case 'enum':
      return normalizeEnum(field.enum, value);
    case 'message':
      return normalizeMessage(field.message, value, path);
    case 'list':
      if (!Array.isArray(value)) return value;
      return value.map((item, i) => {
        if (field.listKind === 'message') return normalizeMessage(field.message, item, `${path}[${i}]`);
        return field.listKind === 'enum' ? normalizeEnum(field.enum, item) : item;
      });
    case 'map': {
      if (!isObject(value)) return value;
      const out: { [key: string]: unknown } = {};
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}[${JSON.stringify(key)}]`;
        if (field.mapKind === 'message') out[key] = normalizeMessage(field.message, item, itemPath);
        else out[key] = field.mapKind === 'enum' ? normalizeEnum(field.enum, item) : item;
      }
      return out;
    }
    default:
      return value;
  }
}

/** Copies `json`, canonicalising enum names and rejecting unknown fields with their path. */
function normalizeMessage(desc: DescMessage, json: unknown, path: string): unknown {
  if (!isObject(json)) return json;
  const fields = jsonFields(desc);
  const out: { [key: string]: unknown } = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fields.get(key);
    const fieldPath = path === '' ? key : `${path}.${key}`;
    if (field === undefined) {
      const hint = didYouMean(key, desc.fields.map((f) => f.name));
      throw new ServerError('INVALID_ARG', `unknown field '${fieldPath}' in ${desc.typeName}${hint}`);
    }
    out[key] = normalizeValue(field, value, fieldPath);
  }
  return out;
}

/**
 * Reads a model configuration from (already parsed) JSON, as the load API's `config` parameter
 * is read: proto or lowerCamel field names, enum names in any case, 64-bit integers as numbers
 * or strings. Unknown fields and wrong types throw INVALID_ARG naming the source and field.
 */
export function modelConfigFromJson(json: unknown, options: ModelConfigFromJsonOptions = {}): ModelConfig {
  const source = options.fileName ?? 'model configuration JSON';
  if (!isObject(json)) throw invalidArg(`${source}: expected a JSON object`);
  try {
    const normalized = normalizeMessage(ModelConfigSchema, json, '') as JsonValue;
    return fromJson(ModelConfigSchema, normalized, { ignoreUnknownFields: false });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw invalidArg(`${source}: ${message}`, error);
  }
}
