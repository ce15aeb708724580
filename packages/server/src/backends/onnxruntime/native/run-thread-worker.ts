/**
 * Entry point of a run thread: waits on its control block, calls the OrtApi function the main thread
 * named there (Run, or a session creation) with the addresses it wrote, writes back the status and
 * when the call started and ended, repeats. It touches no JS objects of the main thread, only native
 * memory the main thread keeps alive. It first lowers its own priority (see run-thread.ts).
 */
import { workerData } from 'node:worker_threads';
import { ortApi, type OrtApi } from './ort-api.js';
import { lowerThisThreadPriority } from './thread-priority.js';
import { CONTROL, NO_CALL, NativeOp, RunState, type RunThreadData } from './run-thread-protocol.js';

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
    default:
      return NO_CALL;
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
