/**
 * Auto-complete for onnxruntime models, with Triton's onnxruntime backend rules
 * (AutoCompleteConfig / AutoCompleteMaxBatch / AutoCompleteIO): the model's inputs and outputs
 * decide max_batch_size, dynamic_batching and the missing input/output entries.
 */
import { create } from '@bufbuild/protobuf';
import {
  DataType,
  ModelDynamicBatchingSchema,
  ModelInputSchema,
  ModelOutputSchema,
  ModelTensorReshapeSchema,
  type ModelConfig,
  type ModelInput,
  type ModelOutput,
} from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/server-error.js';
import type { Logger } from '../../observability/logger.js';
import { configTypeOf, datatypeOfOnnx } from './dtype-map.js';
import type { ModelIo, TensorInfo } from './tensor-info.js';

export interface AutoCompleteOptions {
  /** `default-max-batch-size` of --backend-config (Triton's default is 4). */
  readonly defaultMaxBatchSize: number;
  readonly logger: Logger;
}

/** Triton's default for `--backend-config=...,default-max-batch-size=<n>`. */
export const DEFAULT_MAX_BATCH_SIZE = 4;

/** Reads `default-max-batch-size` from the backend settings; INVALID_ARG when it is not a number. */
export function defaultMaxBatchSizeOf(backendConfig: ReadonlyMap<string, string>): number {
  const text = backendConfig.get('default-max-batch-size');
  if (text === undefined) return DEFAULT_MAX_BATCH_SIZE;
  const match = /^\s*([+-]?\d+)/.exec(text);
  if (match?.[1] === undefined) {
    throw invalidArg(`failed to convert '${text}' to integral number for 'default-max-batch-size'`);
  }
  return Math.max(Number(match[1]), 0);
}

/**
 * Fills what `config` leaves out, in place. Does nothing when the config already names at least one
 * input (batch_input entries count) and one output.
 */
export function autoCompleteConfig(config: ModelConfig, io: ModelIo, options: AutoCompleteOptions): void {
  const inputCount = config.input.length + config.batchInput.length;
  const outputCount = config.output.length;
  if (inputCount > 0 && outputCount > 0) {
    options.logger.info(
      `skipping model configuration auto-complete for '${config.name}': inputs and outputs already specified`,
    );
    return;
  }
  autoCompleteMaxBatch(config, io, options);
  if (inputCount === 0) {
    // Initializer-backed inputs are optional, which Triton allows only for models that do not batch.
    const inputs = io.inputs.filter((info) => !info.optional || config.maxBatchSize === 0);
    config.input = inputs.map((info) => autoInput(info, config.maxBatchSize));
  }
  if (outputCount === 0) config.output = io.outputs.map((info) => autoOutput(info, config.maxBatchSize));
}

/**
 * True when every (required) input and output has a dynamic first dimension, so a batch dim can be
 * added. Initializer-backed inputs do not count: a batching model is served without them.
 */
export function supportsBatching(io: ModelIo): boolean {
  const required = io.inputs.filter((info) => !info.optional);
  return [...required, ...io.outputs].every((info) => info.shape.length > 0 && info.shape[0] === -1);
}

function autoCompleteMaxBatch(config: ModelConfig, io: ModelIo, options: AutoCompleteOptions): void {
  if (!supportsBatching(io)) {
    if (config.maxBatchSize !== 0) {
      throw invalidArg(
        `autofill failed for model '${config.name}': model does not support batching while non-zero max_batch_size is specified`,
      );
    }
    return;
  }
  if (config.maxBatchSize === 0) {
    config.maxBatchSize = options.defaultMaxBatchSize;
    options.logger.warn(
      `autofilled max_batch_size to ${config.maxBatchSize} for model '${config.name}' since batching is ` +
        'supported but no max_batch_size is specified in model configuration. Must specify ' +
        'max_batch_size to utilize autofill with a larger max batch size',
    );
  }
  if (config.maxBatchSize > 1 && config.schedulingChoice.case === undefined) {
    config.schedulingChoice = { case: 'dynamicBatching', value: create(ModelDynamicBatchingSchema) };
  }
}

/** dims from the model shape, without the batch dim when batching; scalars get `dims: [1]`. */
function autoDims(info: TensorInfo, maxBatchSize: number): { dims: bigint[]; scalar: boolean } {
  const shape = maxBatchSize > 0 ? info.shape.slice(1) : info.shape;
  if (shape.length === 0) return { dims: [1n], scalar: true };
  return { dims: shape.map((dim) => BigInt(dim)), scalar: false };
}

function autoDataType(info: TensorInfo): DataType {
  const datatype = datatypeOfOnnx(info.type);
  return datatype === undefined ? DataType.TYPE_INVALID : configTypeOf(datatype);
}

function autoInput(info: TensorInfo, maxBatchSize: number): ModelInput {
  const { dims, scalar } = autoDims(info, maxBatchSize);
  const input = create(ModelInputSchema, {
    name: info.name,
    dataType: autoDataType(info),
    dims,
    optional: info.optional === true,
  });
  // An empty reshape without a batch dim would describe a scalar tensor, which configs cannot.
  if (scalar && maxBatchSize > 0) input.reshape = create(ModelTensorReshapeSchema, { shape: [] });
  return input;
}

function autoOutput(info: TensorInfo, maxBatchSize: number): ModelOutput {
  const { dims, scalar } = autoDims(info, maxBatchSize);
  const output = create(ModelOutputSchema, { name: info.name, dataType: autoDataType(info), dims });
  if (scalar && maxBatchSize > 0) output.reshape = create(ModelTensorReshapeSchema, { shape: [] });
  return output;
}
