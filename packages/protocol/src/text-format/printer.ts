/**
 * Protobuf text format printer in the layout of protobuf's C++ TextFormat printer: fields in
 * field-number order, two-space indent, `name: value`, `name {` ... `}`, one line per repeated
 * element, map entries sorted by key with both key and value. Only set fields are printed, and
 * everything printed reads back through parseTextProto to an equal message.
 */
import { ScalarType } from '@bufbuild/protobuf';
import type { DescEnum, DescField, DescMessage, MessageShape } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import type { ReflectMap, ReflectMessage, ScalarValue } from '@bufbuild/protobuf/reflect';
import { formatFloat } from './float-format.js';

type MapField = DescField & { fieldKind: 'map' };

const NAMED_ESCAPES: Readonly<Record<number, string>> = {
  0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x22: '\\"', 0x27: "\\'", 0x5c: '\\\\',
};

function octalEscape(code: number): string {
  return `\\${code.toString(8).padStart(3, '0')}`;
}

/** Quotes a string field, keeping non-ASCII text as UTF-8 and escaping control characters. */
export function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[code];
    if (named !== undefined) out += named;
    else if (code < 0x20 || code === 0x7f) out += octalEscape(code);
    else out += ch;
  }
  return `${out}"`;
}

/** Quotes a bytes field: printable ASCII as is, every other byte as a 3-digit octal escape. */
export function quoteBytes(value: Uint8Array): string {
  let out = '"';
  for (const byte of value) {
    const named = NAMED_ESCAPES[byte];
    if (named !== undefined) out += named;
    else if (byte < 0x20 || byte >= 0x7f) out += octalEscape(byte);
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

function formatScalar(scalar: ScalarType, value: ScalarValue): string {
  switch (scalar) {
    case ScalarType.STRING:
      return quoteString(value as string);
    case ScalarType.BYTES:
      return quoteBytes(value as Uint8Array);
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return formatFloat(value as number, scalar === ScalarType.FLOAT);
    default:
      return String(value);
  }
}

function formatEnum(desc: DescEnum, value: number): string {
  return desc.value[value]?.name ?? String(value);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

class Printer {
  private readonly lines: string[] = [];
  private indent = '';

  toString(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }

  private line(text: string): void {
    this.lines.push(this.indent + text);
  }

  private block(name: string, body: () => void): void {
    this.line(`${name} {`);
    const outer = this.indent;
    this.indent += '  ';
    body();
    this.indent = outer;
    this.line('}');
  }

  message(r: ReflectMessage): void {
    for (const field of r.sortedFields) {
      if (r.isSet(field)) this.field(r, field);
    }
  }

  private field(r: ReflectMessage, field: DescField): void {
    switch (field.fieldKind) {
      case 'scalar':
        this.line(`${field.name}: ${formatScalar(field.scalar, r.get(field))}`);
        return;
      case 'enum':
        this.line(`${field.name}: ${formatEnum(field.enum, r.get(field))}`);
        return;
      case 'message': {
        const child = r.get(field);
        this.block(field.name, () => this.message(child));
        return;
      }
      case 'list':
        for (const item of r.get(field)) {
          if (field.listKind === 'message') {
            this.block(field.name, () => this.message(item as ReflectMessage));
          } else if (field.listKind === 'enum') {
            this.line(`${field.name}: ${formatEnum(field.enum, item as number)}`);
          } else {
            this.line(`${field.name}: ${formatScalar(field.scalar, item as ScalarValue)}`);
          }
        }
        return;
      case 'map':
        this.map(field, r.get(field));
        return;
    }
  }

  private map(field: MapField, map: ReflectMap): void {
    const entries = [...map.entries()].sort(([a], [b]) => compareKeys(a, b));
    for (const [key, value] of entries) {
      this.block(field.name, () => {
        this.line(`key: ${formatScalar(field.mapKey, key as ScalarValue)}`);
        if (field.mapKind === 'message') {
          this.block('value', () => this.message(value as ReflectMessage));
        } else if (field.mapKind === 'enum') {
          this.line(`value: ${formatEnum(field.enum, value as number)}`);
        } else {
          this.line(`value: ${formatScalar(field.scalar, value as ScalarValue)}`);
        }
      });
    }
  }
}

/** Prints a message in protobuf text format (empty string for a message with nothing set). */
export function printTextProto<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): string {
  const printer = new Printer();
  printer.message(reflect(schema, message));
  return printer.toString();
}
