import type { ServerError } from '../errors/index.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import type { SequenceFields } from './sequence-fields.js';

/**
 * A request checked against its model's configuration (`request/normalize.ts`). Input tensors carry the
 * shapes the backend sees: batch dimension included when the model batches, `reshape` applied.
 */
export interface InferenceRequest {
  readonly modelName: string;
  readonly modelVersion: bigint;
  readonly id: string;
  readonly parameters: Parameters;
  readonly inputs: readonly Tensor[];
  /** Leading batch dimension when max_batch_size > 0; 1 for models that do not batch. */
  readonly batchSize: number;
  /** Outputs the backend must produce, after `classification` and defaults are resolved. */
  readonly requestedOutputs: readonly RequestedOutput[];
  readonly priority: number;
  readonly timeoutMicroseconds: number;
  /** The sequence it belongs to (sequence_id/_start/_end), when it names one. */
  readonly sequence?: SequenceFields | undefined;
  /** The client's cancellation (connection gone, gRPC cancel or deadline), for backends that ask. */
  readonly signal?: CancelSignal | undefined;
  /**
   * Set on requests to decoupled models (`model_transaction_policy { decoupled: true }`): the backend
   * sends zero or more responses through it, the last one final, at any time (also after its
   * execution returned); the execution's own result for such a request is ignored.
   */
  readonly responder?: DecoupledResponder | undefined;
}

/** Where a decoupled model's responses go. */
export interface DecoupledResponder {
  send(response: DecoupledResponse): void;
}

/**
 * One response of a decoupled model: outputs, or an error, or neither (a final flag alone, which
 * Triton's clients never see unless they asked for empty final responses).
 */
export interface DecoupledResponse {
  readonly outputs?: readonly Tensor[] | undefined;
  readonly error?: ServerError | undefined;
  readonly parameters?: Parameters | undefined;
  readonly final: boolean;
}

export interface RequestedOutput {
  readonly name: string;
  /** Top-k for the classification extension; 0 when the raw tensor is wanted. */
  readonly classificationCount: number;
  /** The client's parameters for this output (binary_data, shared memory, ...), untouched. */
  readonly parameters: Parameters;
}
