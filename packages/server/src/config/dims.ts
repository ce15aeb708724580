import type { ModelInput, ModelOutput } from '@nereid/protocol/generated/model_config_pb';

/** -1 in `dims` and `reshape`: a dimension of any size. */
export const WILDCARD_DIM = -1;

/** Config dims are int64 (bigint) in the generated types; tensor shapes everywhere else are numbers. */
export function toNumbers(dims: readonly bigint[]): number[] {
  return dims.map(Number);
}

/** The shape the backend sees for a config tensor, without batch dimension: `reshape` if set, else `dims`. */
export function backendDims(io: ModelInput | ModelOutput): number[] {
  return io.reshape ? toNumbers(io.reshape.shape) : toNumbers(io.dims);
}

/** Element count of dims with no wildcard; undefined when any dim is variable. */
export function fixedElementCount(dims: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of dims) {
    if (dim === WILDCARD_DIM) return undefined;
    count *= dim;
  }
  return count;
}
