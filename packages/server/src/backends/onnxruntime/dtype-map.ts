import type { Datatype } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';

/** ONNX element types that have a Triton datatype, by the names onnxruntime's JS API gives them. */
export type OnnxElementType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'string';

/** ONNX's TensorProto.DataType numbers (ONNXTensorElementDataType in the C API), by name. */
const ONNX_CODES: Readonly<Record<string, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
};

const ONNX_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ONNX_CODES).map(([name, code]) => [code, name]),
);

/** The C API's element type number for an element type. */
export function onnxTypeCode(type: OnnxElementType): number {
  return ONNX_CODES[type] ?? 0;
}

/** The name of a C API element type number ('float32', ...; 'onnx type N' for ones without a name here). */
export function onnxTypeName(code: number): string {
  return ONNX_NAMES.get(code) ?? `onnx type ${code}`;
}

/** Protocol datatype ↔ ONNX element type, one to one (Triton's onnxruntime backend mapping). */
const ONNX_OF_DATATYPE: Readonly<Record<Datatype, OnnxElementType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  BF16: 'bfloat16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const DATATYPE_OF_ONNX: ReadonlyMap<string, Datatype> = new Map(
  Object.entries(ONNX_OF_DATATYPE).map(([datatype, onnx]) => [onnx, datatype as Datatype]),
);

/** Config enum ↔ protocol datatype (TYPE_STRING is BYTES on the wire). */
const CONFIG_OF_DATATYPE: Readonly<Record<Datatype, DataType>> = {
  BOOL: DataType.TYPE_BOOL,
  UINT8: DataType.TYPE_UINT8,
  UINT16: DataType.TYPE_UINT16,
  UINT32: DataType.TYPE_UINT32,
  UINT64: DataType.TYPE_UINT64,
  INT8: DataType.TYPE_INT8,
  INT16: DataType.TYPE_INT16,
  INT32: DataType.TYPE_INT32,
  INT64: DataType.TYPE_INT64,
  FP16: DataType.TYPE_FP16,
  BF16: DataType.TYPE_BF16,
  FP32: DataType.TYPE_FP32,
  FP64: DataType.TYPE_FP64,
  BYTES: DataType.TYPE_STRING,
};

const DATATYPE_OF_CONFIG: ReadonlyMap<DataType, Datatype> = new Map(
  Object.entries(CONFIG_OF_DATATYPE).map(([datatype, config]) => [config, datatype as Datatype]),
);

/** The ONNX element type that carries a protocol datatype. */
export function onnxTypeOf(datatype: Datatype): OnnxElementType {
  return ONNX_OF_DATATYPE[datatype];
}

/** The protocol datatype of an ONNX element type; undefined for types Triton has no name for. */
export function datatypeOfOnnx(type: string): Datatype | undefined {
  return DATATYPE_OF_ONNX.get(type);
}

/** The config enum value of a protocol datatype (BYTES → TYPE_STRING). */
export function configTypeOf(datatype: Datatype): DataType {
  return CONFIG_OF_DATATYPE[datatype];
}

/** The protocol datatype of a config enum value; undefined for TYPE_INVALID and unknown values. */
export function datatypeOfConfig(type: DataType): Datatype | undefined {
  return DATATYPE_OF_CONFIG.get(type);
}

/** `TYPE_FP32`-style name of a config enum value, as Triton prints it in messages. */
export function configTypeName(type: DataType): string {
  return DataType[type] ?? `TYPE_INVALID(${type})`;
}

/** `TYPE_*` name of an ONNX element type, `TYPE_INVALID` when Triton has none. */
export function configTypeNameOfOnnx(type: string): string {
  const datatype = datatypeOfOnnx(type);
  return datatype === undefined ? 'TYPE_INVALID' : configTypeName(configTypeOf(datatype));
}
