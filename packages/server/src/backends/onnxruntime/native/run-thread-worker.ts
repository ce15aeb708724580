/**
 * Entry point of a run thread: waits on its control block, calls the OrtApi function the main thread
 * named there (Run, or a session creation) with the addresses it wrote, writes back the status and
 * when the call started and ended, repeats. It touches no JS objects of the main thread, only native
 * memory the main thread keeps alive. It first lowers its own priority (see run-thread.ts).
 */
import { workerData } from 'node:worker_threads';
import { ortApi, type OrtApi } from './ort-api.js';
import { lowerThisThreadPriority } from './thread-priority.js';
import { COMPOUND_FAILED, CONTROL, NO_CALL, NativeOp, RunState, type RunThreadData } from './run-thread-protocol.js';
import { koffi } from './ffi.js';
import { fillStringTensor, readStringTensor } from './string-tensors.js';

const { control, nice } = workerData as RunThreadData;
const state = new Int32Array(control, 0, 1);
const slots = new BigInt64Array(control, 8, CONTROL.length);
const api = ortApi();
lowerThisThreadPriority(nice);

function call(api: OrtApi, op: number): unknown {
  const arg = (i: number): bigint => slots[CONTROL.args + i] ?? 0n;
  switch (op) {
    case NativeOp.Run:
      return api.Run(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7));
    case NativeOp.CreateSession:
      return api.CreateSession(arg(0), arg(1), arg(2), arg(3));
    case NativeOp.CreateSessionFromArray:
      return api.CreateSessionFromArray(arg(0), arg(1), arg(2), arg(3), arg(4));
    case NativeOp.CreateTensorAsOrtValue:
      return api.CreateTensorAsOrtValue(arg(0), arg(1), arg(2), Number(arg(3)), arg(4));
    case NativeOp.FillStringTensorFromWire:
      return compound(() => fillStringTensor(api, arg(0), view(arg(1), arg(2)), Number(arg(3))));
    case NativeOp.GetStringTensorDataLength:
      return api.GetStringTensorDataLength(arg(0), arg(1));
    case NativeOp.ReadStringTensorToWire: {
      const count = Number(arg(2));
      const total = Number(arg(3));
      return compound(() => readStringTensor(api, arg(0), view(arg(1), BigInt(4 * count + total)), count, total));
    }
    case NativeOp.ReleaseValue:
      api.ReleaseValue(arg(0));
      return 0n;
    default:
      return NO_CALL;
  }
}

/** The main thread's memory at `address` (it keeps that memory alive until the call returns). */
function view(address: bigint, length: bigint): Uint8Array {
  return length === 0n ? new Uint8Array(0) : new Uint8Array(koffi.view(address, Number(length)) as ArrayBuffer);
}

/** Runs a multi-call op; any failure becomes COMPOUND_FAILED (its OrtStatus was already released). */
function compound(work: () => void): bigint {
  try {
    work();
    return 0n;
  } catch {
    return COMPOUND_FAILED;
  }
}

for (;;) {
  let current = Atomics.load(state, 0);
  while (current !== RunState.Requested && current !== RunState.Exit) {
    Atomics.wait(state, 0, current);
    current = Atomics.load(state, 0);
  }
  if (current === RunState.Exit) break;
  const startedAt = process.hrtime.bigint();
  let status: bigint;
  try {
    status = (call(api, Number(slots[CONTROL.op])) as bigint | null) ?? 0n;
  } catch {
    // koffi refused the call (it cannot happen with the addresses the main thread writes).
    status = NO_CALL;
  }
  slots[CONTROL.status] = status;
  slots[CONTROL.startedAt] = startedAt;
  slots[CONTROL.endedAt] = process.hrtime.bigint();
  Atomics.store(state, 0, RunState.Done);
  Atomics.notify(state, 0);
}
