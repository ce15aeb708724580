/**
 * What the protocol conformance suite needs from a transport. The HTTP and gRPC adapters implement
 * it with real clients over real sockets; `protocol.case.ts` runs the same cases against both.
 */
export interface WireTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  /** Wire layout (BYTES length-prefixed); empty for outputs written to shared memory. */
  readonly data: Uint8Array;
  readonly parameters?: Readonly<Record<string, string | number | boolean>>;
}

export interface InferCall {
  readonly model: string;
  readonly version?: string;
  readonly id?: string;
  readonly inputs: readonly WireTensor[];
  /** Names (and parameters) of the outputs wanted; all outputs when absent. */
  readonly outputs?: readonly { readonly name: string; readonly parameters?: Readonly<Record<string, string | number | boolean>> }[];
  readonly parameters?: Readonly<Record<string, string | number | boolean>>;
}

export interface InferResult {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
  readonly outputs: readonly WireTensor[];
}

export interface TensorMeta {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

/** An entry of the configuration's `input`, in Triton's JSON names (data_type as `TYPE_...`). */
export interface ConfigInput {
  readonly name: string;
  readonly data_type: string;
  readonly dims: readonly number[];
  readonly optional: boolean;
}

/** A failed call, with the Triton error class its status maps back to. */
export class TransportError extends Error {
  constructor(
    readonly code: 'INVALID_ARG' | 'NOT_FOUND' | 'UNAVAILABLE' | 'UNSUPPORTED' | 'INTERNAL' | 'ALREADY_EXISTS' | 'OTHER',
    message: string,
  ) {
    super(message);
  }
}

export interface Transport {
  readonly name: string;
  serverLive(): Promise<boolean>;
  serverReady(): Promise<boolean>;
  /** Whether the model (version) is ready; a request the server refuses is a TransportError. */
  modelReady(model: string, version?: string): Promise<boolean>;
  serverMetadata(): Promise<{ name: string; version: string; extensions: readonly string[] }>;
  modelMetadata(model: string, version?: string): Promise<{
    name: string;
    versions: readonly string[];
    platform: string;
    inputs: readonly TensorMeta[];
    outputs: readonly TensorMeta[];
  }>;
  /** A few fields of the model configuration, in Triton's JSON names. */
  modelConfig(model: string, version?: string): Promise<{
    name: string;
    max_batch_size: number;
    preferred_batch_size: readonly number[];
    instance_count: number;
    input_names: readonly string[];
    input: readonly ConfigInput[];
  }>;
  infer(call: InferCall): Promise<InferResult>;
  /** `inference_stats.success.count` and `inference_count` of a model. */
  statistics(model: string): Promise<{ success: number; fail: number; inferenceCount: number; executionCount: number }>;
  repositoryIndex(): Promise<readonly { name: string; version?: string; state?: string }[]>;
  registerSystemShm(name: string, key: string, offset: number, byteSize: number): Promise<void>;
  systemShmStatus(name?: string): Promise<readonly { name: string; key: string; offset: number; byte_size: number }[]>;
  unregisterSystemShm(name?: string): Promise<void>;
  registerCudaShm(name: string): Promise<void>;
  cudaShmStatus(): Promise<readonly unknown[]>;
  unregisterCudaShm(name?: string): Promise<void>;
  close(): Promise<void>;
}
