/** What a session's inputs, outputs and overridable initializers are: names, element types, shapes. */
import { koffi } from './ffi.js';
import { onnxTypeName } from '../dtype-map.js';
import type { TensorInfo } from '../tensor-info.js';
import type { OrtApi, Pointer } from './ort-api.js';
import { check, type OutSlot } from './ort-status.js';

export type IoKind = 'input' | 'output' | 'initializer';

/** Names, element types and shapes of a session's inputs, outputs or overridable initializers. */
export function describe(api: OrtApi, out: OutSlot, allocator: Pointer, session: Pointer, kind: IoKind): TensorInfo[] {
  const count = {
    input: api.SessionGetInputCount,
    output: api.SessionGetOutputCount,
    initializer: api.SessionGetOverridableInitializerCount,
  }[kind];
  const nameOf = {
    input: api.SessionGetInputName,
    output: api.SessionGetOutputName,
    initializer: api.SessionGetOverridableInitializerName,
  }[kind];
  const typeOf = {
    input: api.SessionGetInputTypeInfo,
    output: api.SessionGetOutputTypeInfo,
    initializer: api.SessionGetOverridableInitializerTypeInfo,
  }[kind];
  check(api, count(session, out.arg));
  const infos: TensorInfo[] = [];
  for (let index = 0, total = out.size(); index < total; index++) {
    check(api, nameOf(session, index, allocator, out.arg));
    const namePointer = out.pointer();
    const name = koffi.decode(namePointer, 'char', -1) as string;
    check(api, api.AllocatorFree(allocator, namePointer));
    check(api, typeOf(session, index, out.arg));
    const typeInfo = out.pointer();
    try {
      infos.push({ name, ...tensorType(api, out, typeInfo) });
    } finally {
      api.ReleaseTypeInfo(typeInfo);
    }
  }
  return infos;
}

/** Element type name and shape (-1 for symbolic or unknown dims) of a tensor type; '' otherwise. */
function tensorType(api: OrtApi, out: OutSlot, typeInfo: Pointer): { type: string; shape: number[] } {
  check(api, api.GetOnnxTypeFromTypeInfo(typeInfo, out.arg));
  if (out.int32() !== 1) return { type: '', shape: [] };
  // The tensor info belongs to the type info: not released on its own.
  check(api, api.CastTypeInfoToTensorInfo(typeInfo, out.arg));
  const info = out.pointer();
  check(api, api.GetTensorElementType(info, out.arg));
  const type = onnxTypeName(out.int32());
  check(api, api.GetDimensionsCount(info, out.arg));
  const rank = out.size();
  const dims = new BigInt64Array(new ArrayBuffer(8 * Math.max(1, rank)), 0, rank);
  check(api, api.GetDimensions(info, dims, rank));
  return { type, shape: Array.from(dims, (dim) => (dim >= 0n ? Number(dim) : -1)) };
}
