/**
 * Schema-driven protobuf text format parser. It accepts what protobuf's C++ TextFormat parser
 * accepts for the field kinds ModelConfig uses (Triton reads config.pbtxt with that parser) and
 * reports errors as INVALID_ARG naming file, line, column and the field path.
 */
import { create } from '@bufbuild/protobuf';
import type { DescField, DescMessage, DescOneof, MessageShape } from '@bufbuild/protobuf';
import { reflect, scalarZeroValue } from '@bufbuild/protobuf/reflect';
import type { ReflectMap, ReflectMessage } from '@bufbuild/protobuf/reflect';
import { invalidArg } from '../../errors/index.js';
import { excerpt } from './excerpt.js';
import { Lexer, TextFormatError } from './lexer.js';
import type { Token } from './lexer.js';
import { toEnum, toScalar, ValueError } from './scalars.js';
import type { RawValue } from './scalars.js';
import { didYouMean } from './suggest.js';

/** Options for {@link parseTextProto}. */
export interface ParseTextOptions {
  /** Name used in error messages, e.g. the config.pbtxt path. */
  readonly fileName?: string;
  /** Deepest message nesting accepted (protobuf's default is 100). */
  readonly maxDepth?: number;
}

type MapField = DescField & { fieldKind: 'map' };
type CloseSymbol = '}' | '>';

const fieldIndex = new WeakMap<DescMessage, Map<string, DescField>>();

/** Fields of a message by their proto (snake_case) name. */
function fieldsByName(desc: DescMessage): Map<string, DescField> {
  let index = fieldIndex.get(desc);
  if (index === undefined) {
    index = new Map(desc.fields.map((f) => [f.name, f]));
    fieldIndex.set(desc, index);
  }
  return index;
}

/** True when the field's values are messages, which makes the ':' before them optional. */
function holdsMessages(field: DescField): boolean {
  if (field.fieldKind === 'map') return true;
  if (field.fieldKind === 'list') return field.listKind === 'message';
  return field.fieldKind === 'message';
}

/** Per-message bookkeeping for "set twice" and oneof conflicts. */
interface MessageState {
  readonly seen: Set<DescField>;
  readonly oneofs: Map<DescOneof, DescField>;
}

class Parser {
  private readonly lexer: Lexer;
  private readonly path: string[] = [];

  constructor(
    text: string,
    private readonly maxDepth: number,
  ) {
    this.lexer = new Lexer(text);
  }

  parseRoot(target: ReflectMessage): void {
    this.parseBody(target, undefined, 0);
  }

  private fail(token: Token, message: string): never {
    throw new TextFormatError(token.line, token.column, message);
  }

  private fieldPath(name: string): string {
    return this.path.length === 0 ? name : `${this.path.join('.')}.${name}`;
  }

  private tryConsume(symbol: string): boolean {
    const token = this.lexer.peek();
    if (token.kind !== 'symbol' || token.text !== symbol) return false;
    this.lexer.next();
    return true;
  }

  private expect(symbol: string, context: string): void {
    const token = this.lexer.peek();
    if (!this.tryConsume(symbol)) {
      const got = token.kind === 'eof' ? 'end of input' : `'${excerpt(token.text)}'`;
      this.fail(token, `expected '${symbol}' ${context}, got ${got}`);
    }
  }

  /** Fields up to `close` (or end of input for the top level). */
  private parseBody(target: ReflectMessage, close: CloseSymbol | undefined, depth: number): void {
    const state: MessageState = { seen: new Set(), oneofs: new Map() };
    for (;;) {
      const token = this.lexer.peek();
      if (close === undefined && token.kind === 'eof') return;
      if (close !== undefined && this.tryConsume(close)) return;
      if (token.kind === 'eof') this.fail(token, `expected '${close}', got end of input`);
      if (token.kind !== 'identifier') this.fail(token, `expected a field name, got '${excerpt(token.text)}'`);
      this.lexer.next();
      const field = fieldsByName(target.desc).get(token.text);
      if (field === undefined) {
        const hint = didYouMean(token.text, fieldsByName(target.desc).keys());
        const where = `'${this.fieldPath(excerpt(token.text))}' in ${target.desc.typeName}`;
        this.fail(token, `unknown field ${where}${hint}`);
      }
      this.parseField(target, field, token, state, depth);
      if (!this.tryConsume(';')) this.tryConsume(',');
    }
  }

