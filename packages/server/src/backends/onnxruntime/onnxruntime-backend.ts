import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { MemoryUsage } from '../../metrics/statistics-types.js';
import { ServerError, internal, unavailable } from '../../errors/server-error.js';
import type {
  Backend,
  BackendInstance,
  BackendLoadContext,
  BackendModel,
  InstanceSpec,
} from '../backend.js';
import { autoCompleteConfig, defaultMaxBatchSizeOf } from './autocomplete.js';
import { validateConfig } from './config-validation.js';
import { OnnxRuntimeInstance, executionPlan } from './instance.js';
import { NativeSession } from './native/native-session.js';
import { engineReady } from './native/self-test.js';
import { sessionSettingsFromConfig, type SessionSettings } from './session-options.js';
import type { ModelIo } from './tensor-info.js';
import { concurrentRunsOf, describeThreadPlan, planThreads, type ThreadPlan } from './thread-plan.js';

const DEFAULT_CPU_INSTANCE_COUNT = 2;

/**
 * The ONNX Runtime backend: ONNX Runtime's C API (the library onnxruntime-node ships) through an FFI.
 * Loads `model.onnx` (a file, or a folder holding model.onnx and its external data), completes
 * configs with Triton's rules, and by default runs every instance of a model on one shared session:
 * the weights are in memory once, and the instances' runs compute at the same time on run threads.
 */
export class OnnxRuntimeBackend implements Backend {
  readonly name = 'onnxruntime';
  readonly platforms = ['onnxruntime_onnx'] as const;
  readonly defaultPlatform = 'onnxruntime_onnx';
  readonly defaultModelFilename = 'model.onnx';
  readonly defaultCpuInstanceCount = DEFAULT_CPU_INSTANCE_COUNT;

  async loadModel(context: BackendLoadContext): Promise<OnnxRuntimeModel> {
    await engineReady(context.logger);
    const settings = sessionSettingsFromConfig(context.config, context.logger);
    const cores = availableParallelism();
    const plan = planThreads(settings, concurrentRunsOf(context.config, DEFAULT_CPU_INSTANCE_COUNT), cores);
    const modelFile = await modelFileOf(context);
    const modelBytes = await modelBytesOf(context.modelPath);
    // This first session answers auto-complete and becomes the shared (or first) instance session.
    const session = await openSession(context, modelFile, settings, plan);
    context.logger.info(
      `model '${context.modelName}' version ${context.version}: ${describeThreadPlan(plan, cores, settings.shareSession)}`,
    );
    return new OnnxRuntimeModel(context, modelFile, settings, plan, session, modelBytes);
  }
}

/** The backend object to register. */
export const onnxRuntimeBackend: Backend = new OnnxRuntimeBackend();

/** One loaded model version: its sessions and the model signature they report. */
export class OnnxRuntimeModel implements BackendModel {
  /** The model's inputs (overridable initializers last, optional) and outputs. */
  readonly io: ModelIo;
  readonly #context: BackendLoadContext;
  readonly #modelFile: string;
  readonly #settings: SessionSettings;
  readonly #plan: ThreadPlan;
  /** Bytes of the model file (and its external data): what one session holds as weights. */
  readonly #modelBytes: number;
  /** Every open session of this model. */
  readonly #sessions = new Set<NativeSession>();
  /** The load-time session until an instance takes it (unshared) or for good (shared). */
  #first: NativeSession | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    context: BackendLoadContext,
    modelFile: string,
    settings: SessionSettings,
    plan: ThreadPlan,
    session: NativeSession,
    modelBytes: number,
  ) {
    this.#context = context;
    this.#modelBytes = modelBytes;
    this.#modelFile = modelFile;
    this.#settings = settings;
    this.#plan = plan;
    this.#first = session;
    this.#sessions.add(session);
    this.io = { inputs: session.inputs, outputs: session.outputs };
  }

  /** Sessions currently open (1 when shared; one per instance otherwise). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * The weights in CPU memory: the model's bytes once per open session (ONNX Runtime keeps the
   * initializers about the size they have on disk). Not ONNX Runtime's arenas or run buffers, which
   * come and go with requests.
   */
  memoryUsage(): readonly MemoryUsage[] {
    return [{ type: 'CPU', id: 0, byte_size: this.#modelBytes * this.#sessions.size }];
  }

  completeConfig(config: ModelConfig, options: { readonly autoComplete: boolean }): void {
    if (options.autoComplete) {
      autoCompleteConfig(config, this.io, {
        defaultMaxBatchSize: defaultMaxBatchSizeOf(this.#context.backendConfig),
        logger: this.#context.logger,
      });
    }
    validateConfig(config, this.io);
  }

  async createInstance(spec: InstanceSpec, config: ModelConfig): Promise<BackendInstance> {
    if (this.#closed !== undefined) throw internal(`model '${this.#context.modelName}' is closed`);
    const plan = executionPlan(config, this.io);
    if (this.#settings.shareSession) {
      // The load-time session stays the model's until close().
      this.#first ??= await this.#open();
      return new OnnxRuntimeInstance(this.#first, plan, async () => {});
    }
    const own = this.#first ?? (await this.#open());
    this.#first = undefined;
    this.#context.logger.verbose(1, `instance '${spec.name}' got its own onnxruntime session`);
    return new OnnxRuntimeInstance(own, plan, () => this.#release(own));
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#first = undefined;
      await Promise.allSettled([...this.#sessions].map((session) => this.#release(session)));
    })();
    return this.#closed;
  }

  /** A further session, owned by this model (released again if the model closed meanwhile). */
  async #open(): Promise<NativeSession> {
    const session = await openSession(this.#context, this.#modelFile, this.#settings, this.#plan);
    if (this.#closed !== undefined) {
      await session.release();
      throw internal(`model '${this.#context.modelName}' is closed`);
    }
    this.#sessions.add(session);
    return session;
  }

  async #release(session: NativeSession): Promise<void> {
    this.#sessions.delete(session);
    await session.release();
  }
}

/** The model file: `modelPath` itself, or `model.onnx` inside it when it is a folder. */
async function modelFileOf(context: BackendLoadContext): Promise<string> {
  const info = await stat(context.modelPath).catch(() => undefined);
  if (info === undefined) {
    throw unavailable(`unable to find '${context.modelPath}' for model '${context.modelName}'`);
  }
  return info.isDirectory() ? path.join(context.modelPath, 'model.onnx') : context.modelPath;
}

/** Bytes of `model.onnx`, or of every file in the model folder (the model and its external data). */
async function modelBytesOf(modelPath: string): Promise<number> {
  const info = await stat(modelPath);
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(modelPath, { withFileTypes: true, recursive: true });
  const sizes = await Promise.all(
    entries.filter((entry) => entry.isFile()).map((entry) => stat(path.join(entry.parentPath, entry.name)).then((s) => s.size, () => 0)),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

async function openSession(
  context: BackendLoadContext,
  modelFile: string,
  settings: SessionSettings,
  plan: ThreadPlan,
): Promise<NativeSession> {
  try {
    return await NativeSession.open(modelFile, settings, plan);
  } catch (error) {
    if (error instanceof ServerError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw internal(`onnx runtime error: failed to load model '${context.modelName}': ${message}`, error);
  }
}
