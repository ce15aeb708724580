/**
 * Atomics.waitAsync (Node 16+, V8), which TypeScript's ES2023 lib does not declare yet: resolves
 * once `array[index]` is notified while it holds `value` (at once, not async, if it no longer does).
 */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
