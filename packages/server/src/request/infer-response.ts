import type { ServerError } from '../errors/index.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';

/** One response as the core returns it to a frontend. */
export interface InferResponse {
  readonly modelName: string;
  readonly modelVersion: string;
  /** Echo of the request id; '' when the request had none. */
  readonly id: string;
  readonly parameters: Parameters;
  readonly outputs: readonly OutputTensor[];
  /** Where the request's time went, for the request log (not sent to the client). */
  readonly stats?: ResponseStats | undefined;
}

export interface ResponseStats {
  readonly queueNs: number;
  /** Input, infer and output compute together. */
  readonly computeNs: number;
  /** The request's own batch size. */
  readonly batchSize: number;
}

export interface OutputTensor extends Tensor {
  /** The requested output's parameters (binary_data, shared memory), so encoders can honour them. */
  readonly parameters: Parameters;
}

/**
 * One event of a request that may be answered many times (a decoupled model): a response, an error,
 * or a final flag alone. The last event of a request has `final` set.
 */
export interface StreamEvent {
  readonly response?: InferResponse | undefined;
  readonly error?: ServerError | undefined;
  readonly final: boolean;
}

export type StreamListener = (event: StreamEvent) => void;
