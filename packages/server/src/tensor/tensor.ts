import type { Datatype } from '@nereid/protocol';

/**
 * A tensor as every layer below the frontends sees it. `data` is always the wire layout: little-endian
 * row-major elements for fixed-size types, and the 4-byte length-prefixed layout for BYTES. Decoders
 * hand out views into the received buffer, never copies.
 */
export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** Request and response parameters: the values KServe v2 and Triton's gRPC InferParameter can hold. */
export type ParameterValue = boolean | number | bigint | string;
export type Parameters = Readonly<Record<string, ParameterValue>>;
