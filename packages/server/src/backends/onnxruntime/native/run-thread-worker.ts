/**
 * Entry point of a run thread: waits on its control block, calls OrtApi::Run with the addresses the
 * main thread wrote there, writes back the status and when the run started and ended, repeats.
 * It touches no JS objects of the main thread, only native memory the main thread keeps alive.
 */
import { workerData } from 'node:worker_threads';
import { ortApi } from './ort-api.js';
import { CONTROL, RunState, type RunThreadData } from './run-thread-protocol.js';

const { control } = workerData as RunThreadData;
const state = new Int32Array(control, 0, 1);
const slots = new BigInt64Array(control, 8, CONTROL.length);
const api = ortApi();

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
    const result = api.Run(
      slots[CONTROL.session]!,
      slots[CONTROL.runOptions]!,
      slots[CONTROL.inputNames]!,
      slots[CONTROL.inputs]!,
      slots[CONTROL.inputCount]!,
      slots[CONTROL.outputNames]!,
      slots[CONTROL.outputCount]!,
      slots[CONTROL.outputs]!,
    ) as bigint | null;
    status = result ?? 0n;
  } catch {
    // koffi refused the call (it cannot happen with the addresses the main thread writes).
    status = -1n;
  }
  slots[CONTROL.status] = status;
  slots[CONTROL.startedAt] = startedAt;
  slots[CONTROL.endedAt] = process.hrtime.bigint();
  Atomics.store(state, 0, RunState.Done);
  Atomics.notify(state, 0);
}
