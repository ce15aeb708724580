/**
 * One ONNX Runtime session through the C API. Created on a run thread, off the event loop; run by
 * any number of callers at once (OrtApi::Run is thread-safe on one session), each run on a run
 * thread or, for runs measured to be tiny, inline (run-placement.ts). Released only once no run uses
 * it.
 */
import { koffi } from './ffi.js';
import type { Tensor } from '../../../tensor/tensor.js';
import type { SessionSettings } from '../session-options.js';
import type { TensorInfo } from '../tensor-info.js';
import type { ThreadPlan } from '../thread-plan.js';
import { releaseFreedHeap } from './native-memory.js';
import { noteRequestBytes } from '../../../util/memory-relief.js';
import { RunFrame } from './run-frame.js';
import { describe } from './session-io.js';
import { ortApi, type NullablePointer, type OrtApi, type Pointer } from './ort-api.js';
import { OrtValues } from './ort-values.js';
import { OFF_THREAD_STRING_ELEMENTS } from './string-tensors.js';
import { check, OutSlot } from './ort-status.js';
import { computeBudget } from './compute-budget.js';
import { RunPlacement } from './run-placement.js';
import { internal } from '../../../errors/index.js';
import { runThreads } from './run-thread.js';
import { NativeOp } from './run-thread-protocol.js';

/** ORT_LOGGING_LEVEL_ERROR: onnxruntime's own warnings would duplicate what Nereid reports. */
const SESSION_LOG_LEVEL = 3;
/** ORT_LOGGING_LEVEL_FATAL for runs: a failed run is reported as the request's error. */
const RUN_LOG_LEVEL = 4;

/** A feed: a wire tensor and the dims the model sees it with. */
export interface SessionFeed {
  readonly tensor: Tensor;
  readonly dims: readonly number[];
}

/** What one run produced and where its time went (ns). */
export interface SessionRunResult {
  readonly outputs: Tensor[];
  readonly inputNs: number;
  readonly inferNs: number;
  readonly outputNs: number;
  /** True when the run computed inline on the event-loop thread. */
  readonly inline: boolean;
  /** When the run computed (process.hrtime.bigint() read on the thread that ran it). */
  readonly computeStartNs: bigint;
  readonly computeEndNs: bigint;
}

interface Thread {
  readonly api: OrtApi;
  readonly values: OrtValues;
  readonly out: OutSlot;
}

let thread: Thread | undefined;

/** The C API and value helpers of the calling (main) thread. */
function mainThread(): Thread {
  if (thread === undefined) {
    const api = ortApi();
    thread = { api, values: new OrtValues(api), out: new OutSlot() };
  }
  return thread;
}

let env: Promise<Pointer> | undefined;

/**
 * The process's OrtEnv (ONNX Runtime keeps one per process and counts references to it). Created
 * on libuv's pool: the first creation costs ~100 ms (thread pools, logging, allocators).
 */
function ortEnv(): Promise<Pointer> {
  env ??= new Promise<Pointer>((resolve, reject) => {
    const { api } = mainThread();
    const out = new OutSlot();
    api.CreateEnv.async(SESSION_LOG_LEVEL, 'nereid', out.arg, (error: unknown, status: NullablePointer) => {
      try {
        if (error) throw error instanceof Error ? error : new Error(String(error));
        check(api, status);
        resolve(out.pointer());
      } catch (failure) {
        env = undefined;
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      }
    });
  });
  return env;
}

