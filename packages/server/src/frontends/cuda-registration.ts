import { invalidArg } from '../errors/index.js';

/**
 * Argument checks for CUDA shared-memory registration, shared by the HTTP and gRPC frontends and
 * done before the core answers that CUDA memory is unsupported, so a client learns about a
 * malformed request the way Triton tells it (shared_memory_manager.cc / http_server.cc), not only
 * that the server has no GPU.
 */

/** Bytes of a serialized cudaIpcMemHandle_t (CUDA_IPC_HANDLE_SIZE). */
export const CUDA_IPC_HANDLE_SIZE = 64;

const INT32_MAX = 2 ** 31 - 1;

/** Arguments that passed the checks, as the core takes them. */
export interface CudaRegistration {
  readonly name: string;
  readonly rawHandle: Uint8Array;
  readonly deviceId: number;
  readonly byteSize: number;
}

/**
 * Checks the handle, device and size. Triton reports a handle or device it cannot open with
 * "failed to register shared memory region: invalid args" and a size it cannot address with the
 * region's name; device ids are C ints there, so anything outside [0, INT32_MAX] cannot name one.
 */
export function checkCudaRegistration(
  name: string,
  rawHandle: Uint8Array,
  deviceId: number | bigint,
  byteSize: number | bigint,
): CudaRegistration {
  if (rawHandle.byteLength !== CUDA_IPC_HANDLE_SIZE || deviceId < 0 || deviceId > INT32_MAX) {
    throw invalidArg('failed to register shared memory region: invalid args');
  }
  if (byteSize < 0 || byteSize > Number.MAX_SAFE_INTEGER) {
    throw invalidArg(`failed to register shared memory region '${name}': invalid args`);
  }
  return { name, rawHandle, deviceId: Number(deviceId), byteSize: Number(byteSize) };
}

/**
 * The HTTP `raw_handle.b64` text as a handle. Like Triton, a decoded size other than a
 * cudaIpcMemHandle_t is refused with its own message before the region is looked at.
 */
export function decodeCudaHandle(b64: string): Uint8Array {
  const handle = Buffer.from(b64, 'base64');
  if (handle.byteLength !== CUDA_IPC_HANDLE_SIZE) {
    throw invalidArg("'raw_handle' must be a valid base64 encoded cudaIpcMemHandle_t");
  }
  return handle;
}
