/**
 * The shortest decimal that reads back as the same float32, as a number: 0.1f is stored as
 * 0.10000000149011612 but prints as 0.1, like protobuf's C++ printers do for float fields.
 * Values that are not float32 (or not finite, or zero) are returned unchanged.
 */
export function shortestFloat32(value: number): number {
  if (value === 0 || !Number.isFinite(value) || Math.fround(value) !== value) return value;
  for (let precision = 1; precision < 9; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

/**
 * Text format spelling of a float or double: shortest round-tripping digits (float32 digits when
 * `float32`), `inf`, `-inf`, `nan`, and `-0` keeping its sign.
 */
export function formatFloat(value: number, float32: boolean): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0';
  return String(float32 ? shortestFloat32(value) : value);
}
