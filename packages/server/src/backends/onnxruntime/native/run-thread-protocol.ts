/** The control block a run thread and the main thread share: one state word, then 64-bit slots. */

export interface RunThreadData {
  /** 8 bytes of state (an Int32 and padding), then `CONTROL.length` BigInt64 slots. */
  readonly control: SharedArrayBuffer;
}

/** The state word: who owns the slots now. */
export const RunState = {
  /** The thread waits; the main thread may write a call. */
  Idle: 0,
  /** A call is written; the thread runs it. */
  Requested: 1,
  /** The thread wrote status and times; the main thread reads them and sets Idle. */
  Done: 2,
  /** The thread leaves its loop. */
  Exit: 3,
} as const;

/** Slot indices: the arguments of OrtApi::Run, then what the thread writes back. */
export const CONTROL = {
  session: 0,
  runOptions: 1,
  inputNames: 2,
  inputs: 3,
  inputCount: 4,
  outputNames: 5,
  outputCount: 6,
  outputs: 7,
  /** OrtStatus* (0 when the run succeeded). */
  status: 8,
  /** process.hrtime.bigint() around the call, on the run thread. */
  startedAt: 9,
  endedAt: 10,
  length: 11,
} as const;

export const CONTROL_BYTES = 8 + 8 * CONTROL.length;
