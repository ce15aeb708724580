import type { Datatype } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import type { Tensor as OrtTensor } from 'onnxruntime-node';

/**
 * ONNX element types as this backend names them: onnxruntime-node's tensor type names, plus
 * 'bfloat16', which onnxruntime-node cannot represent and `bf16-bridge.ts` carries as float32.
 */
export type OnnxElementType = OrtTensor.Type | 'bfloat16';

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