  private parseField(
    target: ReflectMessage,
    field: DescField,
    nameToken: Token,
    state: MessageState,
    depth: number,
  ): void {
    if (holdsMessages(field)) this.tryConsume(':');
    else this.expect(':', `after field '${this.fieldPath(field.name)}'`);
    if (field.fieldKind === 'list' || field.fieldKind === 'map') {
      if (!this.tryConsume('[')) {
        this.parseElement(target, field, depth);
        return;
      }
      if (this.tryConsume(']')) return;
      for (;;) {
        this.parseElement(target, field, depth);
        if (this.tryConsume(']')) return;
        this.expect(',', 'between list elements');
      }
    }
    this.checkSingular(field, nameToken, state);
    const path = this.fieldPath(field.name);
    if (field.fieldKind === 'message') {
      target.set(field, this.parseMessage(field.message, field.name, depth));
    } else if (field.fieldKind === 'enum') {
      target.set(field, this.convert(path, (raw) => toEnum(field.enum, raw)));
    } else {
      target.set(field, this.convert(path, (raw) => toScalar(field.scalar, raw)));
    }
  }

  /** Singular fields may appear once, and only one member of a oneof may appear. */
  private checkSingular(field: DescField, nameToken: Token, state: MessageState): void {
    if (state.seen.has(field)) {
      this.fail(nameToken, `field '${this.fieldPath(field.name)}' is specified more than once`);
    }
    state.seen.add(field);
    const oneof = field.oneof;
    if (oneof === undefined) return;
    const other = state.oneofs.get(oneof);
    if (other !== undefined) {
      const names = `'${this.fieldPath(other.name)}' and '${this.fieldPath(field.name)}'`;
      this.fail(nameToken, `fields ${names} are both set, but only one member of oneof '${oneof.name}' may be set`);
    }
    state.oneofs.set(oneof, field);
  }

  /** One element of a repeated or map field. */
  private parseElement(target: ReflectMessage, field: DescField, depth: number): void {
    if (field.fieldKind === 'map') {
      this.parseMapEntry(target.get(field), field, depth);
      return;
    }
    if (field.fieldKind !== 'list') return;
    const list = target.get(field);
    // Message elements are named by index; a scalar element's position already identifies it.
    const path = this.fieldPath(field.name);
    if (field.listKind === 'message') {
      list.add(this.parseMessage(field.message, `${field.name}[${list.size}]`, depth));
    } else if (field.listKind === 'enum') {
      list.add(this.convert(path, (raw) => toEnum(field.enum, raw)));
    } else {
      list.add(this.convert(path, (raw) => toScalar(field.scalar, raw)));
    }
  }

  private openMessage(segment: string): CloseSymbol {
    const token = this.lexer.next();
    if (token.kind === 'symbol' && token.text === '{') return '}';
    if (token.kind === 'symbol' && token.text === '<') return '>';
    const got = token.kind === 'eof' ? 'end of input' : `'${excerpt(token.text)}'`;
    return this.fail(token, `field '${this.fieldPath(segment)}' expects a message ('{'), got ${got}`);
  }

  private parseMessage(desc: DescMessage, segment: string, depth: number): ReflectMessage {
    const close = this.openMessage(segment);
    if (depth >= this.maxDepth) {
      this.fail(this.lexer.peek(), `messages are nested more than ${this.maxDepth} levels deep`);
    }
    const child = reflect(desc, create(desc));
    this.path.push(segment);
    this.parseBody(child, close, depth + 1);
    this.path.pop();
    return child;
  }

