import { invalidArg, quoted } from '../errors/index.js';
import type { Parameters } from '../tensor/tensor.js';

/** Reads an optional unsigned integer request parameter (priority, timeout); 0 when absent. */
export function readUnsignedParameter(parameters: Parameters, key: string, prefix: string): number {
  const value = parameters[key];
  if (value === undefined) return 0;
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 0) {
    throw invalidArg(`${prefix}parameter '${quoted(key)}' must be an unsigned integer, got '${quoted(String(value))}'`);
  }
  return number;
}
