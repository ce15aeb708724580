import { elementByteSize, encodeBytesElements, typedView, type Datatype } from '@nereid/protocol';
import { invalidArg } from '../errors/index.js';
import type { Tensor } from '../tensor/tensor.js';

/** Triton refuses classification over larger tensors, to bound memory and CPU. */
const MAX_CLASSIFICATION_ELEMENTS = 1_000_000;

/**
 * The classification extension: replaces an output with its top `k` entries per batch item as BYTES
 * strings "<value>:<index>[:<label>]", highest value first. The shape becomes [batch, k] for a model
 * that batches and [k] otherwise (k capped at the number of classes).
 */
export function classify(
  output: Tensor,
  k: number,
  batching: boolean,
  labels: readonly string[] | undefined,
): Tensor {
  if (output.datatype === 'BYTES' || output.datatype === 'BOOL' || output.datatype === 'FP16' || output.datatype === 'BF16') {
    throw invalidArg(`class result not available for output due to unsupported type '${output.datatype}'`);
  }
  const values = typedView(output.datatype, output.data);
  if (values.length > MAX_CLASSIFICATION_ELEMENTS) throw invalidArg('classification output tensor too large');
  const rows = batching ? (output.shape[0] ?? 1) : 1;
  const classes = rows === 0 ? 0 : values.length / rows;
  const count = Math.min(k, classes);
  const elements: Uint8Array[] = [];
  for (let row = 0; row < rows; row++) {
    const order = Array.from({ length: classes }, (_, i) => i);
    const at = (i: number): number => Number(values[row * classes + i]);
    order.sort((a, b) => at(b) - at(a) || a - b);
    for (let rank = 0; rank < count; rank++) {
      const index = order[rank]!;
      const label = labels?.[index];
      const text = `${formatValue(values[row * classes + index]!, output.datatype)}:${index}`;
      elements.push(Buffer.from(label === undefined ? text : `${text}:${label}`, 'utf8'));
    }
  }
  return {
    name: output.name,
    datatype: 'BYTES',
    shape: batching ? [rows, count] : [count],
    data: encodeBytesElements(elements),
  };
}

/** C++ std::to_string formatting, which Triton uses: integers plainly, floats with six decimals. */
function formatValue(value: number | bigint, datatype: Datatype): string {
  if (datatype === 'FP32' || datatype === 'FP64') return (value as number).toFixed(6);
  return elementByteSize(datatype) > 0 ? String(value) : '';
}
