/**
 * Request tensors ↔ session tensors, all in the wire layout: one request's inputs as they are (views,
 * no copies), several requests' inputs joined along the batch dim (BYTES too: the length-prefixed
 * layout concatenates), and outputs reshaped, whole or split back per request.
 */
import { elementByteSize } from '@nereid/protocol';
import { internal, invalidArg } from '../../errors/server-error.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { SessionFeed } from './native/native-session.js';

/** A request input as a session feed; `scalar` (a rank-0 model input) drops the dims. */
export function tensorToFeed(tensor: Tensor, scalar: boolean): SessionFeed {
  return { tensor, dims: scalar ? [] : tensor.shape };
}

/** The same input of several requests joined along dim 0 (their other dims must agree). */
export function batchedFeed(tensors: readonly Tensor[]): SessionFeed {
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
  const dims = [rows, ...inner];
  const data = Buffer.concat(tensors.map((tensor) => tensor.data));
  return { tensor: { name: first.name, datatype: first.datatype, shape: dims, data }, dims };
}

/** A session output as a response tensor; a rank-0 output takes `scalarShape` (from the config). */
export function outputToTensor(output: Tensor, scalarShape: readonly number[] | undefined): Tensor {
  if (output.shape.length > 0 || scalarShape === undefined) return output;
  return { ...output, shape: scalarShape };
}

/** A batched session output cut back into one tensor per request, by batch sizes. */
export function splitOutput(output: Tensor, batchSizes: readonly number[]): Tensor[] {
  const rows = output.shape[0];
  const total = batchSizes.reduce((sum, size) => sum + size, 0);
  if (rows !== total) {
    throw internal(
      `output '${output.name}' has batch dimension ${rows ?? 'none'} but the batch holds ${total} rows`,
    );
  }
  const inner = output.shape.slice(1);
  const perRow = inner.reduce((product, dim) => product * dim, 1);
  const offsetOfRow =
    output.datatype === 'BYTES'
      ? bytesRowOffsets(output.data, perRow, total)
      : (row: number) => row * perRow * elementByteSize(output.datatype);
  const tensors: Tensor[] = [];
  let row = 0;
  for (const size of batchSizes) {
    const data = output.data.subarray(offsetOfRow(row), offsetOfRow(row + size));
    tensors.push({ name: output.name, datatype: output.datatype, shape: [size, ...inner], data });
    row += size;
  }
  return tensors;
}

/** Byte offset of each row start in a BYTES wire buffer of `rows` rows of `perRow` elements. */
function bytesRowOffsets(data: Uint8Array, perRow: number, rows: number): (row: number) => number {
  const offsets = [0];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  for (let row = 0; row < rows; row++) {
    for (let i = 0; i < perRow; i++) at += 4 + view.getUint32(at, true);
    offsets.push(at);
  }
  return (row) => offsets[row] ?? at;
}
