import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { modelConfigToJsonString } from '../../config/model-config-json.js';
import { applyCompletedConfig } from '../completed-config.js';
import { invalidArg } from '../../errors/index.js';
import type { Backend, BackendInstance, BackendLoadContext, BackendModel, InstanceSpec } from '../backend.js';
import { JavaScriptInstance } from './js-instance.js';
import { modelModuleUrl } from './model-source.js';
import { ModelWorker, type WorkerStart } from './model-worker.js';

/**
 * Models written in JavaScript or TypeScript (`backend: "javascript"`): a `model.js` or `model.ts`
 * in the version folder exporting Triton's Python-model life cycle (model-api.ts, published as
 * `nereid/model`), each instance on its own worker thread. See docs/design/0017.
 */
export class JavaScriptBackend implements Backend {
  readonly name = 'javascript';
  readonly platforms = [] as const;
  readonly defaultPlatform = '';
  readonly defaultModelFilename = 'model.js';
  /** Served in this order of preference when `default_model_filename` is empty. */
  readonly modelFilenames = ['model.js', 'model.mjs', 'model.ts', 'model.mts'] as const;
  readonly defaultCpuInstanceCount = 1;

  async loadModel(context: BackendLoadContext): Promise<BackendModel> {
    const moduleUrl = await modelModuleUrl(context.modelPath, context.modelName);
    const maxHeapMb = Number(context.backendConfig.get('worker-max-heap-mb') ?? 0);
    if (!Number.isInteger(maxHeapMb) || maxHeapMb < 0) throw invalidArg(`--backend-config=javascript,worker-max-heap-mb must be a whole number of MiB, got '${context.backendConfig.get('worker-max-heap-mb')}'`);
    const base = { moduleUrl, modelName: context.modelName, maxHeapMb, args: {} };
    // A probe worker imports the module (so a broken one fails the load) and runs autoCompleteConfig.
    const { worker, completedConfig } = await ModelWorker.start(
      { ...base, mode: 'autocomplete', configJson: modelConfigToJsonString(context.config) },
      () => {},
      () => {},
    );
    await worker.terminate();
    return new JavaScriptModel(context, base, context.autoCompleteConfig ? completedConfig : undefined);
  }
}

export const javaScriptBackend: Backend = new JavaScriptBackend();

class JavaScriptModel implements BackendModel {
  readonly #context: BackendLoadContext;
  readonly #base: Omit<WorkerStart, 'mode' | 'configJson'>;
  readonly #completed: string | undefined;
  readonly #instances = new Set<JavaScriptInstance>();

  constructor(context: BackendLoadContext, base: Omit<WorkerStart, 'mode' | 'configJson'>, completed: string | undefined) {
    this.#context = context;
    this.#base = base;
    this.#completed = completed;
  }

  completeConfig(config: ModelConfig, options: { readonly autoComplete: boolean }): void {
    if (!options.autoComplete || this.#completed === undefined) return;
    applyCompletedConfig(config, this.#completed, (reason) => `autoCompleteConfig of model '${this.#context.modelName}' produced an invalid configuration: ${reason}`);
  }

  async createInstance(spec: InstanceSpec, config: ModelConfig): Promise<BackendInstance> {
    const context = this.#context;
    const args = {
      model_instance_kind: spec.kind,
      model_instance_name: spec.name,
      model_instance_device_id: String(spec.deviceId),
      model_repository: context.modelDir,
      model_version: String(context.version),
      model_name: context.modelName,
    };
    const instance = await JavaScriptInstance.create({
      start: { ...this.#base, mode: 'instance', configJson: modelConfigToJsonString(config), args },
      instanceName: spec.name,
      logger: context.logger,
      runRequest: context.runRequest,
      runStreamRequest: context.runStreamRequest,
    });
    this.#instances.add(instance);
    return {
      execute: (requests) => instance.execute(requests),
      ready: () => instance.ready(),
      close: async () => {
        this.#instances.delete(instance);
        await instance.close();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#instances].map((instance) => instance.close()));
  }
}
