/** Shape arithmetic shared by every codec. */

/** Number of elements of a shape; the empty shape (a scalar) has one. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** `[2,3]` style rendering used in error messages, as Triton prints shapes. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
