/**
 * ONNX Runtime's C API, called through koffi (an FFI whose npm package ships prebuilt binaries).
 *
 * onnxruntime-node ships the runtime library in its `bin/` folder; its one exported entry point,
 * `OrtGetApiBase`, hands out `OrtApi`: a table of function pointers that ONNX Runtime only ever appends
 * to. Each entry this engine uses is declared below by its index in that table and its C signature,
 * from the public ABI (onnxruntime_c_api.h). No header is needed at build time, but a wrong index or
 * signature crashes the process: the versions are pinned (package.json) and `selfTest` runs a model
 * before the engine is used.
 *
 * Pointers are koffi's BigInt addresses (`null` for NULL); out-parameters are written into small
 * Buffers. Loaded once per JS thread: the main thread and every run thread (see run-thread.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { koffi } from './ffi.js';

/** A native address as koffi returns it; `null` is NULL. */
export type Pointer = bigint;
export type NullablePointer = Pointer | null;
/** What koffi accepts where C takes a pointer: an address, or memory a Buffer/TypedArray holds. */
export type PointerArg = Pointer | null | number | ArrayBufferView;

/** The OrtApi version the table below is written against (ONNX Runtime 1.23); the runtime must have it. */
export const ORT_API_VERSION = 23;

/** OrtApi index and C signature (name left out) of every entry this engine calls. */
const ENTRIES = {
  GetErrorCode: [1, 'int (void* status)'],
  GetErrorMessage: [2, 'const char* (void* status)'],
  CreateEnv: [3, 'void* (int level, const char* logid, void* out)'],
  CreateSession: [7, 'void* (void* env, const char* path, void* options, void* out)'],
  CreateSessionFromArray: [8, 'void* (void* env, void* data, size_t length, void* options, void* out)'],
  Run: [
    9,
    'void* (void* session, void* runOptions, void* inputNames, void* inputs, size_t inputCount, ' +
      'void* outputNames, size_t outputCount, void* outputs)',
  ],
  CreateSessionOptions: [10, 'void* (void* out)'],
  SetSessionExecutionMode: [13, 'void* (void* options, int mode)'],
  EnableMemPattern: [16, 'void* (void* options)'],
  DisableMemPattern: [17, 'void* (void* options)'],
  EnableCpuMemArena: [18, 'void* (void* options)'],
  DisableCpuMemArena: [19, 'void* (void* options)'],
  SetSessionLogSeverityLevel: [22, 'void* (void* options, int level)'],
  SetSessionGraphOptimizationLevel: [23, 'void* (void* options, int level)'],
  SetIntraOpNumThreads: [24, 'void* (void* options, int count)'],
  SetInterOpNumThreads: [25, 'void* (void* options, int count)'],
  SessionGetInputCount: [30, 'void* (void* session, void* out)'],
  SessionGetOutputCount: [31, 'void* (void* session, void* out)'],
  SessionGetOverridableInitializerCount: [32, 'void* (void* session, void* out)'],
  SessionGetInputTypeInfo: [33, 'void* (void* session, size_t index, void* out)'],
  SessionGetOutputTypeInfo: [34, 'void* (void* session, size_t index, void* out)'],
  SessionGetOverridableInitializerTypeInfo: [35, 'void* (void* session, size_t index, void* out)'],
  SessionGetInputName: [36, 'void* (void* session, size_t index, void* allocator, void* out)'],
  SessionGetOutputName: [37, 'void* (void* session, size_t index, void* allocator, void* out)'],
  SessionGetOverridableInitializerName: [38, 'void* (void* session, size_t index, void* allocator, void* out)'],
  CreateRunOptions: [39, 'void* (void* out)'],
  RunOptionsSetRunLogSeverityLevel: [41, 'void* (void* options, int level)'],
  CreateTensorAsOrtValue: [48, 'void* (void* allocator, void* shape, size_t rank, int type, void* out)'],
  CreateTensorWithDataAsOrtValue: [
    49,
    'void* (void* memoryInfo, void* data, size_t length, void* shape, size_t rank, int type, void* out)',
  ],
  GetTensorMutableData: [51, 'void* (void* value, void* out)'],
  FillStringTensor: [52, 'void* (void* value, void* strings, size_t count)'],
  GetStringTensorDataLength: [53, 'void* (void* value, void* out)'],
  GetStringTensorContent: [54, 'void* (void* value, void* bytes, size_t length, void* offsets, size_t count)'],
  CastTypeInfoToTensorInfo: [55, 'void* (void* typeInfo, void* out)'],
  GetOnnxTypeFromTypeInfo: [56, 'void* (void* typeInfo, void* out)'],
  GetTensorElementType: [60, 'void* (void* info, void* out)'],
  GetDimensionsCount: [61, 'void* (void* info, void* out)'],
  GetDimensions: [62, 'void* (void* info, void* dims, size_t count)'],
  GetTensorTypeAndShape: [65, 'void* (void* value, void* out)'],
  CreateCpuMemoryInfo: [69, 'void* (int allocatorType, int memType, void* out)'],
  AllocatorFree: [76, 'void* (void* allocator, void* p)'],
  GetAllocatorWithDefaultOptions: [78, 'void* (void* out)'],
  ReleaseStatus: [93, 'void (void* p)'],
  ReleaseSession: [95, 'void (void* p)'],
  ReleaseValue: [96, 'void (void* p)'],
  ReleaseRunOptions: [97, 'void (void* p)'],
  ReleaseTypeInfo: [98, 'void (void* p)'],
  ReleaseTensorTypeAndShapeInfo: [99, 'void (void* p)'],
  ReleaseSessionOptions: [100, 'void (void* p)'],
  AddSessionConfigEntry: [130, 'void* (void* options, const char* key, const char* value)'],
  AddRunConfigEntry: [165, 'void* (void* options, const char* key, const char* value)'],
  GetResizedStringTensorElementBuffer: [252, 'void* (void* value, size_t index, size_t length, void* out)'],
  GetBuildInfoString: [254, 'const char* ()'],
} as const satisfies Record<string, readonly [number, string]>;

