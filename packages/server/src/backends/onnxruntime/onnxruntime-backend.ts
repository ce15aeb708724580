import { stat } from 'node:fs/promises';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { ServerError, internal, unavailable } from '../../errors/server-error.js';
import type {
  Backend,
  BackendInstance,
  BackendLoadContext,
  BackendModel,
  InstanceSpec,
} from '../backend.js';
import { autoCompleteConfig, defaultMaxBatchSizeOf, type ModelIo } from './autocomplete.js';
import { validateConfig } from './config-validation.js';
import { OnnxRuntimeInstance, executionPlan } from './instance.js';
import { openSessionHost, type SessionHost } from './session-host.js';
import { sessionSettingsFromConfig, type SessionSettings } from './session-options.js';

/**
 * The ONNX Runtime backend (onnxruntime-node, CPU). Loads `model.onnx` (a file, or a folder holding
 * model.onnx and its external data), completes configs with Triton's rules, and by default runs
 * every instance of a model on one shared session, so the weights are in memory once.
 */
export class OnnxRuntimeBackend implements Backend {
  readonly name = 'onnxruntime';
  readonly platforms = ['onnxruntime_onnx'] as const;
  readonly defaultPlatform = 'onnxruntime_onnx';
  readonly defaultModelFilename = 'model.onnx';
  readonly defaultCpuInstanceCount = 2;

  async loadModel(context: BackendLoadContext): Promise<OnnxRuntimeModel> {
    const settings = sessionSettingsFromConfig(context.config, context.logger);
    const exists = await stat(context.modelPath).then(
      () => true,
      () => false,
    );
    if (!exists) {
      throw unavailable(`unable to find '${context.modelPath}' for model '${context.modelName}'`);
    }
    // This first session answers auto-complete and becomes the shared (or first) instance session.
    const host = await openHost(context, settings);
    context.logger.verbose(
      1,
      `model '${context.modelName}' version ${context.version}: onnxruntime session on the ` +
        `${host.thread} thread, ${settings.shareSession ? 'shared by all instances' : 'one per instance'}`,
    );
    return new OnnxRuntimeModel(context, settings, host);
  }
}

/** The backend object to register. */
export const onnxRuntimeBackend: Backend = new OnnxRuntimeBackend();

/** One loaded model version: its sessions and the model signature they report. */
export class OnnxRuntimeModel implements BackendModel {
  /** The model's inputs and outputs as onnxruntime reports them. */
  readonly io: ModelIo;
  readonly #context: BackendLoadContext;
  readonly #settings: SessionSettings;
  /** Every open session of this model. */
  readonly #hosts = new Set<SessionHost>();
  /** The load-time session until an instance takes it (unshared) or for good (shared). */
  #first: SessionHost | undefined;
  #closed: Promise<void> | undefined;

  constructor(context: BackendLoadContext, settings: SessionSettings, host: SessionHost) {
    this.#context = context;
    this.#settings = settings;
    this.#first = host;
    this.#hosts.add(host);
    this.io = { inputs: host.inputs, outputs: host.outputs };
  }

  /** Sessions currently open (1 when shared; one per instance otherwise). */
  get sessionCount(): number {
    return this.#hosts.size;
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
      await Promise.allSettled([...this.#hosts].map((host) => this.#release(host)));
    })();
    return this.#closed;
  }

  /** A further session, owned by this model (released again if the model closed meanwhile). */
  async #open(): Promise<SessionHost> {
    const host = await openHost(this.#context, this.#settings);
    if (this.#closed !== undefined) {
      await host.release();
      throw internal(`model '${this.#context.modelName}' is closed`);
    }
    this.#hosts.add(host);
    return host;
  }

  async #release(host: SessionHost): Promise<void> {
    this.#hosts.delete(host);
    await host.release();
  }
}

async function openHost(context: BackendLoadContext, settings: SessionSettings): Promise<SessionHost> {
  try {
    return await openSessionHost({
      modelPath: context.modelPath,
      sessionOptions: settings.sessionOptions,
      runOptions: settings.runOptions,
      thread: settings.executionThread,
    });
  } catch (error) {
    if (error instanceof ServerError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw internal(`onnx runtime error: failed to load model '${context.modelName}': ${message}`, error);
  }
}
