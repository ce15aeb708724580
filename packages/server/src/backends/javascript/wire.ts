import type { MessagePort } from 'node:worker_threads';
import type { Datatype } from '@nereid/protocol';

/**
 * What crosses between the server and a JavaScript model's worker thread. Tensors are in wire
 * layout (tensor/tensor.ts); their bytes travel in transferred ArrayBuffers, never cloned.
 */
export type WireValue = boolean | number | bigint | string;

export interface WireTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export interface WireRequest {
  /** Names the request for decoupled responses and cancellation. */
  readonly key: number;
  readonly id: string;
  readonly correlationId: bigint | string;
  readonly sequenceStart: boolean;
  readonly sequenceEnd: boolean;
  readonly parameters: Readonly<Record<string, WireValue>>;
  readonly inputs: readonly WireTensor[];
  readonly requestedOutputs: readonly string[];
  /** Index of its cancel flag in the shared cancel flags, -1 for none. */
  readonly cancelSlot: number;
}

export interface WireResponse {
  readonly outputs: readonly WireTensor[];
  readonly parameters: Readonly<Record<string, WireValue>>;
}

export interface WireInferRequest {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, WireValue>>;
  readonly inputs: readonly WireTensor[];
  readonly outputs: readonly string[] | undefined;
}

export interface WireInferResponse extends WireResponse {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
}

/** Server → worker, on the request port. */
export type ToWorker =
  | { readonly t: 'execute'; readonly exec: number; readonly requests: readonly WireRequest[] }
  | { readonly t: 'infer-done'; readonly call: number; readonly response?: WireInferResponse; readonly error?: WireError }
  | { readonly t: 'infer-event'; readonly call: number; readonly response?: WireInferResponse; readonly error?: WireError; readonly final: boolean };

/** Worker → server, on the reply port. */
export type FromWorker =
  | { readonly t: 'executed'; readonly exec: number; readonly responses?: ReadonlyArray<WireResponse | WireError | null>; readonly error?: WireError }
  | { readonly t: 'respond'; readonly key: number; readonly response?: WireResponse; readonly error?: WireError; readonly final: boolean }
  | { readonly t: 'infer'; readonly call: number; readonly request: WireInferRequest; readonly stream: boolean }
  | { readonly t: 'infer-cancel'; readonly call: number }
  | { readonly t: 'log'; readonly level: 'info' | 'warn' | 'error' | 'verbose'; readonly message: string };

/** Control messages on the worker's parentPort (start-up and shut-down, off the fast path). */
export type ControlToWorker = { readonly t: 'finalize' };
export type ControlFromWorker =
  | { readonly t: 'ready'; readonly completedConfig?: string }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'finalized'; readonly error?: string };

/** What a worker starts with (workerData). */
export interface WorkerSetup {
  /** `file:` URL of a model.js, or a `data:` URL of a bundled model.ts. */
  readonly moduleUrl: string;
  readonly modelName: string;
  /** 'autocomplete': run autoCompleteConfig and answer; 'instance': initialize and serve. */
  readonly mode: 'autocomplete' | 'instance';
  /** Triton's JSON form of the configuration (final for an instance). */
  readonly configJson: string;
  readonly args: Readonly<Record<string, string>>;
  /** One Int32 per cancel slot: 1 once that request is cancelled. */
  readonly cancelFlags: SharedArrayBuffer;
  /** Server → worker: executions, cancellations, BLS answers ('message' events). */
  readonly requests: MessagePort;
  /** Worker → server: responses, BLS calls, logs. */
  readonly replies: MessagePort;
}

/** Wire bytes of the tensors' data copied into one new ArrayBuffer (8-byte aligned each), to transfer. */
export function packTensors<T extends WireTensor>(tensors: readonly T[]): { tensors: WireTensor[]; buffer: ArrayBuffer } {
  let total = 0;
  for (const tensor of tensors) total += align8(tensor.data.byteLength);
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  const packed: WireTensor[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    const length = tensor.data.byteLength;
    bytes.set(tensor.data, offset);
    packed.push({ name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, data: new Uint8Array(buffer, offset, length) });
    offset += align8(length);
  }
  return { tensors: packed, buffer };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
