/**
 * Checks a (completed) configuration against the model the way Triton's onnxruntime backend does
 * when it creates an instance (ValidateInputs / ValidateOutputs): counts, names, datatypes, dims.
 */
import type { ModelConfig, ModelInput, ModelOutput } from '@nereid/protocol/generated/model_config_pb';
import { formatShape } from '@nereid/protocol';
import { internal, invalidArg } from '../../errors/server-error.js';
import { configTypeName, configTypeNameOfOnnx, datatypeOfConfig, onnxTypeOf } from './dtype-map.js';
import type { ModelIo, TensorInfo } from './tensor-info.js';
import { compareNames } from '../../util/compare.js';

/** Throws INVALID_ARG (INTERNAL for datatypes Triton has no ONNX type for) naming the tensor. */
export function validateConfig(config: ModelConfig, io: ModelIo): void {
  validateInputCount(config, io);
  const inputs = new Map(io.inputs.map((info) => [info.name, info]));
  for (const input of config.input) validateInput(config, input, inputs);
  const outputs = new Map(io.outputs.map((info) => [info.name, info]));
  const batchOutputs = new Set(config.batchOutput.flatMap((output) => output.targetName));
  for (const output of config.output) {
    const info = findTensor(output.name, outputs, 'output');
    checkDataType(config, output, info, 'output');
    // batch_output tensors are shaped by the batch, not by the model signature.
    if (!batchOutputs.has(output.name)) checkShape(config, output, info, true);
  }
}

/**
 * Config inputs (optional ones excluded) + batch inputs + sequence controls and states against the
 * model's required inputs (its initializer-backed inputs excluded), as Triton counts them: an
 * initializer-backed input may be left out of the config or listed with `optional: true`.
 */
function validateInputCount(config: ModelConfig, io: ModelIo): void {
  const required = io.inputs.filter((info) => !info.optional).length;
  let expected = config.input.filter((input) => !input.optional).length + config.batchInput.length;
  if (config.schedulingChoice.case === 'sequenceBatching') {
    const sequence = config.schedulingChoice.value;
    expected += sequence.controlInput.length + sequence.state.length;
  }
  if (expected !== required) {
    throw invalidArg(
      `unable to load model '${config.name}', configuration expects ${expected} inputs, model provides ${required}`,
    );
  }
}

function validateInput(
  config: ModelConfig,
  input: ModelInput,
  inputs: ReadonlyMap<string, TensorInfo>,
): void {
  if (input.optional && config.maxBatchSize !== 0) {
    throw invalidArg(
      `unable to load model '${config.name}', optional input '${input.name}' is not supported for models that support batching`,
    );
  }
  const info = findTensor(input.name, inputs, 'input');
  checkDataType(config, input, info, 'input');
  if (input.allowRaggedBatch) {
    if (input.optional) {
      throw invalidArg(
        `unable to load model '${config.name}', configuration expects model provides input with shape [-1] for ragged input '${input.name}', which is not supported for optional input`,
      );
    }
    if (info.shape.length !== 1 || info.shape[0] !== -1) {
      throw invalidArg(
        `unable to load model '${config.name}', configuration expects model provides input with shape [-1] for ragged input '${input.name}', model provides ${formatShape(info.shape)}`,
      );
    }
    return;
  }
  checkShape(config, input, info, false);
}

function findTensor(
  name: string,
  tensors: ReadonlyMap<string, TensorInfo>,
  kind: 'input' | 'output',
): TensorInfo {
  const info = tensors.get(name);
  if (info !== undefined) return info;
  // Sorted like Triton's std::set of names.
  const allowed = [...tensors.keys()].sort(compareNames);
  throw invalidArg(`unexpected inference ${kind} '${name}', allowed ${kind}s are: ${allowed.join(', ')}`);
}

function checkDataType(
  config: ModelConfig,
  io: ModelInput | ModelOutput,
  info: TensorInfo,
  kind: 'input' | 'output',
): void {
  const datatype = datatypeOfConfig(io.dataType);
  if (datatype === undefined) {
    throw internal(
      `unsupported datatype ${configTypeName(io.dataType)} for ${kind} '${io.name}' for model '${config.name}'`,
    );
  }
  if (onnxTypeOf(datatype) !== info.type) {
    throw invalidArg(
      `unable to load model '${config.name}', configuration expects datatype ${configTypeName(io.dataType)} for ${kind} '${io.name}', model provides ${configTypeNameOfOnnx(info.type)}`,
    );
  }
}

/** The shape the model sees: `reshape.shape` when there is one, else `dims`. */
function modelSideDims(io: ModelInput | ModelOutput): number[] {
  return (io.reshape?.shape ?? io.dims).map(Number);
}

function checkShape(
  config: ModelConfig,
  io: ModelInput | ModelOutput,
  info: TensorInfo,
  exact: boolean,
): void {
  const dims = modelSideDims(io);
  if (info.shape.length === 0) {
    // A scalar in the model: the configuration may only say 1s.
    if (dims.some((dim) => dim !== 1)) {
      throw invalidArg(
        `unable to load model '${config.name}', scalar tensor '${io.name}', should only provide 1 in the model configuration when the model doesn't support batching. Model configuration provided: ${formatShape(dims)}.`,
      );
    }
    return;
  }
  compareDims(config, io.name, info.shape, dims, exact);
}

/**
 * Triton's CompareDimsSupported: with batching the model's first dim must be -1 and the rest must
 * match the config dims; a model -1 accepts any config dim unless `exact` (outputs).
 */
function compareDims(
  config: ModelConfig,
  name: string,
  modelShape: readonly number[],
  dims: readonly number[],
  exact: boolean,
): void {
  const batching = config.maxBatchSize > 0;
  if (batching && (modelShape.length === 0 || modelShape[0] !== -1)) {
    throw invalidArg(
      `model '${config.name}', tensor '${name}': for the model to support batching the shape should have at least 1 dimension and the first dimension must be -1; but shape expected by the model is ${formatShape(modelShape)}`,
    );
  }
  const full = batching ? [-1, ...dims] : [...dims];
  const matches =
    modelShape.length === full.length &&
    full.every((dim, i) => {
      const modelDim = modelShape[i];
      return (!exact && modelDim === -1) || modelDim === dim;
    });
  if (matches) return;
  const detail = batching
    ? `${full.length} dimensions (an initial batch dimension because max_batch_size > 0 followed by the explicit tensor shape, making complete shape ${formatShape(full)})`
    : `${full.length} dimensions (shape ${formatShape(full)})`;
  throw invalidArg(
    `model '${config.name}', tensor '${name}': the model expects ${modelShape.length} dimensions (shape ${formatShape(modelShape)}) but the model configuration specifies ${detail}`,
  );
}
