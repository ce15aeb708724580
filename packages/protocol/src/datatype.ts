/**
 * Tensor datatypes as the KServe v2 protocol names them, with the facts every codec needs:
 * element sizes, the `TYPE_*` names of model configuration, and the TypedArray that views them.
 */

/** Every datatype of the v2 protocol (Triton's set). */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'BF16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

export function isDatatype(value: string): value is Datatype {
  return DATATYPE_SET.has(value);
}

/** Bytes per element; BYTES has no fixed size and answers 0. */
export function elementByteSize(datatype: Datatype): number {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
    case 'INT8':
      return 1;
    case 'UINT16':
    case 'INT16':
    case 'FP16':
    case 'BF16':
      return 2;
    case 'UINT32':
    case 'INT32':
    case 'FP32':
      return 4;
    case 'UINT64':
    case 'INT64':
    case 'FP64':
      return 8;
    case 'BYTES':
      return 0;
  }
}

/** Model-configuration name (`TYPE_FP32`) of a protocol datatype; BYTES is `TYPE_STRING`. */
export function datatypeToConfigType(datatype: Datatype): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/** Protocol datatype of a model-configuration type name, or undefined (TYPE_INVALID, unknown). */
export function configTypeToDatatype(configType: string): Datatype | undefined {
  if (configType === 'TYPE_STRING') return 'BYTES';
  if (!configType.startsWith('TYPE_')) return undefined;
  const name = configType.slice(5);
  return name !== 'BYTES' && isDatatype(name) ? name : undefined;
}

export type NumericTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/**
 * A TypedArray view over little-endian tensor bytes. FP16 and BF16 come back as Uint16Array (their
 * bit patterns); BOOL as Uint8Array. When `bytes` is not aligned for the element size the data is
 * copied once, since TypedArrays need aligned offsets.
 */
export function typedView(datatype: Exclude<Datatype, 'BYTES'>, bytes: Uint8Array): NumericTypedArray {
  const size = elementByteSize(datatype);
  let source = bytes;
  // Uint8Array#slice copies; Buffer#slice would return another (still misaligned) view.
  if (source.byteOffset % size !== 0) source = Uint8Array.prototype.slice.call(source);
  const { buffer, byteOffset } = source;
  const length = source.byteLength / size;
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'INT8':
      return new Int8Array(buffer, byteOffset, length);
    case 'UINT16':
    case 'FP16':
    case 'BF16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'INT16':
      return new Int16Array(buffer, byteOffset, length);
    case 'UINT32':
      return new Uint32Array(buffer, byteOffset, length);
    case 'INT32':
      return new Int32Array(buffer, byteOffset, length);
    case 'UINT64':
      return new BigUint64Array(buffer, byteOffset, length);
    case 'INT64':
      return new BigInt64Array(buffer, byteOffset, length);
    case 'FP32':
      return new Float32Array(buffer, byteOffset, length);
    case 'FP64':
      return new Float64Array(buffer, byteOffset, length);
  }
}