  /** `{ key: K value: V }`; either part may be missing, and a repeated key replaces the old. */
  private parseMapEntry(map: ReflectMap, field: MapField, depth: number): void {
    const close = this.openMessage(`${field.name}[${map.size}]`);
    this.path.push(`${field.name}[${map.size}]`);
    let key: unknown;
    let value: unknown;
    for (;;) {
      if (this.tryConsume(close)) break;
      const token = this.lexer.next();
      const name = token.kind === 'identifier' ? token.text : '';
      if (name === 'key' && key === undefined) {
        this.expect(':', `after field '${this.fieldPath('key')}'`);
        key = this.convert(this.fieldPath('key'), (raw) => toScalar(field.mapKey, raw));
        const label = typeof key === 'string' ? JSON.stringify(key) : String(key);
        this.path[this.path.length - 1] = `${field.name}[${label}]`;
      } else if (name === 'value' && value === undefined) {
        value = this.parseMapValue(field, depth);
      } else if (name === 'key' || name === 'value') {
        this.fail(token, `field '${this.fieldPath(name)}' is specified more than once`);
      } else if (token.kind === 'eof') {
        this.fail(token, `expected '${close}', got end of input`);
      } else if (token.kind !== 'identifier') {
        this.fail(token, `expected 'key' or 'value', got '${excerpt(token.text)}'`);
      } else {
        this.fail(token, `unknown field '${this.fieldPath(excerpt(token.text))}' in map entry (expected 'key' or 'value')`);
      }
      if (!this.tryConsume(';')) this.tryConsume(',');
    }
    this.path.pop();
    map.set(key ?? scalarZeroValue(field.mapKey, false), value ?? this.mapValueZero(field));
  }

  private parseMapValue(field: MapField, depth: number): unknown {
    const path = this.fieldPath('value');
    if (field.mapKind === 'message') {
      this.tryConsume(':');
      return this.parseMessage(field.message, 'value', depth);
    }
    this.expect(':', `after field '${path}'`);
    if (field.mapKind === 'enum') return this.convert(path, (raw) => toEnum(field.enum, raw));
    return this.convert(path, (raw) => toScalar(field.scalar, raw));
  }

  private mapValueZero(field: MapField): unknown {
    if (field.mapKind === 'message') return reflect(field.message, create(field.message));
    if (field.mapKind === 'enum') return field.enum.values[0]?.number ?? 0;
    return scalarZeroValue(field.scalar, false);
  }

  /** Reads one written value and converts it, naming the field if the conversion fails. */
  private convert<T>(path: string, conversion: (raw: RawValue) => T): T {
    const raw = this.readRawValue();
    try {
      return conversion(raw);
    } catch (error) {
      if (error instanceof ValueError) this.fail(raw.token, `field '${path}' ${error.message}`);
      throw error;
    }
  }

  private readRawValue(): RawValue {
    const first = this.lexer.next();
    if (first.kind === 'symbol' && first.text === '-') {
      // The value starts at the sign, so errors point there.
      const token = this.lexer.next();
      return { negative: true, token: { ...token, line: first.line, column: first.column }, text: `-${token.text}` };
    }
    if (first.kind !== 'string' || first.bytes === undefined) {
      return { negative: false, token: first, text: first.kind === 'eof' ? 'end of input' : first.text };
    }
    // Adjacent string literals are one value: "a" "b" is "ab".
    const parts = [first.bytes];
    const texts = [first.text];
    while (this.lexer.peek().kind === 'string') {
      const next = this.lexer.next();
      if (next.bytes !== undefined) parts.push(next.bytes);
      texts.push(next.text);
    }
    const bytes = parts.length === 1 ? first.bytes : concatBytes(parts);
    return { negative: false, token: first, bytes, text: texts.join(' ') };
  }
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Parses protobuf text format into a new message of `schema`. Throws ServerError INVALID_ARG
 * `<file>:<line>:<column>: <what>` naming the field path (e.g. `input[0].dims`).
 */
export function parseTextProto<Desc extends DescMessage>(
  schema: Desc,
  text: string,
  options: ParseTextOptions = {},
): MessageShape<Desc> {
  const fileName = options.fileName ?? '<text>';
  const message = create(schema);
  try {
    new Parser(text, options.maxDepth ?? 100).parseRoot(reflect(schema, message));
  } catch (error) {
    if (error instanceof TextFormatError) {
      throw invalidArg(`${fileName}:${error.line}:${error.column}: ${error.message}`, error);
    }
    throw error;
  }
  return message;
}
