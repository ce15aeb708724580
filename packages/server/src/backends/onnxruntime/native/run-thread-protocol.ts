/** The control block a run thread and the main thread share: one state word, then 64-bit slots. */

export interface RunThreadData {
  /** 8 bytes of state (an Int32 and padding), then `CONTROL.length` BigInt64 slots. */
  readonly control: SharedArrayBuffer;
  /** The nice value the thread gives itself (Linux), so the event loop wins the cores it needs. */
  readonly nice: number;
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

/** Which OrtApi function a call is; its arguments fill `args` in the C signature's order. */
export const NativeOp = {
  /** Run(session, runOptions, inputNames, inputs, inputCount, outputNames, outputCount, outputs) */
  Run: 1,
  /** CreateSession(env, path, options, out) */
  CreateSession: 2,
  /** CreateSessionFromArray(env, data, length, options, out) */
  CreateSessionFromArray: 3,
  /** CreateTensorAsOrtValue(allocator, shape, rank, type, out): large string tensors. */
  CreateTensorAsOrtValue: 4,
  /** fillStringTensor(value, wire data address, its length, count): string-tensors.ts on the thread. */
  FillStringTensorFromWire: 5,
  /** GetStringTensorDataLength(value, out) */
  GetStringTensorDataLength: 6,
  /** readStringTensor(value, wire address, count, total): string-tensors.ts on the thread. */
  ReadStringTensorToWire: 7,
  /** ReleaseValue(value): returns nothing (the status slot reads 0). */
  ReleaseValue: 8,
} as const;
export type NativeOp = (typeof NativeOp)[keyof typeof NativeOp];

/** The status slot's value when no call was made (an unknown op, or koffi refused the arguments). */
export const NO_CALL = -1n;

/** The status slot's value when a compound op (string tensors) failed; onnxruntime's message is lost. */
export const COMPOUND_FAILED = -2n;

/** Most arguments any op takes. */
export const MAX_ARGS = 8;

/** Slot indices: the op, its arguments, then what the thread writes back. */
export const CONTROL = {
  op: 0,
  /** args[i] is slot args + i. */
  args: 1,
  /** OrtStatus* (0 when the call succeeded). */
  status: 1 + MAX_ARGS,
  /** process.hrtime.bigint() around the call, on the run thread. */
  startedAt: 2 + MAX_ARGS,
  endedAt: 3 + MAX_ARGS,
  length: 4 + MAX_ARGS,
} as const;

export const CONTROL_BYTES = 8 + 8 * CONTROL.length;
