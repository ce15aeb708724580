/** The messages between a `WorkerSessionHost` and its session worker: one closed union each way. */
import type { InferenceSession } from 'onnxruntime-node';
import type { PlainTensor, RunResult, TensorInfo } from './session-runner.js';

/** `workerData` of a session worker. */
export interface SessionWorkerData {
  readonly modelPath: string;
  readonly sessionOptions: InferenceSession.SessionOptions;
  readonly runOptions: InferenceSession.RunOptions;
}

export type ToWorker =
  | {
      readonly kind: 'run';
      readonly id: number;
      readonly feeds: readonly PlainTensor[];
      readonly fetches: readonly string[];
    }
  | { readonly kind: 'release' };

export type FromWorker =
  | {
      readonly kind: 'ready';
      readonly inputs: readonly TensorInfo[];
      readonly outputs: readonly TensorInfo[];
    }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'result'; readonly id: number; readonly result: RunResult }
  | { readonly kind: 'error'; readonly id: number; readonly message: string }
  | { readonly kind: 'released' };
