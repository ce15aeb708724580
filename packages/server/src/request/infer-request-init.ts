import type { Parameters } from '../tensor/tensor.js';

/**
 * What a frontend hands the core for one inference: transport-free, not yet checked against the model.
 * Frontends decode bodies into this; `request/normalize.ts` turns it into an `InferenceRequest`.
 */
export interface InferRequestInit {
  readonly modelName: string;
  /** Version as the client wrote it; '' means "as the version policy chooses". */
  readonly modelVersion: string;
  /** Request id to echo; '' when the client sent none. */
  readonly id: string;
  readonly parameters: Parameters;
  readonly inputs: readonly InputTensorInit[];
  /** Outputs the client asked for; undefined means every output of the model. */
  readonly outputs: readonly RequestedOutputInit[] | undefined;
}

export interface InputTensorInit {
  readonly name: string;
  /** Datatype string exactly as received; checked during normalisation. */
  readonly datatype: string;
  readonly shape: readonly number[];
  /** Wire layout bytes (see tensor/tensor.ts). */
  readonly data: Uint8Array;
  readonly parameters: Parameters;
}

export interface RequestedOutputInit {
  readonly name: string;
  /** e.g. `classification`, `binary_data`, `shared_memory_region`. */
  readonly parameters: Parameters;
}
