/** Helpers for the onnxruntime backend integration tests: load fixture models, build requests. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clone, create, type MessageInitShape } from '@bufbuild/protobuf';
import type { Datatype } from '@nereid/protocol';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendInstance, InstanceSpec } from '../../../src/backends/backend.js';
import {
  OnnxRuntimeBackend,
  type OnnxRuntimeModel,
} from '../../../src/backends/onnxruntime/onnxruntime-backend.js';
import { readModelConfigFile } from '../../../src/config/read-config.js';
import type { Logger } from '../../../src/observability/logger.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import type { Tensor } from '../../../src/tensor/tensor.js';

export const backend = new OnnxRuntimeBackend();

/** The nearest `<ancestor>/<relative>` above this file (works from sources and from dist/). */
function findUp(relative: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above this test`);
    dir = parent;
  }
}

export const FIXTURES = findUp(path.join('test', 'fixtures', 'models'));
export const EXAMPLES = findUp(path.join('examples', 'models'));

export interface LoadOptions {
  /** Repository folder; the fixtures by default. */
  readonly repository?: string;
  /** Config before auto-complete; just the name when absent. */
  readonly config?: MessageInitShape<typeof ModelConfigSchema>;
  /** Read `<model>/config.pbtxt` as the starting config. */
  readonly useConfigFile?: boolean;
  readonly autoComplete?: boolean;
  readonly backendConfig?: ReadonlyMap<string, string>;
  readonly logger?: Logger;
  readonly modelPath?: string;
}

export interface Loaded {
  readonly model: OnnxRuntimeModel;
  /** The completed configuration. */
  readonly config: ModelConfig;
}

/** Loads `<repository>/<name>/1/model.onnx` and completes its config (auto-complete on by default). */
export async function loadModel(name: string, options: LoadOptions = {}): Promise<Loaded> {
  const repository = options.repository ?? FIXTURES;
  const modelDir = path.join(repository, name);
  const config = options.useConfigFile
    ? await readModelConfigFile(path.join(modelDir, 'config.pbtxt'))
    : create(ModelConfigSchema, { name, ...options.config });
  const versionDir = path.join(modelDir, '1');
  const model = await backend.loadModel({
    modelName: name,
    version: 1n,
    modelDir,
    versionDir,
    modelPath: options.modelPath ?? path.join(versionDir, 'model.onnx'),
    config,
    backendConfig: options.backendConfig ?? new Map(),
    autoCompleteConfig: options.autoComplete ?? true,
    logger: options.logger ?? silentLogger,
  });
  const completed = clone(ModelConfigSchema, config);
  try {
    model.completeConfig(completed, { autoComplete: options.autoComplete ?? true });
  } catch (error) {
    await model.close();
    throw error;
  }
  return { model, config: completed };
}

let instanceCounter = 0;

export function createInstance(loaded: Loaded): Promise<BackendInstance> {
  const spec: InstanceSpec = {
    name: `${loaded.config.name}_0_${instanceCounter++}`,
    groupName: `${loaded.config.name}_0`,
    kind: 'KIND_CPU',
    deviceId: 0,
  };
  return loaded.model.createInstance(spec, loaded.config);
}

export function tensor(name: string, datatype: Datatype, shape: number[], data: Uint8Array): Tensor {
  return { name, datatype, shape, data };
}

/** Wire bytes of a TypedArray (a view, no copy). */
export function bytesOf(array: ArrayBufferView): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export function request(inputs: Tensor[], outputs: string[], batchSize = 1): InferenceRequest {
  return {
    modelName: 'test',
    modelVersion: 1n,
    id: '',
    parameters: {},
    inputs,
    batchSize,
    requestedOutputs: outputs.map((name) => ({ name, classificationCount: 0, parameters: {} })),
    priority: 0,
    timeoutMicroseconds: 0,
  };
}

/** The tensors of a successful response, or a failed assertion-friendly error. */
export function tensorsOf(response: readonly Tensor[] | Error | undefined): readonly Tensor[] {
  if (response === undefined) throw new Error('no response');
  if (response instanceof Error) throw response;
  return response;
}
