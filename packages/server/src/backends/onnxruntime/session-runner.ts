/**
 * One onnxruntime session and the plain-data calls around it. It runs wherever the session lives:
 * on the main thread, or inside a session worker (`session-worker.ts`), so everything that crosses
 * its API is structured-clone friendly (no ort.Tensor objects).
 */
import type { NumericTypedArray } from '@nereid/protocol';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { BF16_SUFFIX, bridgeBf16, isBf16Refusal } from './bf16-bridge.js';
import type { OnnxElementType } from './dtype-map.js';

/** What a session reports about one input or output. */
export interface TensorInfo {
  readonly name: string;
  /** onnxruntime-node's type name ('float32', 'string', 'bfloat16', ...); '' for non-tensors. */
  readonly type: string;
  /** Dims as the model declares them; symbolic and unknown dims are -1. Empty for scalars. */
  readonly shape: readonly number[];
}

/** Element storage: BOOL as Uint8Array, FP16/BF16 bit patterns as Uint16Array, strings as string[]. */
export type TensorData = NumericTypedArray | readonly string[];

/** What one run produced, and when it computed (epoch ms, measured on the thread that ran it). */
export interface RunResult {
  readonly outputs: PlainTensor[];
  readonly startedAt: number;
  readonly endedAt: number;
}

/** A tensor on its way into or out of a session. */
export interface PlainTensor {
  readonly name: string;
  readonly type: OnnxElementType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export class SessionRunner {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #session: ort.InferenceSession;
  /** Names carried as float32 by the BF16 bridge (see bf16-bridge.ts). */
  readonly #bf16Inputs: ReadonlySet<string>;
  readonly #bf16Outputs: ReadonlySet<string>;
  /** When the latest run on this thread ended (epoch ms). */
  #lastEndedAt = 0;

  private constructor(
    session: ort.InferenceSession,
    bf16Inputs: ReadonlySet<string>,
    bf16Outputs: ReadonlySet<string>,
  ) {
    this.#session = session;
    this.#bf16Inputs = bf16Inputs;
    this.#bf16Outputs = bf16Outputs;
    this.inputs = session.inputMetadata.map((meta) => tensorInfo(meta, bf16Inputs));
    this.outputs = session.outputMetadata.map((meta) => tensorInfo(meta, bf16Outputs));
  }

  /**
   * Opens `modelPath`: a model file, or a folder holding `model.onnx` (and its external data).
   * Models with bfloat16 inputs or outputs are patched in memory (bf16-bridge.ts).
   */
  static async open(
    modelPath: string,
    options: ort.InferenceSession.SessionOptions,
  ): Promise<SessionRunner> {
    const file = (await stat(modelPath)).isDirectory()
      ? path.join(modelPath, 'model.onnx')
      : modelPath;
    try {
      return new SessionRunner(await ort.InferenceSession.create(file, options), new Set(), new Set());
    } catch (error) {
      if (!isBf16Refusal(error)) throw error;
    }
    const bridge = bridgeBf16(await readFile(file));
    if (bridge === undefined) throw new Error(`onnxruntime cannot open '${file}'`);
    // Loading from memory loses the model's folder, which external data paths are relative to.
    const extra = {
      ...options.extra,
      session: { model_external_initializers_file_folder_path: path.dirname(file) },
    };
    const session = await ort.InferenceSession.create(bridge.model, { ...options, extra });
    return new SessionRunner(session, bridge.inputs, bridge.outputs);
  }

  /** Runs the session; `fetches` are output names (the original ones for bridged BF16 outputs). */
  async run(
    feeds: readonly PlainTensor[],
    fetches: readonly string[],
    runOptions: ort.InferenceSession.RunOptions,
  ): Promise<RunResult> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const feed of feeds) {
      if (this.#bf16Inputs.has(feed.name)) {
        ortFeeds[feed.name + BF16_SUFFIX] = new ort.Tensor('float32', widenBf16(feed.data), feed.dims);
      } else {
        ortFeeds[feed.name] = toOrtTensor(feed);
      }
    }
    const sessionFetches = fetches.map((name) =>
      this.#bf16Outputs.has(name) ? name + BF16_SUFFIX : name,
    );
    const calledAt = performance.timeOrigin + performance.now();
    const results = await this.#session.run(ortFeeds, sessionFetches, runOptions);
    const endedAt = performance.timeOrigin + performance.now();
    // The session computes on this thread, one run at a time and in call order: a run called while
    // another was pending started computing no earlier than that one ended.
    const startedAt = Math.max(calledAt, this.#lastEndedAt);
    this.#lastEndedAt = endedAt;
    const outputs = fetches.map((name, index): PlainTensor => {
      const value = results[sessionFetches[index] ?? name];
      if (value === undefined) throw new Error(`onnxruntime returned no output '${name}'`);
      const dims = [...value.dims];
      if (this.#bf16Outputs.has(name)) {
        return { name, type: 'bfloat16', dims, data: narrowToBf16(value.data as Float32Array) };
      }
      return { name, type: value.type, dims, data: value.data as TensorData };
    });
    return { outputs, startedAt, endedAt };
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}

function tensorInfo(meta: ort.InferenceSession.ValueMetadata, bf16: ReadonlySet<string>): TensorInfo {
  const name = bf16Name(meta.name, bf16);
  if (!meta.isTensor) return { name, type: '', shape: [] };
  const shape = meta.shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1));
  return { name, type: name === meta.name ? meta.type : 'bfloat16', shape };
}

/** The original name of a bridged tensor (the session knows it with the suffix). */
function bf16Name(sessionName: string, bf16: ReadonlySet<string>): string {
  if (!sessionName.endsWith(BF16_SUFFIX)) return sessionName;
  const name = sessionName.slice(0, -BF16_SUFFIX.length);
  return bf16.has(name) ? name : sessionName;
}

function toOrtTensor(feed: PlainTensor): ort.Tensor {
  // The constructor's overloads are per type; the pairing is guaranteed by how feeds are built.
  return new ort.Tensor(feed.type as ort.Tensor.Type, feed.data as ort.Tensor.DataType, feed.dims);
}

/** BF16 bit patterns → the float32 values they are the upper halves of (exact). */
function widenBf16(data: TensorData): Float32Array {
  const bits = data as Uint16Array;
  const wide = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = (bits[i] ?? 0) << 16;
  return new Float32Array(wide.buffer);
}

/** float32 values that came from BF16 (through Cast) → their BF16 bit patterns. */
function narrowToBf16(data: Float32Array): Uint16Array {
  const wide = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const bits = new Uint16Array(data.length);
  for (let i = 0; i < wide.length; i++) bits[i] = (wide[i] ?? 0) >>> 16;
  return bits;
}
