/**
 * koffi, configured once before any library is loaded (it refuses changes after). koffi runs
 * synchronous calls on a stack of its own (2 MiB by default); ONNX Runtime builds sessions and runs
 * kernels on the calling thread's stack, so it gets what a native thread has by default.
 * Every module of the engine imports koffi from here.
 */
import koffi from 'koffi';

const NATIVE_STACK_BYTES = 8 * 2 ** 20;

try {
  const config = koffi.config() as { sync_stack_size: number };
  if (config.sync_stack_size < NATIVE_STACK_BYTES) koffi.config({ ...config, sync_stack_size: NATIVE_STACK_BYTES });
} catch {
  // Something loaded a library through koffi first: its settings stand.
}

export { koffi };
