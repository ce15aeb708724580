import { invalidArg, quoted } from '../errors/index.js';
import type { Parameters } from '../tensor/tensor.js';

/** A correlation ID: an unsigned 64-bit integer or a string (Triton's InferenceRequest::SequenceId). */
export type CorrelationId = bigint | string;

/** What a request says about the sequence it belongs to (parameters sequence_id/_start/_end). */
export interface SequenceFields {
  readonly id: CorrelationId;
  readonly start: boolean;
  readonly end: boolean;
}

/** Triton's longest string correlation ID (tritonserver.cc). */
const MAX_STRING_ID_LENGTH = 128;

/**
 * Reads the sequence parameters of a request; undefined when it names no sequence at all (no ID, or
 * ID 0 / "", and no flags). An ID of 0 with a flag is returned: the sequence batcher refuses it with
 * Triton's "must specify a non-zero or non-empty correlation ID".
 */
export function readSequenceFields(parameters: Parameters, prefix: string): SequenceFields | undefined {
  const raw = parameters['sequence_id'];
  const start = parameters['sequence_start'] === true;
  const end = parameters['sequence_end'] === true;
  let id: CorrelationId = 0n;
  if (typeof raw === 'string') {
    if (raw.length > MAX_STRING_ID_LENGTH) {
      throw invalidArg(`${prefix}string correlation ID cannot be longer than ${MAX_STRING_ID_LENGTH} characters`);
    }
    id = raw;
  } else if (typeof raw === 'number' || typeof raw === 'bigint') {
    if (typeof raw === 'number' && !Number.isInteger(raw)) {
      throw invalidArg(`${prefix}parameter 'sequence_id' must be an unsigned integer or a string, got '${quoted(String(raw))}'`);
    }
    // gRPC carries it as int64: Triton reads the bits as uint64.
    id = BigInt.asUintN(64, BigInt(raw));
  } else if (raw !== undefined) {
    throw invalidArg(`${prefix}parameter 'sequence_id' must be an unsigned integer or a string, got '${quoted(String(raw))}'`);
  }
  if (!start && !end && !inSequence(id)) return undefined;
  return { id, start, end };
}

/** 0 and "" mean "no sequence", as in Triton. */
export function inSequence(id: CorrelationId): boolean {
  return typeof id === 'string' ? id !== '' : id !== 0n;
}

/** A map key that keeps 5 and "5" apart. */
export function correlationKey(id: CorrelationId): string {
  return typeof id === 'string' ? `s:${id}` : `u:${id}`;
}
