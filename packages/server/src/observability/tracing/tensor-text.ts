import type { Tensor } from '../../tensor/tensor.js';

/**
 * A tensor's elements as Triton's TENSORS trace writes them: comma-separated, floats with six
 * significant digits as C++ streams print them, BOOL as 0/1, BYTES elements in double quotes, and
 * nothing for FP16/BF16. (Triton prints INT8/UINT8 elements as raw characters; they are numbers here,
 * so the file stays valid JSON.)
 */
export function formatTensorData(tensor: Tensor): string {
  const { data } = tensor;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const values: string[] = [];
  const read = (size: number, get: (offset: number) => number | bigint, text: (value: number | bigint) => string = String): void => {
    for (let offset = 0; offset + size <= data.byteLength; offset += size) values.push(text(get(offset)));
  };
  switch (tensor.datatype) {
    case 'BOOL':
      read(1, (o) => (view.getUint8(o) === 0 ? 0 : 1));
      break;
    case 'UINT8':
      read(1, (o) => view.getUint8(o));
      break;
    case 'INT8':
      read(1, (o) => view.getInt8(o));
      break;
    case 'UINT16':
      read(2, (o) => view.getUint16(o, true));
      break;
    case 'INT16':
      read(2, (o) => view.getInt16(o, true));
      break;
    case 'UINT32':
      read(4, (o) => view.getUint32(o, true));
      break;
    case 'INT32':
      read(4, (o) => view.getInt32(o, true));
      break;
    case 'UINT64':
      read(8, (o) => view.getBigUint64(o, true));
      break;
    case 'INT64':
      read(8, (o) => view.getBigInt64(o, true));
      break;
    case 'FP32':
      read(4, (o) => view.getFloat32(o, true), (v) => cppFloat(v as number));
      break;
    case 'FP64':
      read(8, (o) => view.getFloat64(o, true), (v) => cppFloat(v as number));
      break;
    case 'BYTES':
      return bytesElements(data, view);
    default:
      return '';
  }
  return values.join(',');
}

/** Length-prefixed strings; stops at a truncated element, as Triton does. */
function bytesElements(data: Uint8Array, view: DataView): string {
  const values: string[] = [];
  let offset = 0;
  while (offset + 4 <= data.byteLength) {
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > data.byteLength) break;
    values.push(`"${Buffer.from(data.buffer, data.byteOffset + offset, length).toString('utf8')}"`);
    offset += length;
  }
  return values.join(',');
}

/** `std::ostream << double` with the default precision (6): %g. */
export function cppFloat(value: number): string {
  if (Number.isNaN(value)) return value < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(value)) return value < 0 ? '-inf' : 'inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponent = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa = '', exp = '0'] = value.toExponential(5).split('e');
    const digits = trimZeros(mantissa);
    const e = Number(exp);
    return `${digits}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return trimZeros(value.toFixed(Math.max(0, 5 - exponent)));
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}
