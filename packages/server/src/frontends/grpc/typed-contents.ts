import { encodeBytesElements, elementCount, formatShape } from '@nereid/protocol';
import type { InferTensorContents } from '@nereid/protocol/generated/grpc_service_pb';
import { invalidArg, quoted } from '../../errors/index.js';

/**
 * Typed `InferTensorContents` → the wire layout every layer below the frontends uses (little-endian
 * elements; BYTES length-prefixed). One typed field may carry the data and its type must be the
 * input's datatype: int_contents serves INT8/16/32, uint_contents UINT8/16/32 (narrowed to the
 * element size, keeping the low bytes as Triton does), and FP16/BF16 have no typed field (raw only).
 */

interface TensorRef {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly model: string;
}

type TypedField = keyof Omit<InferTensorContents, '$typeName' | '$unknown'>;

/** The typed fields in the order Triton examines them. */
const FIELDS: readonly TypedField[] = [
  'boolContents',
  'intContents',
  'int64Contents',
  'uintContents',
  'uint64Contents',
  'fp32Contents',
  'fp64Contents',
  'bytesContents',
];

export function typedContentsToBytes(contents: InferTensorContents, tensor: TensorRef): Uint8Array {
  let data: Uint8Array | undefined;
  let count = 0;
  for (const field of FIELDS) {
    const values = contents[field];
    if (values.length === 0) continue;
    if (data !== undefined) {
      throw invalidArg(
        `unexpected explicit tensor data for input tensor '${quoted(tensor.name)}' for model '${quoted(tensor.model)}', ` +
          'binary data was already supplied.',
      );
    }
    const fieldType = fieldDatatype(field, tensor.datatype);
    if (fieldType !== tensor.datatype) {
      throw invalidArg(
        `unexpected explicit tensor data for input tensor '${quoted(tensor.name)}' for model '${quoted(tensor.model)}' of type ` +
          `'${fieldType}', expected datatype '${quoted(tensor.datatype)}'`,
      );
    }
    data = encode(field, fieldType, values);
    count = values.length;
  }
  checkElementCount(count, tensor);
  return data ?? new Uint8Array(0);
}

/** Datatype a typed field carries, given the declared one (int/uint fields serve three widths). */
function fieldDatatype(field: TypedField, declared: string): string {
  switch (field) {
    case 'boolContents':
      return 'BOOL';
    case 'intContents':
      return declared === 'INT8' || declared === 'INT16' ? declared : 'INT32';
    case 'int64Contents':
      return 'INT64';
    case 'uintContents':
      return declared === 'UINT8' || declared === 'UINT16' ? declared : 'UINT32';
    case 'uint64Contents':
      return 'UINT64';
    case 'fp32Contents':
      return 'FP32';
    case 'fp64Contents':
      return 'FP64';
    case 'bytesContents':
      return 'BYTES';
  }
}

function encode(field: TypedField, datatype: string, values: InferTensorContents[TypedField]): Uint8Array {
  if (field === 'bytesContents') return encodeBytesElements(values as Uint8Array[]);
  if (field === 'boolContents') return Uint8Array.from(values as boolean[], (value) => (value ? 1 : 0));
  const typed = typedArrayOf(datatype, values as readonly number[] | readonly bigint[]);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

function typedArrayOf(datatype: string, values: readonly number[] | readonly bigint[]): ArrayBufferView {
  const numbers = values as readonly number[];
  const bigints = values as readonly bigint[];
  switch (datatype) {
    case 'INT8':
      return Int8Array.from(numbers);
    case 'INT16':
      return Int16Array.from(numbers);
    case 'INT32':
      return Int32Array.from(numbers);
    case 'INT64':
      return BigInt64Array.from(bigints);
    case 'UINT8':
      return Uint8Array.from(numbers);
    case 'UINT16':
      return Uint16Array.from(numbers);
    case 'UINT32':
      return Uint32Array.from(numbers);
    case 'UINT64':
      return BigUint64Array.from(bigints);
    case 'FP32':
      return Float32Array.from(numbers);
    default:
      return Float64Array.from(numbers);
  }
}

/** Typed data must hold one value per element of the shape (checked only for a valid shape). */
function checkElementCount(count: number, tensor: TensorRef): void {
  if (tensor.shape.some((dim) => dim < 0)) return;
  const expected = elementCount(tensor.shape);
  if (count !== expected) {
    throw invalidArg(
      `unexpected number of elements in typed contents of input tensor '${quoted(tensor.name)}' for model ` +
        `'${quoted(tensor.model)}': got ${count}, expected ${expected} for shape ${quoted(formatShape(tensor.shape))}`,
    );
  }
}
