import { create } from '@bufbuild/protobuf';
import { InferParameterSchema, type InferParameter } from '@nereid/protocol/generated/grpc_service_pb';
import { invalidArg, quoted } from '../../errors/index.js';
import type { ParameterValue, Parameters } from '../../tensor/tensor.js';

/**
 * InferParameter ↔ Parameters. Integers (int64_param, uint64_param) become JS numbers when they fit
 * in Number.MAX_SAFE_INTEGER and bigints only beyond it, so the core and backends see plain numbers
 * for every realistic priority, timeout, sequence id or custom value, and huge ids stay exact.
 * Going back, a bigint or an integral number becomes int64_param (uint64_param above the int64
 * range), any other number double_param, as Triton's core types its response parameters.
 */

const NO_PARAMETERS: Parameters = Object.freeze({});
const MAX_INT64 = (1n << 63n) - 1n;

/** Keys starting `triton_` that a request may carry (Triton's TRITON_RESERVED_REQUEST_PARAMS). */
const ENABLE_EMPTY_FINAL = 'triton_enable_empty_final_response';

export interface RequestParameters {
  readonly parameters: Parameters;
  /** `triton_enable_empty_final_response`: consumed by the stream frontend, never passed on. */
  readonly enableEmptyFinalResponse: boolean;
}

/**
 * A request's parameters, type-checked as Triton's gRPC frontend does: sequence_id int64 or string,
 * sequence_start/end bool, priority int64 (>= 0) or uint64, timeout int64, custom keys int64, bool,
 * string or double, and no `triton_` key but the reserved one.
 */
export function requestParameters(map: { readonly [key: string]: InferParameter }): RequestParameters {
  let parameters: Record<string, ParameterValue> | undefined;
  let enableEmptyFinalResponse = false;
  for (const key in map) {
    const choice = map[key]!.parameterChoice;
    if (key === ENABLE_EMPTY_FINAL) {
      if (choice.case !== 'boolParam') throw wrongType(key, 'bool_param');
      enableEmptyFinalResponse = choice.value;
      continue;
    }
    if (key.startsWith('triton_')) {
      throw invalidArg(
        "parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys " +
          `starting with 'triton_' are allowed: ${ENABLE_EMPTY_FINAL}`,
      );
    }
    checkRequestParameterType(key, choice);
    (parameters ??= {})[key] = valueOf(choice);
  }
  return { parameters: parameters ?? NO_PARAMETERS, enableEmptyFinalResponse };
}

/** A tensor's parameters (shared memory, classification, ...); the core checks their values. */
export function tensorParameters(map: { readonly [key: string]: InferParameter }): Parameters {
  let parameters: Record<string, ParameterValue> | undefined;
  for (const key in map) {
    const choice = map[key]!.parameterChoice;
    if (choice.case === undefined) throw invalidArg(`parameter '${quoted(key)}' has no value`);
    (parameters ??= {})[key] = valueOf(choice);
  }
  return parameters ?? NO_PARAMETERS;
}

/** Response parameters as InferParameter messages. */
export function inferParameters(parameters: Parameters): { [key: string]: InferParameter } {
  const map: { [key: string]: InferParameter } = {};
  for (const key in parameters) map[key] = inferParameterOf(parameters[key]!);
  return map;
}

export function inferParameterOf(value: ParameterValue): InferParameter {
  switch (typeof value) {
    case 'boolean':
      return create(InferParameterSchema, { parameterChoice: { case: 'boolParam', value } });
    case 'string':
      return create(InferParameterSchema, { parameterChoice: { case: 'stringParam', value } });
    case 'bigint':
      return create(InferParameterSchema, {
        parameterChoice: value > MAX_INT64 ? { case: 'uint64Param', value } : { case: 'int64Param', value },
      });
    case 'number':
      return create(InferParameterSchema, {
        parameterChoice: Number.isSafeInteger(value)
          ? { case: 'int64Param', value: BigInt(value) }
          : { case: 'doubleParam', value },
      });
  }
}

type Choice = InferParameter['parameterChoice'];
type SetChoice = Exclude<Choice, { case: undefined }>;

function checkRequestParameterType(key: string, choice: Choice): asserts choice is SetChoice {
  switch (key) {
    case 'sequence_id':
      if (choice.case !== 'int64Param' && choice.case !== 'stringParam') {
        throw wrongType(key, 'int64_param or string_param');
      }
      return;
    case 'sequence_start':
    case 'sequence_end':
      if (choice.case !== 'boolParam') throw wrongType(key, 'bool_param');
      return;
    case 'priority':
      if (choice.case === 'int64Param' && choice.value < 0n) {
        throw invalidArg("invalid value for 'priority', expected value >= 0.");
      }
      if (choice.case !== 'int64Param' && choice.case !== 'uint64Param') {
        throw wrongType(key, 'int64_param or uint64_param');
      }
      return;
    case 'timeout':
      if (choice.case !== 'int64Param') throw wrongType(key, 'int64_param');
      return;
    default:
      // Triton's message omits double_param although it accepts it.
      if (choice.case === undefined || choice.case === 'uint64Param') {
        throw wrongType(key, 'int64_param, bool_param, or string_param');
      }
  }
}

function valueOf(choice: SetChoice): ParameterValue {
  switch (choice.case) {
    case 'int64Param':
    case 'uint64Param':
      return toNumberIfSafe(choice.value);
    default:
      return choice.value;
  }
}

function toNumberIfSafe(value: bigint): number | bigint {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : value;
}

function wrongType(key: string, expected: string): Error {
  return invalidArg(`invalid value type for '${quoted(key)}' parameter, expected ${expected}.`);
}
