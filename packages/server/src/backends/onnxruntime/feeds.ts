/**
 * Wire-layout tensors ↔ session tensors: one request's inputs as they are (views, no copies unless
 * alignment needs one), several requests' inputs joined along the batch dim, and outputs turned back
 * into wire bytes, whole or split per request.
 */
import { elementByteSize, typedView, type Datatype } from '@nereid/protocol';
import { internal, invalidArg } from '../../errors/server-error.js';
import type { Tensor } from '../../tensor/tensor.js';
import { datatypeOfOnnx, onnxTypeOf } from './dtype-map.js';
import type { PlainTensor, TensorData } from './session-runner.js';
import { bytesDataToStrings, stringsToBytesData } from './string-tensors.js';

/** A request input as a session feed; `scalar` (a rank-0 model input) drops the dims. */
export function tensorToFeed(tensor: Tensor, scalar: boolean): PlainTensor {
  return {
    name: tensor.name,
    type: onnxTypeOf(tensor.datatype),
    dims: scalar ? [] : tensor.shape,
    data: tensorData(tensor.datatype, tensor.data, tensor.name),
  };
}

/** The same input of several requests joined along dim 0 (their other dims must agree). */
export function batchedFeed(tensors: readonly Tensor[]): PlainTensor {
  const first = tensors[0];
  if (first === undefined) throw internal('cannot batch zero tensors');
  const inner = first.shape.slice(1);
  let rows = 0;
  for (const tensor of tensors) {
    const same =
      tensor.datatype === first.datatype &&
      tensor.shape.length === first.shape.length &&
      inner.every((dim, i) => tensor.shape[i + 1] === dim);
    if (!same) {
      throw invalidArg(
        `input '${first.name}': requests batched together must share datatype and non-batch dims`,
      );
    }
    rows += tensor.shape[0] ?? 0;
  }
  const type = onnxTypeOf(first.datatype);
  const dims = [rows, ...inner];
  if (first.datatype === 'BYTES') {
    const strings: string[] = [];
    for (const tensor of tensors) bytesToStrings(tensor.data, tensor.name, strings);
    return { name: first.name, type, dims, data: strings };
  }
  const joined = Buffer.concat(tensors.map((tensor) => tensor.data));
  return { name: first.name, type, dims, data: tensorData(first.datatype, joined, first.name) };
}

/** A session output as a wire tensor; a rank-0 output takes `scalarShape` (from the config). */
export function outputToTensor(output: PlainTensor, scalarShape: readonly number[] | undefined): Tensor {
  const datatype = outputDatatype(output);
  const shape = output.dims.length === 0 && scalarShape !== undefined ? scalarShape : output.dims;
  return { name: output.name, datatype, shape, data: wireBytes(output.data) };
}

/** A batched session output cut back into one wire tensor per request, by batch sizes. */
export function splitOutput(output: PlainTensor, batchSizes: readonly number[]): Tensor[] {
  const datatype = outputDatatype(output);
  const rows = output.dims[0];
  const total = batchSizes.reduce((sum, size) => sum + size, 0);
  if (rows !== total) {
    throw internal(
      `output '${output.name}' has batch dimension ${rows ?? 'none'} but the batch holds ${total} rows`,
    );
  }
  const inner = output.dims.slice(1);
  const perRow = total === 0 ? 0 : output.data.length / total;
  const tensors: Tensor[] = [];
  let row = 0;
  for (const size of batchSizes) {
    const start = row * perRow;
    const end = (row + size) * perRow;
    const data = Array.isArray(output.data)
      ? stringsToBytesData(output.data as readonly string[], start, end)
      : wireBytes((output.data as Uint8Array).subarray(start, end));
    tensors.push({ name: output.name, datatype, shape: [size, ...inner], data });
    row += size;
  }
  return tensors;
}

function tensorData(datatype: Datatype, bytes: Uint8Array, name: string): TensorData {
  if (datatype === 'BYTES') return bytesToStrings(bytes, name, []);
  // TypedArrays need aligned offsets: copy once when the view is not aligned. (Buffer#slice
  // does not copy, so this copies through Uint8Array's own slice.)
  const aligned =
    bytes.byteOffset % elementByteSize(datatype) === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
  return typedView(datatype, aligned);
}

function bytesToStrings(bytes: Uint8Array, name: string, out: string[]): string[] {
  try {
    return bytesDataToStrings(bytes, out);
  } catch (error) {
    throw invalidArg(`input '${name}': malformed BYTES data: ${(error as Error).message}`);
  }
}

function outputDatatype(output: PlainTensor): Datatype {
  const datatype = datatypeOfOnnx(output.type);
  if (datatype === undefined) {
    throw internal(`output '${output.name}' has ONNX type '${output.type}', which has no Triton datatype`);
  }
  return datatype;
}

/** Wire bytes of session data: a Buffer view over numeric data (no copy), encoded strings. */
function wireBytes(data: TensorData): Buffer {
  if (Array.isArray(data)) return stringsToBytesData(data as readonly string[]);
  const view = data as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
