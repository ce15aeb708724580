/**
 * Native memory helpers: copying native memory into JS Buffers, and giving freed heap back.
 *
 * Copying: koffi.view wraps an address in an external ArrayBuffer,
 * which costs ~1.4 µs a call (finalizer and all); the C library's memcpy called through koffi costs
 * ~60 ns. memcpy is looked up in the platform's C library, with koffi.view as the fallback.
 */
import { koffi } from './ffi.js';
import type { Pointer } from './ort-api.js';
import { registerTrimmer } from '../../../util/memory-relief.js';

type Memcpy = (destination: Uint8Array, source: Pointer, length: number) => unknown;
type MallocTrim = ((pad: number) => unknown) & { async: (pad: number, done: (error: unknown, result: unknown) => void) => void };

const C_LIBRARIES: Readonly<Partial<Record<NodeJS.Platform, string>>> = {
  linux: 'libc.so.6',
  darwin: '/usr/lib/libSystem.B.dylib',
  win32: 'msvcrt.dll',
};

/** The C library's handle, kept referenced: koffi unloads a library whose handle is collected. */
let cLibrary: ReturnType<typeof koffi.load> | undefined;

function cFunction<T>(declaration: string): T | undefined {
  const name = C_LIBRARIES[process.platform];
  if (name === undefined) return undefined;
  try {
    cLibrary ??= koffi.load(name);
    return cLibrary.func(declaration) as T;
  } catch {
    return undefined;
  }
}

const memcpy = cFunction<Memcpy>('void* memcpy(void* destination, void* source, size_t length)');
/** glibc only: elsewhere (musl, macOS, Windows) the allocator's own policy stands. */
const mallocTrim = cFunction<MallocTrim>('int malloc_trim(size_t pad)');

/**
 * Gives the heap memory freed by every thread's malloc arena back to the system. Loading a model on
 * a run thread leaves the file's bytes and its parsed protobuf freed but kept in that thread's
 * arena (~65 MiB kept for a 64 MiB model in the engine benchmark); called once a session is created,
 * and after very large requests (util/memory-relief.ts). It runs on libuv's pool (koffi's async
 * call): walking arenas of hundreds of MiB takes tens of ms, too long for the event loop.
 */
export function releaseFreedHeap(): void {
  if (mallocTrim === undefined) return;
  try {
    mallocTrim.async(0, () => {});
  } catch {
    mallocTrim(0);
  }
}
registerTrimmer(releaseFreedHeap);

/** glibc's mallopt parameters (malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Allocations up to this size come from the heap (glibc's ceiling for the setting on 64-bit). */
const HEAP_ALLOCATION_LIMIT = 32 * 1024 * 1024;
/**
 * Free memory at the heap's top beyond this goes back to the system at once. Measured: 64 MiB
 * (twice the allocation limit, as glibc's dynamic setting would be) halved the 4 MiB gain, as the
 * heap top kept being trimmed and refaulted; memory-relief.ts trims after very large requests.
 */
const HEAP_TRIM_THRESHOLD = 256 * 1024 * 1024;
const mallopt = cFunction<(parameter: number, value: number) => number>('int mallopt(int parameter, int value)');

/**
 * Lets tensor-sized buffers be reused instead of mapped fresh. By default glibc serves every block
 * over 128 KiB (its threshold grows to at most 32 MiB, and only after such a block is freed) with a
 * new mmap, so each request's body, aligned copies and output copies of a few MiB page-fault their
 * way in and are unmapped again: on this project's 2-core VM that made a 4 MiB identity request
 * cost ~20 ms over HTTP and ~60 ms over gRPC. From the heap, the pages stay mapped between
 * requests; measured in one run with h2load, 4 MiB identity went from 48–52 to 186–193 req/s over
 * HTTP and from 17 to 44–45 over gRPC. Memory freed below the heap's top stays until trimmed: after
 * very large requests util/memory-relief.ts trims it. glibc only (elsewhere mallopt is absent).
 */
function reuseTensorSizedBlocks(): void {
  if (mallopt === undefined || process.platform !== 'linux') return;
  mallopt(M_MMAP_THRESHOLD, HEAP_ALLOCATION_LIMIT);
  mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD);
}
reuseTensorSizedBlocks();

/** releaseFreedHeap, done before returning (for measurements that read RSS right after). */
export function releaseFreedHeapNow(): void {
  mallocTrim?.(0);
}

/** Copies `length` bytes at `source` into `destination` (which must hold them). */
export function copyFromNative(destination: Uint8Array, source: Pointer, length: number): void {
  if (length === 0) return;
  if (memcpy !== undefined) memcpy(destination, source, length);
  else destination.set(new Uint8Array(koffi.view(source, length) as ArrayBuffer));
}

/** Copies `source` into native memory at `destination` (which must hold it). */
export function copyToNative(destination: Pointer, source: Uint8Array): void {
  if (source.byteLength === 0) return;
  new Uint8Array(koffi.view(destination, source.byteLength) as ArrayBuffer).set(source);
}
