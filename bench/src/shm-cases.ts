import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  GRPCInferenceService,
  type InferParameterSchema,
  type ModelInferRequestSchema,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { GrpcBenchClient } from './grpc-bench-client.js';
import { httpOk, type ShmPlace } from './infer-calls.js';
import type { RegionPair } from './shm-regions.js';

/** The two frontends a case runs over. */
export type Protocol = 'HTTP' | 'gRPC';

type ParameterInit = MessageInitShape<typeof InferParameterSchema>;

/** The `shared_memory_*` parameters as tritonclient's gRPC client sets them (int64 sizes, offset only when not 0). */
function grpcShmParameters(place: ShmPlace): Record<string, ParameterInit> {
  const parameters: Record<string, ParameterInit> = {
    shared_memory_region: { parameterChoice: { case: 'stringParam', value: place.region } },
    shared_memory_byte_size: { parameterChoice: { case: 'int64Param', value: BigInt(place.byteSize) } },
  };
  if (place.offset) parameters['shared_memory_offset'] = { parameterChoice: { case: 'int64Param', value: BigInt(place.offset) } };
  return parameters;
}

/**
 * A one-input one-output FP32 ModelInfer request (INPUT0 -> OUTPUT0): the input bytes as
 * raw_input_contents, or input and output placed in shared-memory regions.
 */
export function grpcInferInit(
  model: string,
  shape: readonly number[],
  tensor: { readonly data: Uint8Array } | { readonly shm: { readonly input: ShmPlace; readonly output: ShmPlace } },
): MessageInitShape<typeof ModelInferRequestSchema> {
  const dims = shape.map(BigInt);
  if ('data' in tensor) {
    return {
      modelName: model,
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: dims }],
      outputs: [{ name: 'OUTPUT0' }],
      rawInputContents: [tensor.data],
    };
  }
  return {
    modelName: model,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: dims, parameters: grpcShmParameters(tensor.shm.input) }],
    outputs: [{ name: 'OUTPUT0', parameters: grpcShmParameters(tensor.shm.output) }],
  };
}

function regionsOf(pairs: readonly RegionPair[]): { name: string; key: string; byteSize: number }[] {
  return pairs.flatMap((pair) => [
    { name: pair.inputName, key: pair.input.key, byteSize: pair.input.byteSize },
    { name: pair.outputName, key: pair.output.key, byteSize: pair.output.byteSize },
  ]);
}

/** POST /v2/systemsharedmemory/region/<name>/register for every region of `pairs`. */
export async function registerHttp(port: number, pairs: readonly RegionPair[]): Promise<void> {
  for (const region of regionsOf(pairs)) {
    const body = Buffer.from(JSON.stringify({ key: region.key, offset: 0, byte_size: region.byteSize }));
    await httpOk(port, 'POST', `/v2/systemsharedmemory/region/${region.name}/register`, body, { 'Content-Type': 'application/json' });
  }
}

/** POST /v2/systemsharedmemory/region/<name>/unregister for every region of `pairs`. */
export async function unregisterHttp(port: number, pairs: readonly RegionPair[]): Promise<void> {
  for (const region of regionsOf(pairs)) await httpOk(port, 'POST', `/v2/systemsharedmemory/region/${region.name}/unregister`);
}

/** SystemSharedMemoryRegister for every region of `pairs`. */
export async function registerGrpc(client: GrpcBenchClient, pairs: readonly RegionPair[]): Promise<void> {
  for (const region of regionsOf(pairs)) {
    await client.call(GRPCInferenceService.method.systemSharedMemoryRegister, {
      name: region.name,
      key: region.key,
      offset: 0n,
      byteSize: BigInt(region.byteSize),
    });
  }
}

/** SystemSharedMemoryUnregister for every region of `pairs`. */
export async function unregisterGrpc(client: GrpcBenchClient, pairs: readonly RegionPair[]): Promise<void> {
  for (const region of regionsOf(pairs)) {
    await client.call(GRPCInferenceService.method.systemSharedMemoryUnregister, { name: region.name });
  }
}
