import { create } from '@bufbuild/protobuf';
import {
  CudaSharedMemoryRegisterResponseSchema,
  CudaSharedMemoryStatusResponseSchema,
  CudaSharedMemoryUnregisterResponseSchema,
  SystemSharedMemoryRegisterResponseSchema,
  SystemSharedMemoryStatusResponseSchema,
  SystemSharedMemoryUnregisterResponseSchema,
  type CudaSharedMemoryRegisterRequest,
  type CudaSharedMemoryRegisterResponse,
  type CudaSharedMemoryStatusResponse,
  type CudaSharedMemoryStatusResponse_RegionStatus,
  type SystemSharedMemoryRegisterRequest,
  type SystemSharedMemoryRegisterResponse,
  type SystemSharedMemoryStatusResponse,
  type SystemSharedMemoryStatusResponse_RegionStatus,
  type SystemSharedMemoryUnregisterResponse,
  type CudaSharedMemoryUnregisterResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import { invalidArg } from '../../errors/index.js';
import { checkCudaRegistration } from '../cuda-registration.js';

/**
 * The shared-memory extension over gRPC: status answers a map keyed by region name; register and
 * unregister (`name` '' = all) go straight to the core, which enforces --allow-client-shm.
 */

type RegionInit<T> = Omit<T, '$typeName' | '$unknown'>;

export function systemSharedMemoryStatus(core: InferenceCore, name: string): SystemSharedMemoryStatusResponse {
  const regions: Record<string, RegionInit<SystemSharedMemoryStatusResponse_RegionStatus>> = {};
  for (const region of core.systemSharedMemoryStatus(name)) {
    regions[region.name] = {
      name: region.name,
      key: region.key,
      offset: BigInt(region.offset),
      byteSize: BigInt(region.byte_size),
    };
  }
  return create(SystemSharedMemoryStatusResponseSchema, { regions });
}

export function systemSharedMemoryRegister(
  core: InferenceCore,
  request: SystemSharedMemoryRegisterRequest,
): SystemSharedMemoryRegisterResponse {
  core.registerSystemSharedMemory(
    request.name,
    request.key,
    safeNumber(request.offset, 'offset'),
    safeNumber(request.byteSize, 'byte_size'),
  );
  return create(SystemSharedMemoryRegisterResponseSchema);
}

export function systemSharedMemoryUnregister(core: InferenceCore, name: string): SystemSharedMemoryUnregisterResponse {
  core.unregisterSystemSharedMemory(name);
  return create(SystemSharedMemoryUnregisterResponseSchema);
}

export function cudaSharedMemoryStatus(core: InferenceCore, name: string): CudaSharedMemoryStatusResponse {
  const regions: Record<string, RegionInit<CudaSharedMemoryStatusResponse_RegionStatus>> = {};
  for (const region of core.cudaSharedMemoryStatus(name)) {
    regions[region.name] = {
      name: region.name,
      deviceId: BigInt(region.device_id),
      byteSize: BigInt(region.byte_size),
    };
  }
  return create(CudaSharedMemoryStatusResponseSchema, { regions });
}

export function cudaSharedMemoryRegister(
  core: InferenceCore,
  request: CudaSharedMemoryRegisterRequest,
): CudaSharedMemoryRegisterResponse {
  const cuda = checkCudaRegistration(request.name, request.rawHandle, request.deviceId, request.byteSize);
  core.registerCudaSharedMemory(cuda.name, cuda.rawHandle, cuda.deviceId, cuda.byteSize);
  return create(CudaSharedMemoryRegisterResponseSchema);
}

export function cudaSharedMemoryUnregister(core: InferenceCore, name: string): CudaSharedMemoryUnregisterResponse {
  core.unregisterCudaSharedMemory(name);
  return create(CudaSharedMemoryUnregisterResponseSchema);
}

/** A uint64/int64 field as a number; offsets and sizes past 2^53 cannot address memory here. */
function safeNumber(value: bigint, field: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw invalidArg(`'${field}' ${value} is out of range`);
  return number;
}
