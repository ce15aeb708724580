import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { modelConfigToJsonString } from '../../config/model-config-json.js';
import { applyCompletedConfig } from '../completed-config.js';
import { internal, invalidArg } from '../../errors/server-error.js';
import type { Backend, BackendInstance, BackendLoadContext, BackendModel, InstanceSpec } from '../backend.js';
import { FrameKind } from './frames.js';
import { chooseInterpreter } from './interpreter.js';
import { PythonInstance, STOP_GRACE_MS, type StubFactory } from './python-instance.js';
import { StubProcess, type StubLaunch } from './stub-process.js';
import { handleStubFrame } from './stub-frames.js';

/** Triton's `stub-timeout-seconds` default. */
const DEFAULT_STUB_TIMEOUT_SECONDS = 30;

/**
 * Triton's Python backend: `model.py` with a `TritonPythonModel` class, run in one `python3` stub
 * process per instance (python/nereid_python_stub.py, with Nereid's triton_python_backend_utils).
 * Auto-complete runs the model's `auto_complete_config` in a stub that then serves as the first
 * instance, so a model with one instance starts one process.
 */
export class PythonBackend implements Backend {
  readonly name = 'python';
  /** Triton's Python models have no platform. */
  readonly platforms = [] as const;
  readonly defaultPlatform = '';
  readonly defaultModelFilename = 'model.py';
  readonly defaultCpuInstanceCount = 1;

  async loadModel(context: BackendLoadContext): Promise<BackendModel> {
    const interpreter = await chooseInterpreter(context.config, context.modelDir, context.backendConfig);
    const timeoutSeconds = Number(context.backendConfig.get('stub-timeout-seconds') ?? DEFAULT_STUB_TIMEOUT_SECONDS);
    if (!(timeoutSeconds > 0)) throw invalidArg("stub-timeout-seconds can't be smaller than or equal to zero.");
    const launch: StubLaunch = {
      python: interpreter.python,
      env: interpreter.env,
      modelFile: context.modelPath,
      name: context.modelName,
      hangTimeoutMs: timeoutSeconds * 1000,
    };
    const factory: StubFactory = async (name) => {
      const { stub } = await StubProcess.start({ ...launch, name }, (frame, from) => handleStubFrame(frame, from, context));
      return stub;
    };
    const { stub, hello } = await StubProcess.start(launch, (frame, from) => handleStubFrame(frame, from, context));
    let completed: string | undefined;
    try {
      if (context.autoCompleteConfig && hello.autoComplete) {
        const reply = await stub.call(FrameKind.AUTO_COMPLETE, { config: modelConfigToJsonString(context.config) });
        if (reply.header['ok'] !== true) {
          throw internal(`Failed to initialize Python stub for auto-complete: ${String(reply.header['error'])}`);
        }
        completed = reply.header['result'] as string;
      }
    } catch (error) {
      stub.kill();
      await stub.exited;
      throw error;
    }
    return new PythonModel(context, factory, stub, completed);
  }
}

export const pythonBackend: Backend = new PythonBackend();

/** One loaded Python model version: the auto-completed config and the stubs of its instances. */
class PythonModel implements BackendModel {
  readonly #context: BackendLoadContext;
  readonly #factory: StubFactory;
  /** The auto-complete stub, until the first instance takes it. */
  #spare: StubProcess | undefined;
  readonly #completed: string | undefined;
  readonly #instances = new Set<PythonInstance>();

  constructor(context: BackendLoadContext, factory: StubFactory, spare: StubProcess, completed: string | undefined) {
    this.#context = context;
    this.#factory = factory;
    this.#spare = spare;
    this.#completed = completed;
  }

  completeConfig(config: ModelConfig, options: { readonly autoComplete: boolean }): void {
    if (!options.autoComplete || this.#completed === undefined) return;
    applyCompletedConfig(config, this.#completed, (reason) => `auto_complete_config function in model '${this.#context.modelName}' returned an invalid configuration: ${reason}`);
  }

  async createInstance(spec: InstanceSpec, config: ModelConfig): Promise<BackendInstance> {
    const spare = this.#spare;
    this.#spare = undefined;
    const args = {
      model_config: modelConfigToJsonString(config),
      model_instance_kind: spec.kind,
      model_instance_name: spec.name,
      model_instance_device_id: String(spec.deviceId),
      model_repository: this.#context.modelDir,
      model_version: String(this.#context.version),
      model_name: this.#context.modelName,
    };
    const instance = await PythonInstance.create({
      name: spec.name,
      args,
      factory: this.#factory,
      first: spare,
      logger: this.#context.logger,
      onClose: () => this.#instances.delete(instance),
    });
    this.#instances.add(instance);
    return instance;
  }

  async close(): Promise<void> {
    const spare = this.#spare;
    this.#spare = undefined;
    await Promise.allSettled([spare?.stop(STOP_GRACE_MS), ...[...this.#instances].map((instance) => instance.close())]);
  }
}
