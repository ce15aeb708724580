import { createHash } from 'node:crypto';
import type { InferenceRequest } from '../request/inference-request.js';
import type { ParameterValue, Parameters } from '../tensor/tensor.js';

/**
 * Request parameters that never change what the model computes: scheduling (`priority`, `timeout`)
 * and how outputs are encoded (`binary_data_output`). Every other request parameter is part of the
 * key, so a parameter a backend might read can only lower the hit rate, never return a wrong answer.
 */
const PARAMETERS_OUTSIDE_KEY: ReadonlySet<string> = new Set(['priority', 'timeout', 'binary_data_output']);

/** Which loaded model a key belongs to. `generation` tells apart two loads of one version. */
export interface CacheScope {
  readonly modelName: string;
  readonly version: bigint;
  readonly generation: number;
}

/**
 * The response-cache key of a normalised request: SHA-256 over the model (name, version, load
 * generation), every input (in name order: name, datatype, backend shape, byte length, bytes), the
 * requested output names (sorted; the backend computes only those) and the request parameters that
 * may change the result. Triton hashes model name, version and input names and bytes; datatype,
 * shape, outputs and parameters are added here so that no two requests with different answers share
 * a key. A SHA-256 collision is the only way two such requests could meet, so entries do not keep
 * the inputs to compare against.
 */
export function responseCacheKey(scope: CacheScope, request: InferenceRequest): string {
  const inputs = [...request.inputs].sort((a, b) => compareCodeUnits(a.name, b.name));
  // One JSON header names every field and length, so the bytes that follow it cannot be read two
  // ways; the header's own length leads the hash input.
  const header = Buffer.from(
    JSON.stringify([
      'nereid-response-cache/1',
      scope.modelName,
      String(scope.version),
      scope.generation,
      inputs.map((input) => [input.name, input.datatype, input.shape, input.data.byteLength]),
      request.requestedOutputs.map((output) => output.name).sort(compareCodeUnits),
      keyedParameters(request.parameters),
    ]),
    'utf8',
  );
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32LE(header.byteLength);
  const hash = createHash('sha256').update(length).update(header);
  for (const input of inputs) hash.update(input.data);
  return hash.digest('base64');
}

/**
 * Parameters in the key, sorted by name, each with its type so `1`, `true` and `"1"` differ (an
 * integer is one type whether a frontend decoded it as a number or a bigint).
 */
function keyedParameters(parameters: Parameters): [string, string, string][] {
  return Object.keys(parameters)
    .filter((name) => !PARAMETERS_OUTSIDE_KEY.has(name))
    .sort(compareCodeUnits)
    .map((name) => {
      const value: ParameterValue = parameters[name]!;
      return [name, typeof value === 'bigint' ? 'number' : typeof value, String(value)];
    });
}

/** A total order independent of locale (Triton orders inputs with std::map<std::string>). */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
