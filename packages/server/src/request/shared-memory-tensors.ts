import { invalidArg, internal, quoted } from '../errors/index.js';
import type { RegionHandle, SystemSharedMemoryManager } from '../shm/system-shared-memory.js';
import type { Parameters } from '../tensor/tensor.js';
import type { InferRequestInit, InputTensorInit } from './infer-request-init.js';
import type { OutputTensor } from './infer-response.js';

/** A tensor's place in a registered region, from its `shared_memory_*` parameters. */
interface ShmLocation {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
}

/** Reads the `shared_memory_*` parameters of a tensor; undefined when it does not use shared memory. */
export function shmLocation(parameters: Parameters, tensor: string): ShmLocation | undefined {
  const region = parameters['shared_memory_region'];
  if (region === undefined) return undefined;
  if (typeof region !== 'string' || region === '') {
    throw invalidArg(`Unable to parse 'shared_memory_region' of tensor '${quoted(tensor)}'`);
  }
  const byteSize = unsigned(parameters['shared_memory_byte_size'], 'shared_memory_byte_size', tensor);
  if (byteSize === undefined) {
    throw invalidArg(`tensor '${quoted(tensor)}' sets 'shared_memory_region' but no 'shared_memory_byte_size'`);
  }
  return { region, offset: unsigned(parameters['shared_memory_offset'], 'shared_memory_offset', tensor) ?? 0, byteSize };
}

function unsigned(value: unknown, key: string, tensor: string): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw invalidArg(`Unable to parse '${quoted(key)}' of tensor '${quoted(tensor)}'`);
  }
  return number;
}

/**
 * The regions one request borrows. Inputs are read once when the request arrives; outputs are written
 * when the response is ready; `release` returns every region, so an unregister that happened meanwhile
 * takes effect only then.
 */
export class SharedMemoryBinding {
  readonly #manager: SystemSharedMemoryManager;
  readonly #handles = new Map<string, RegionHandle>();

  constructor(manager: SystemSharedMemoryManager) {
    this.#manager = manager;
  }

  /** The request with shared-memory inputs replaced by their bytes; the same object when none use it. */
  resolveInputs(init: InferRequestInit): InferRequestInit {
    let changed = false;
    const inputs = init.inputs.map((input): InputTensorInit => {
      const location = shmLocation(input.parameters, input.name);
      if (!location) return input;
      changed = true;
      return { ...input, data: this.#handle(location.region).read(location.offset, location.byteSize) };
    });
    for (const output of init.outputs ?? []) {
      const location = shmLocation(output.parameters, output.name);
      if (location) this.#handle(location.region);
    }
    return changed ? { ...init, inputs } : init;
  }

  /** Writes outputs requested into shared memory; they come back with empty data. */
  writeOutputs(outputs: readonly OutputTensor[]): OutputTensor[] {
    return outputs.map((output) => {
      const location = shmLocation(output.parameters, output.name);
      if (!location) return output;
      if (output.data.byteLength > location.byteSize) {
        throw internal(
          `shared memory size specified with the request for output '${quoted(output.name)}' (${location.byteSize} bytes) ` +
            `should be at least ${output.data.byteLength} bytes to hold the results`,
        );
      }
      this.#handle(location.region).write(location.offset, output.data);
      return { ...output, data: EMPTY };
    });
  }

  release(): void {
    for (const handle of this.#handles.values()) handle.release();
    this.#handles.clear();
  }

  #handle(region: string): RegionHandle {
    let handle = this.#handles.get(region);
    if (!handle) {
      handle = this.#manager.acquire(region);
      this.#handles.set(region, handle);
    }
    return handle;
  }
}

const EMPTY = new Uint8Array(0);

/** True when any tensor of the request names a shared-memory region (the common case is none). */
export function usesSharedMemory(init: InferRequestInit): boolean {
  return (
    init.inputs.some((input) => input.parameters['shared_memory_region'] !== undefined) ||
    (init.outputs ?? []).some((output) => output.parameters['shared_memory_region'] !== undefined)
  );
}
