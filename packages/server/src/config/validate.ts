import {
  DataType,
  ModelInstanceGroup_Kind,
  type ModelConfig,
  type ModelInput,
  type ModelOutput,
} from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../errors/index.js';
import { WILDCARD_DIM, fixedElementCount, toNumbers } from './dims.js';
import { validateEnsembleScheduling } from './ensemble-graph.js';

/**
 * Checks a normalised configuration the way Triton's ValidateModelConfig does. Each failure is an
 * INVALID_ARG whose message names the field (and the model, as Triton's messages do).
 */
export function validateModelConfig(config: ModelConfig, options: { readonly gpus: readonly number[] }): void {
  const model = config.name;
  if (model === '') throw invalidArg("model configuration must specify 'name'");
  if (config.platform === '' && config.backend === '') {
    throw invalidArg(`must specify 'platform' or 'backend' for '${model}'`);
  }
  if (config.maxBatchSize < 0) throw invalidArg(`'max_batch_size' must be non-negative value for ${model}`);
  if (!config.versionPolicy) throw invalidArg(`must specify 'version policy' for ${model}`);
  validateVersionPolicy(config);
  validateEnsembleScheduling(config);
  validateScheduling(config);
  validateTensors(config.input, 'input', config.maxBatchSize, model);
  validateTensors(config.output, 'output', config.maxBatchSize, model);
  validateInstanceGroups(config, options.gpus);
  validateResponseCache(config);
}

/** Triton refuses the response cache where a request's answer is not one response to one request. */
function validateResponseCache(config: ModelConfig): void {
  if (config.responseCache?.enable !== true) return;
  if (config.schedulingChoice.case === 'sequenceBatching') {
    throw invalidArg(
      `Response Cache does not currently support model ${config.name} with sequence batching scheduler. ` +
        'Please disable the response cache.',
    );
  }
  if (config.modelTransactionPolicy?.decoupled === true) {
    throw invalidArg(
      `Response Cache does not currently support model ${config.name} with 'decoupled' transaction policy. ` +
        'Please disable the response cache.',
    );
  }
}

function validateVersionPolicy(config: ModelConfig): void {
  const policy = config.versionPolicy?.policyChoice;
  if (policy?.case === 'latest' && policy.value.numVersions < 1) {
    throw invalidArg(`'version_policy.latest.num_versions' must be at least 1 for ${config.name}`);
  }
  if (policy?.case === 'specific') {
    for (const version of policy.value.versions) {
      if (version < 0n) throw invalidArg(`'version_policy.specific.versions' has negative version ${version} for ${config.name}`);
    }
  }
}

function validateScheduling(config: ModelConfig): void {
  const scheduling = config.schedulingChoice;
  if (scheduling.case !== 'dynamicBatching') return;
  const batching = scheduling.value;
  for (const size of batching.preferredBatchSize) {
    if (size <= 0) throw invalidArg(`dynamic batching preferred size must be positive for ${config.name}`);
    if (size > config.maxBatchSize) {
      throw invalidArg(`dynamic batching preferred size must be <= max batch size for ${config.name}`);
    }
  }
  const levels = batching.priorityLevels;
  if (levels === 0n) return;
  if (batching.defaultPriorityLevel === 0n || batching.defaultPriorityLevel > levels) {
    throw invalidArg(`default priority level must be in range [1, ${levels}] for ${config.name}`);
  }
  for (const level of Object.keys(batching.priorityQueuePolicy)) {
    const value = BigInt(level);
    if (value === 0n || value > levels) {
      throw invalidArg(`priority queue policy must have priority level in range [1, ${levels}] for ${config.name}`);
    }
  }
}

function validateTensors(
  tensors: readonly (ModelInput | ModelOutput)[],
  kind: 'input' | 'output',
  maxBatchSize: number,
  model: string,
): void {
  const seen = new Set<string>();
  for (const io of tensors) {
    const prefix = `model ${kind} '${io.name}' `;
    if (io.name === '') throw invalidArg(`model ${kind} must specify 'name' for ${model}`);
    if (seen.has(io.name)) throw invalidArg(`${prefix}is specified more than once for ${model}`);
    seen.add(io.name);
    if (io.dataType === DataType.TYPE_INVALID) throw invalidArg(`${prefix}must specify 'data_type' for ${model}`);
    if (io.dims.length === 0) throw invalidArg(`${prefix}must specify 'dims' for ${model}`);
    const dims = toNumbers(io.dims);
    if (dims.some((dim) => dim < 1 && dim !== WILDCARD_DIM)) {
      throw invalidArg(
        `${prefix}dimension must be integer >= 1, or ${WILDCARD_DIM} to indicate a variable-size dimension for ${model}`,
      );
    }
    if (io.reshape) validateReshape(dims, toNumbers(io.reshape.shape), maxBatchSize, prefix, model);
  }
}

function validateReshape(
  dims: readonly number[],
  reshape: readonly number[],
  maxBatchSize: number,
  prefix: string,
  model: string,
): void {
  if (reshape.length === 0 && maxBatchSize === 0) {
    throw invalidArg(
      `${prefix}cannot have empty reshape for non-batching model as scalar tensors are not supported for ${model}`,
    );
  }
  if (reshape.some((dim) => dim < 1 && dim !== WILDCARD_DIM)) {
    throw invalidArg(
      `${prefix}reshape dimensions must be integer >= 1, or ${WILDCARD_DIM} to indicate a variable-size dimension for ${model}`,
    );
  }
  const dimsCount = fixedElementCount(dims);
  const reshapeCount = reshape.length === 0 ? 1 : fixedElementCount(reshape);
  const bothFixed = dimsCount !== undefined && reshapeCount !== undefined;
  const oneVariable = (dimsCount === undefined) !== (reshapeCount === undefined);
  if ((bothFixed && dimsCount !== reshapeCount) || oneVariable) {
    throw invalidArg(`${prefix}has different size for dims and reshape for ${model}`);
  }
}

function validateInstanceGroups(config: ModelConfig, gpus: readonly number[]): void {
  if (config.schedulingChoice.case === 'ensembleScheduling') return;
  if (config.instanceGroup.length === 0) {
    throw invalidArg(`must specify one or more 'instance group's for ${config.name}`);
  }
  for (const group of config.instanceGroup) {
    const prefix = `instance group ${group.name} of model ${config.name}`;
    if (group.count < 1) throw invalidArg(`${prefix} has 'count' ${group.count}; it must be at least 1`);
    switch (group.kind) {
      case ModelInstanceGroup_Kind.GPU:
        if (gpus.length === 0) throw invalidArg(`${prefix} has kind KIND_GPU but no GPUs are available`);
        break;
      case ModelInstanceGroup_Kind.CPU:
        if (group.gpus.length > 0) throw invalidArg(`${prefix} has kind KIND_CPU but specifies one or more GPUs`);
        break;
      case ModelInstanceGroup_Kind.MODEL:
        if (group.gpus.length > 0) throw invalidArg(`${prefix} has kind KIND_MODEL but specifies one or more GPUs`);
        break;
      case ModelInstanceGroup_Kind.AUTO:
        throw invalidArg(`${prefix} has unexpected kind KIND_AUTO`);
    }
  }
}
