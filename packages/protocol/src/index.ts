export {
  DATATYPES,
  isDatatype,
  elementByteSize,
  datatypeToConfigType,
  configTypeToDatatype,
  typedView,
} from './datatype.js';
export type { Datatype, NumericTypedArray } from './datatype.js';
export { encodeBytesElements, decodeBytesElements, BytesLayoutError, scanBytesElements, bytesElementStarts, bytesElementLength, type BytesScanProblem } from './bytes-codec.js';
export { elementCount, formatShape } from './shape.js';
export { printTextProto, quoteString, quoteBytes } from './text-format/printer.js';
export { formatFloat, shortestFloat32 } from './text-format/float-format.js';
