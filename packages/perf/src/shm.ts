import { rmSync, writeFileSync } from 'node:fs';
import type { InferInput, RequestedOutput } from '@nereid/client';
import type { Connection, ModelInfo } from './connection.js';
import type { PreparedRequests } from './inputs.js';
import { GENERIC_ERROR, PerfError } from './types.js';

/**
 * --shared-memory system: every input of every data step, and every output, in a POSIX shared-memory
 * object (a file under /dev/shm) registered with the server, as perf_analyzer does; the requests then
 * carry only region references. `release()` unregisters the regions and removes the files.
 */
export interface SharedMemoryRequests {
  /** One entry per data step. */
  readonly inputs: InferInput[][];
  readonly outputs: RequestedOutput[];
  release(): Promise<void>;
}

export async function setUpSystemSharedMemory(connection: Connection, info: ModelInfo, requests: PreparedRequests, outputByteSize: number): Promise<SharedMemoryRequests> {
  const tag = `nereid_perf_${process.pid}_${Date.now().toString(36)}`;
  const regions: Array<{ name: string; path: string }> = [];
  const release = async (): Promise<void> => {
    for (const region of regions) {
      await connection.client.unregisterSystemSharedMemory(region.name).catch(() => undefined);
      rmSync(region.path, { force: true });
    }
  };
  const create = async (name: string, bytes: Uint8Array): Promise<void> => {
    const key = `/${tag}_${name}`;
    const path = `/dev/shm${key}`;
    try {
      writeFileSync(path, bytes);
    } catch (error) {
      throw new PerfError(`failed to create shared memory region ${key}: ${(error as Error).message}`, GENERIC_ERROR);
    }
    regions.push({ name: `${tag}_${name}`, path });
    try {
      await connection.client.registerSystemSharedMemory(`${tag}_${name}`, key, bytes.byteLength);
    } catch (error) {
      throw new PerfError(`failed to register shared memory region ${key}: ${(error as Error).message}`, GENERIC_ERROR);
    }
  };
  try {
    const inputs: InferInput[][] = [];
    for (const [step, list] of requests.entries()) {
      const stepInputs: InferInput[] = [];
      for (const input of list) {
        const name = `in_${step}_${input.name}`;
        // A zero-byte region cannot be mapped: keep at least one byte behind an empty tensor.
        await create(name, input.bytes.byteLength === 0 ? new Uint8Array(1) : input.bytes);
        stepInputs.push({ name: input.name, datatype: input.datatype, shape: input.shape, sharedMemory: { region: `${tag}_${name}`, byteSize: input.bytes.byteLength } });
      }
      inputs.push(stepInputs);
    }
    const outputs: RequestedOutput[] = [];
    for (const output of info.metadata.outputs) {
      const name = `out_${output.name}`;
      await create(name, new Uint8Array(outputByteSize));
      outputs.push({ name: output.name, sharedMemory: { region: `${tag}_${name}`, byteSize: outputByteSize } });
    }
    return { inputs, outputs, release };
  } catch (error) {
    await release();
    throw error;
  }
}
