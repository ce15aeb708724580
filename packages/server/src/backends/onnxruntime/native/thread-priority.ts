/**
 * Lowering the calling thread's scheduling priority (Linux: a thread's nice value is its own, set
 * with setpriority on its thread id). Run threads compute for as long as a model needs; at a lower
 * priority they still get every core the event loop does not want, but when the event-loop thread
 * wakes (a request, a health probe, a timer) it gets a core at once instead of waiting for a time
 * slice. Threads ONNX Runtime starts from a run thread (its intra-op pool, created with the session)
 * inherit the value. Elsewhere, or without the C library's gettid, nothing changes.
 */
import { setPriority } from 'node:os';
import { koffi } from './ffi.js';

/** The nice value run threads take: below the event loop, not starved by other processes' work. */
export const RUN_THREAD_NICE = 5;

export function lowerThisThreadPriority(nice: number): void {
  if (process.platform !== 'linux' || nice <= 0) return;
  try {
    // Called once per thread; the handle may go (libc itself stays loaded).
    const gettid = koffi.load('libc.so.6').func('int gettid()') as () => number;
    setPriority(gettid(), nice);
  } catch {
    // An older C library or a sandbox refusing setpriority: the thread keeps the process's priority.
  }
}
