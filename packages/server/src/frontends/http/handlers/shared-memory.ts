import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArg } from '../../../errors/index.js';
import { jsonTooLarge, readBody } from '../body.js';
import { checkCudaRegistration, decodeCudaHandle } from '../../cuda-registration.js';
import { NOT_STRING, NOT_UINT, asSize, asString, isUInt, member } from '../codec/json-fields.js';
import { JsonBytes, parseJson, type JsonValue } from '../codec/json-parse.js';
import type { HttpContext } from '../context.js';
import { JSON_TYPE, sendEmpty, sendJson } from '../reply.js';

/**
 * The shared-memory extensions: `/v2/{system,cuda}sharedmemory[/region/{name}]/{status,register,
 * unregister}`. The core owns the regions (and the `--allow-client-shm` switch); these handlers parse
 * bodies with Triton's wording and serialise its answers.
 */

async function readRequiredJson(http: HttpContext, req: IncomingMessage): Promise<JsonValue> {
  const limit = http.options.maxInputSize;
  // Like Triton, an empty body is a parse error ("The document is empty.").
  return parseJson(await readBody(req, limit, jsonTooLarge(limit)));
}

function required(request: JsonValue, key: string): JsonValue {
  const value = member(request, key);
  if (value === undefined) throw invalidArg(`Shared memory register request has no '${key}' field`);
  return value;
}

// TritonJson's accessor messages, unprefixed as the CUDA register handler passes them on.
function tritonJsonMember(object: JsonValue, key: string): JsonValue {
  const value = member(object, key);
  if (value === undefined) throw invalidArg(`attempt to access non-existing object member '${key}'`);
  return value;
}

function tritonJsonString(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof JsonBytes) return Buffer.from(value.bytes).toString('latin1');
  throw invalidArg(NOT_STRING);
}

function tritonJsonUInt(value: JsonValue): number | bigint {
  if (!isUInt(value)) throw invalidArg(NOT_UINT);
  return value;
}

export function handleSystemShmStatus(http: HttpContext, _req: IncomingMessage, res: ServerResponse, params: readonly string[]): void {
  sendJson(res, 200, JSON.stringify(http.core.systemSharedMemoryStatus(params[0] ?? '')));
}

export async function handleSystemShmRegister(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  const region = params[0] ?? '';
  if (region === '') throw invalidArg("'region name' is necessary to register system shared memory region");
  const request = await readRequiredJson(http, req);
  const key = asString(required(request, 'key'), "Unable to parse 'key'");
  const offsetValue = member(request, 'offset');
  const offset = offsetValue === undefined ? 0 : asSize(offsetValue, "Unable to parse 'offset'");
  const byteSize = asSize(required(request, 'byte_size'), "Unable to parse 'byte_size'");
  http.core.registerSystemSharedMemory(region, key, offset, byteSize);
  sendEmpty(res, 200, JSON_TYPE);
}

export function handleSystemShmUnregister(http: HttpContext, _req: IncomingMessage, res: ServerResponse, params: readonly string[]): void {
  http.core.unregisterSystemSharedMemory(params[0] ?? '');
  sendEmpty(res, 200, JSON_TYPE);
}

export function handleCudaShmStatus(http: HttpContext, _req: IncomingMessage, res: ServerResponse, params: readonly string[]): void {
  sendJson(res, 200, JSON.stringify(http.core.cudaSharedMemoryStatus(params[0] ?? '')));
}

export async function handleCudaShmRegister(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  const region = params[0] ?? '';
  if (region === '') throw invalidArg("'region name' is necessary to register cuda shared memory region");
  const request = await readRequiredJson(http, req);
  // Triton's order and texts: raw_handle.b64, byte_size, device_id (TritonJson's own messages, no
  // prefix), then the decoded handle size, then the region arguments.
  const b64 = tritonJsonString(tritonJsonMember(required(request, 'raw_handle'), 'b64'));
  const byteSize = tritonJsonUInt(tritonJsonMember(request, 'byte_size'));
  const deviceId = tritonJsonUInt(tritonJsonMember(request, 'device_id'));
  const cuda = checkCudaRegistration(region, decodeCudaHandle(b64), deviceId, byteSize);
  http.core.registerCudaSharedMemory(cuda.name, cuda.rawHandle, cuda.deviceId, cuda.byteSize);
  sendEmpty(res, 200, JSON_TYPE);
}

export function handleCudaShmUnregister(http: HttpContext, _req: IncomingMessage, res: ServerResponse, params: readonly string[]): void {
  http.core.unregisterCudaSharedMemory(params[0] ?? '');
  sendEmpty(res, 200, JSON_TYPE);
}
