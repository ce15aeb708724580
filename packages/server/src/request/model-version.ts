import { invalidArg, quoted } from '../errors/index.js';

/**
 * The model version a request names, read as Triton's GetModelVersionFromString reads it (it calls
 * std::stol): leading whitespace and a sign are allowed, then decimal digits, and whatever follows
 * the digits is ignored ("2abc" is version 2). No digits, or a value outside int64, is
 * INVALID_ARG with Triton's "failed to get model version ..." text ("stol" being what the C++
 * exception reports); a negative version is INVALID_ARG too. The value is kept exact as a bigint.
 */

/** Versions are int64 in Triton; std::stol on LP64 gives the same range. */
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** What std::stol skips before the number (isspace in the C locale). */
const LEADING = /^[ \t\n\v\f\r]*/;
const NUMBER = /^[+-]?[0-9]+/;

/** `undefined` for '' (the version policy decides); otherwise the version as an exact int64. */
export function parseModelVersion(text: string): bigint | undefined {
  if (text === '') return undefined;
  const start = LEADING.exec(text)![0].length;
  const digits = NUMBER.exec(text.slice(start));
  if (digits === null) throw unparsable(text);
  const version = BigInt(digits[0]);
  if (version < INT64_MIN || version > INT64_MAX) throw unparsable(text);
  if (version < 0n) {
    throw invalidArg(`invalid model version specified '${quoted(text)}' , version should be an integral value > 0`);
  }
  return version;
}

/**
 * The version string the core takes: '' for the policy's choice, else the canonical decimal ("+07"
 * becomes "7"). Throws INVALID_ARG, as parseModelVersion does, for a string that is not a version.
 */
export function requestedVersion(text: string): string {
  const version = parseModelVersion(text);
  return version === undefined ? '' : version.toString();
}

function unparsable(text: string): Error {
  return invalidArg(
    `failed to get model version from specified version string '${quoted(text)}' (details: stol), version ` +
      'should be an integral value > 0',
  );
}