type EntryName = keyof typeof ENTRIES;
/** A koffi function: returns an OrtStatus* (null when OK), a string, or nothing. */
export type NativeFunction = ((...args: Array<PointerArg | string | bigint>) => unknown) & {
  /** The same call on a libuv thread-pool thread; the callback gets (error, result). */
  async(...args: unknown[]): void;
};
export type OrtApi = { readonly [K in EntryName]: NativeFunction } & {
  /** The runtime's version, e.g. "1.30.0". */
  readonly version: string;
  /** Path of the loaded runtime library. */
  readonly libraryPath: string;
};

let loaded: OrtApi | undefined;
/**
 * koffi unloads a library (dlclose) when its handle is garbage-collected, and every function pointer
 * into it dangles after that: the handles stay referenced for the life of the thread.
 */
const libraries: unknown[] = [];

/** The runtime's C API for this thread (loaded on first use). Throws when it cannot be reached. */
export function ortApi(): OrtApi {
  loaded ??= loadOrtApi(runtimeLibraryPath());
  return loaded;
}

/**
 * The ONNX Runtime library inside the installed onnxruntime-node package
 * (`bin/napi-v*\/<platform>/<arch>/`), the same file onnxruntime-node's own binding loads.
 */
export function runtimeLibraryPath(): string {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const bin = path.join(root, 'bin');
  const napi = existsSync(bin) ? readdirSync(bin).filter((name) => name.startsWith('napi-v')) : [];
  for (const folder of napi.sort().reverse()) {
    const dir = path.join(bin, folder, process.platform, process.arch);
    if (!existsSync(dir)) continue;
    const library = readdirSync(dir).find((name) =>
      /^(lib)?onnxruntime(\.\d+)*\.(so(\.\d+)*|dylib|dll)$/.test(name),
    );
    if (library !== undefined) return path.join(dir, library);
  }
  throw new Error(
    `onnxruntime-node ships no ONNX Runtime library for ${process.platform}/${process.arch} under ${bin}`,
  );
}

function loadOrtApi(libraryPath: string): OrtApi {
  const library = koffi.load(libraryPath);
  libraries.push(library);
  const getApiBase = library.func('void* OrtGetApiBase()');
  const base = getApiBase() as NullablePointer;
  if (base === null) throw new Error(`OrtGetApiBase returned NULL in ${libraryPath}`);
  const [getApiAddress, versionAddress] = koffi.decode(base, 'void*', 2) as [Pointer, Pointer];
  const version = koffi.decode(versionAddress, koffi.proto('const char* OrtGetVersionString()'))() as string;
  const getApi = koffi.decode(getApiAddress, koffi.proto('void* OrtGetApi(uint32_t version)'));
  const table = getApi(ORT_API_VERSION) as NullablePointer;
  if (table === null) {
    throw new Error(`ONNX Runtime ${version} at ${libraryPath} does not offer C API version ${ORT_API_VERSION}`);
  }
  const size = Math.max(...Object.values(ENTRIES).map(([index]) => index)) + 1;
  const addresses = koffi.decode(table, 'void*', size) as NullablePointer[];
  const functions: Record<string, unknown> = { version, libraryPath };
  for (const [name, [index, signature]] of Object.entries(ENTRIES)) {
    const address = addresses[index];
    if (address === null || address === undefined) {
      throw new Error(`ONNX Runtime ${version}: OrtApi entry ${index} (${name}) is NULL`);
    }
    const prototype = koffi.proto(signature.replace('(', ` Ort${name}(`));
    functions[name] = koffi.decode(address, prototype);
  }
  return functions as OrtApi;
}