export class NativeSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #session: Pointer;
  readonly #runOptions: Pointer;
  /** NUL-terminated names and their addresses, alive as long as the session: Run reads them. */
  readonly #names = new Map<string, { readonly bytes: Uint8Array; readonly address: Pointer }>();
  readonly #outputNames: readonly string[];
  readonly #placement = new RunPlacement();
  /** The frame inline runs reuse (see #inlineFrame). */
  #scratch: RunFrame | undefined;
  /** Compute-budget tokens a run off the event loop takes: its intra-op threads. */
  readonly #threadsPerRun: number;
  #inflight = 0;
  #drained: (() => void) | undefined;
  #released: Promise<void> | undefined;

  private constructor(session: Pointer, runOptions: Pointer, threadsPerRun: number) {
    this.#session = session;
    this.#runOptions = runOptions;
    this.#threadsPerRun = threadsPerRun;
    const { api, out, values } = mainThread();
    const inputs = describe(api, out, values.allocator, session, 'input');
    const initializers = describe(api, out, values.allocator, session, 'initializer').map((info) => ({ ...info, optional: true }));
    this.inputs = [...inputs, ...initializers];
    this.outputs = describe(api, out, values.allocator, session, 'output');
    this.#outputNames = this.outputs.map((info) => info.name);
    for (const info of [...this.inputs, ...this.outputs]) this.#internName(info.name);
  }

  /**
   * Opens a model file (external data is found next to it) or serialized model bytes; the load runs
   * on a run thread.
   */
  static async open(model: string | Uint8Array, settings: SessionSettings, plan: ThreadPlan): Promise<NativeSession> {
    const { api, out } = mainThread();
    const environment = await ortEnv();
    check(api, api.CreateSessionOptions(out.arg));
    const options = out.pointer();
    let session: Pointer;
    try {
      applySettings(api, options, settings, plan);
      session = await createSession(api, environment, model, options);
    } finally {
      api.ReleaseSessionOptions(options);
      releaseFreedHeap();
    }
    try {
      check(api, api.CreateRunOptions(out.arg));
    } catch (error) {
      api.ReleaseSession(session);
      throw error;
    }
    const runOptions = out.pointer();
    try {
      check(api, api.RunOptionsSetRunLogSeverityLevel(runOptions, RUN_LOG_LEVEL));
      for (const [key, value] of settings.runConfig) check(api, api.AddRunConfigEntry(runOptions, key, value));
      return new NativeSession(session, runOptions, plan.intraOpThreads);
    } catch (error) {
      api.ReleaseRunOptions(runOptions);
      api.ReleaseSession(session);
      throw error;
    }
  }

  /**
   * Runs the session on `feeds`, fetching `fetches` (all outputs when empty). Rejects with an OrtError
   * (onnxruntime's message) or the error that building an input raised.
   */
  async run(feeds: readonly SessionFeed[], fetches: readonly string[]): Promise<SessionRunResult> {
    if (this.#released !== undefined) throw new Error('the session was released');
    const t0 = process.hrtime.bigint();
    const wanted = fetches.length > 0 ? fetches : this.#outputNames;
    let inputBytes = 0;
    for (const feed of feeds) inputBytes += feed.tensor.data.byteLength;
    const { api, values } = mainThread();
    // Counted from here: release() waits for this run, whatever it awaits below.
    this.#inflight += 1;
    let prepared = NONE_PREPARED;
    let inline = false;
    let frame: RunFrame | undefined;
    try {
      // Large string inputs are built on run threads first (see OrtValues.createStringsOffThread).
      if (hasLargeStrings(feeds)) prepared = await prepareLargeStrings(values, feeds);
      inline = prepared.size === 0 && this.#placement.inline(inputBytes);
      // An inline run is synchronous from here to its end, so it can use the session's scratch
      // frame; a run that leaves the thread gets a frame of its own.
      frame = inline ? this.#inlineFrame(feeds.length, wanted.length) : new RunFrame(feeds.length, wanted.length);
      /** Request bytes (or aligned copies) the input values point into: alive until the run ends. */
      const borrowed: Uint8Array[] = [];
      const runFrame = frame;
      for (let i = 0; i < feeds.length; i++) {
        const feed = feeds[i]!;
        const value = prepared.size === 0 ? undefined : prepared.get(i);
        runFrame.setInput(i, this.#nameAddress(feed.tensor.name), value ?? values.create(feed.tensor, feed.dims, borrowed));
        // The frame releases it from here on.
        if (value !== undefined) prepared.delete(i);
      }
      for (let i = 0; i < wanted.length; i++) runFrame.setOutputName(i, this.#nameAddress(wanted[i]!));
      const args = frame.runArguments(this.#session, this.#runOptions);
      // handedOff..resumed is compute_infer: the run plus, off-thread, the hop there and back.
      const handedOff = process.hrtime.bigint();
      let computeStartNs: bigint;
      let computeEndNs: bigint;
      let status: unknown;
      if (inline) {
        computeStartNs = handedOff;
        status = api.Run(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!, args[6]!, args[7]!);
        computeEndNs = process.hrtime.bigint();
      } else {
        const granted = computeBudget.acquire(this.#threadsPerRun);
        const tokens = typeof granted === 'number' ? granted : await granted;
        try {
          const outcome = await runThreads.call({ op: NativeOp.Run, args, keepAlive: [borrowed, feeds, runFrame] });
          status = outcome.status;
          computeStartNs = outcome.startedAtNs;
          computeEndNs = outcome.endedAtNs;
        } finally {
          computeBudget.release(tokens);
        }
      }
      const resumed = inline ? computeEndNs : process.hrtime.bigint();
      this.#placement.record(inputBytes, Number(computeEndNs - computeStartNs));
      check(api, status);
      const outputs: Tensor[] = [];
      for (let i = 0; i < wanted.length; i++) {
        const value = frame.output(i);
        const name = wanted[i]!;
        // A run that reported success yet left an output empty must fail the request, not the
        // process (reading a NULL OrtValue segfaults). It happened when the main thread resumed
        // before the run thread had finished (see RunThread.call); kept as a last defence.
        if (value === 0n) throw internal(`onnxruntime returned no value for output '${name}' of a successful run`);
        outputs.push(!inline && values.isLargeStringTensor(value) ? await values.readOffThread(name, value) : values.read(name, value));
      }
      const done = process.hrtime.bigint();
      let outputBytes = 0;
      for (const output of outputs) outputBytes += output.data.byteLength;
      // Any transport: a large run leaves large buffers for the next full collection to free.
      noteRequestBytes(inputBytes + outputBytes);
      return {
        outputs,
        inputNs: Number(handedOff - t0),
        inferNs: Number(resumed - handedOff),
        outputNs: Number(done - resumed),
        inline,
        computeStartNs,
        computeEndNs,
      };
    } finally {
      try {
        for (const value of prepared.values()) values.releaseOffThread(value);
        if (frame !== undefined && !inline) frame.takeLargeStringValues(values, (value) => values.releaseOffThread(value));
      } finally {
        frame?.releaseValues(values);
        this.#inflight -= 1;
        if (this.#inflight === 0) this.#drained?.();
      }
    }
  }

  /** The session's frame for inline runs, cleared and sized for this run. */
  #inlineFrame(inputCount: number, outputCount: number): RunFrame {
    if (this.#scratch === undefined || !this.#scratch.fits(inputCount, outputCount)) {
      this.#scratch = new RunFrame(Math.max(inputCount, 4), Math.max(outputCount, 4));
    }
    this.#scratch.reset(inputCount, outputCount);
    return this.#scratch;
  }

  /** Frees the session once the runs in flight have finished; idempotent. */
  release(): Promise<void> {
    this.#released ??= (async () => {
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      const { api } = mainThread();
      api.ReleaseRunOptions(this.#runOptions);
      api.ReleaseSession(this.#session);
    })();
    return this.#released;
  }

  #internName(name: string): void {
    if (this.#names.has(name)) return;
    const bytes = cString(name);
    this.#names.set(name, { bytes, address: koffi.address(bytes) as bigint });
  }

  #nameAddress(name: string): Pointer {
    const entry = this.#names.get(name);
    // Requests are checked against the model before they get here; a name it lacks is a bug upstream.
    if (entry === undefined) throw new Error(`the model has no tensor named '${name}'`);
    return entry.address;
  }
}

function applySettings(api: OrtApi, options: Pointer, settings: SessionSettings, plan: ThreadPlan): void {
  check(api, api.SetSessionLogSeverityLevel(options, SESSION_LOG_LEVEL));
  check(api, api.SetSessionGraphOptimizationLevel(options, settings.graphOptimizationLevel));
  check(api, api.SetSessionExecutionMode(options, settings.executionMode === 'parallel' ? 1 : 0));
  check(api, api.SetIntraOpNumThreads(options, plan.intraOpThreads));
  check(api, api.SetInterOpNumThreads(options, plan.interOpThreads));
  if (settings.memArena !== undefined) {
    check(api, settings.memArena ? api.EnableCpuMemArena(options) : api.DisableCpuMemArena(options));
  }
  if (settings.memPattern !== undefined) {
    check(api, settings.memPattern ? api.EnableMemPattern(options) : api.DisableMemPattern(options));
  }
  for (const [key, value] of settings.sessionConfig) check(api, api.AddSessionConfigEntry(options, key, value));
}

/** Creates the session on a run thread (see run-thread.ts for why). */
async function createSession(
  api: OrtApi,
  environment: Pointer,
  model: string | Uint8Array,
  options: Pointer,
): Promise<Pointer> {
  // Off-heap, so the addresses stay put while the run thread reads them.
  const out = new BigUint64Array(new ArrayBuffer(8));
  const outAddress = koffi.address(out) as bigint;
  let outcome;
  if (typeof model === 'string') {
    const path = cString(model);
    const args = [environment, koffi.address(path) as bigint, options, outAddress];
    outcome = await runThreads.call({ op: NativeOp.CreateSession, args, keepAlive: [path, out] });
  } else {
    const bytes = new Uint8Array(new ArrayBuffer(model.byteLength));
    bytes.set(model);
    const args = [environment, koffi.address(bytes) as bigint, BigInt(bytes.byteLength), options, outAddress];
    outcome = await runThreads.call({ op: NativeOp.CreateSessionFromArray, args, keepAlive: [bytes, out] });
  }
  check(api, outcome.status);
  return out[0] ?? 0n;
}

/** A NUL-terminated UTF-8 copy of `text` in its own ArrayBuffer. */
function cString(text: string): Uint8Array {
  const encoded = Buffer.from(text, 'utf8');
  const bytes = new Uint8Array(new ArrayBuffer(encoded.byteLength + 1));
  bytes.set(encoded);
  return bytes;
}

const NONE_PREPARED: Map<number, Pointer> = new Map();

function isLargeStrings(feed: SessionFeed): boolean {
  return feed.tensor.datatype === 'BYTES' && feed.dims.reduce((product, dim) => product * dim, 1) >= OFF_THREAD_STRING_ELEMENTS;
}

function hasLargeStrings(feeds: readonly SessionFeed[]): boolean {
  return feeds.some(isLargeStrings);
}

/**
 * OrtValues for the feeds whose string tensors are large, made on run threads, by feed index. If
 * one fails, those already made are released and the error is thrown.
 */
async function prepareLargeStrings(values: OrtValues, feeds: readonly SessionFeed[]): Promise<Map<number, Pointer>> {
  const prepared = new Map<number, Pointer>();
  try {
    for (let i = 0; i < feeds.length; i++) {
      const feed = feeds[i]!;
      if (!isLargeStrings(feed)) continue;
      prepared.set(i, await values.createStringsOffThread(feed.tensor, feed.dims));
    }
  } catch (error) {
    for (const value of prepared.values()) values.releaseOffThread(value);
    throw error;
  }
  return prepared;
}
