import { DataType, type ModelConfig, type ModelEnsembling_Step } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../errors/index.js';
import { WILDCARD_DIM, toNumbers } from './dims.js';

/**
 * The ensemble's pipeline as Triton reads it: which steps exist, and whether their tensors form a
 * graph that can run. Two checks, with Triton's texts: `validateEnsembleScheduling` on the
 * ensemble's own config (ValidateEnsembleSchedulingConfig, at config validation) and
 * `validateEnsembleMembers` against the members' completed configs (ValidateEnsembleConfig, once
 * the members are loaded).
 */

export const ENSEMBLE_PLATFORM = 'ensemble';

/** One step of the pipeline. */
export interface EnsembleStep {
  readonly index: number;
  readonly modelName: string;
  /** -1: the latest ready version. */
  readonly modelVersion: bigint;
  /** Member input name → ensemble tensor name. */
  readonly inputMap: ReadonlyMap<string, string>;
  /** Member output name → ensemble tensor name. */
  readonly outputMap: ReadonlyMap<string, string>;
}

export function isEnsemble(config: ModelConfig): boolean {
  return config.platform === ENSEMBLE_PLATFORM || config.schedulingChoice.case === 'ensembleScheduling';
}

/** The steps of an ensemble config (empty for other models). */
export function ensembleSteps(config: ModelConfig): EnsembleStep[] {
  if (config.schedulingChoice.case !== 'ensembleScheduling') return [];
  return config.schedulingChoice.value.step.map((step, index) => ({
    index,
    modelName: step.modelName,
    modelVersion: step.modelVersion,
    inputMap: new Map(Object.entries(step.inputMap)),
    outputMap: new Map(Object.entries(step.outputMap)),
  }));
}

/** Names of the models an ensemble's steps run (each once). */
export function ensembleMembers(config: ModelConfig): string[] {
  return [...new Set(ensembleSteps(config).map((step) => step.modelName))];
}

interface GraphTensor {
  readonly name: string;
  produced: boolean;
  ready: boolean;
  readonly prev: GraphTensor[];
  readonly next: GraphTensor[];
}

/** Triton's ValidateEnsembleSchedulingConfig (and the platform rules of ValidateModelConfig). */
export function validateEnsembleScheduling(config: ModelConfig): void {
  const name = config.name;
  const scheduling = config.schedulingChoice;
  if (scheduling.case !== 'ensembleScheduling') {
    if (config.platform === ENSEMBLE_PLATFORM) {
      throw invalidArg(`ensemble scheduling must be set for ensemble ${name} whose platform is ${ENSEMBLE_PLATFORM}`);
    }
    return;
  }
  if (config.platform !== ENSEMBLE_PLATFORM) {
    throw invalidArg(`ensemble scheduling cannot be set for model '${name}' whose platform is not ${ENSEMBLE_PLATFORM}`);
  }
  if (config.backend !== '') {
    throw invalidArg(`Ensemble model '${name}' must have platform type '${ENSEMBLE_PLATFORM}' and empty backend type`);
  }
  if (config.instanceGroup.length !== 0) throw invalidArg(`instance group should not be specified for ensemble '${name}'`);
  if (config.optimization !== undefined) throw invalidArg(`optimization should not be specified for ensemble '${name}'`);
  if (config.modelWarmup.length !== 0) throw invalidArg(`model_warmup can not be specified for ensemble '${name}'`);
  if (scheduling.value.step.length === 0) throw invalidArg(`must specify 'step' for ensemble '${name}'`);

  const tensors = buildGraph(name, scheduling.value.step);
  const queue: GraphTensor[] = [];
  for (const input of config.input) {
    const tensor = tensors.get(input.name);
    if (tensor === undefined) throw invalidArg(`ensemble input '${input.name}' for ensemble ${name}' is not used`);
    tensor.ready = true;
    queue.push(tensor);
  }
  // Tensors become ready once every tensor their step reads is ready (a cycle never does).
  for (let i = 0; i < queue.length; i++) {
    for (const next of queue[i]!.next) {
      if (next.ready) continue;
      if (next.prev.every((prev) => prev.ready)) {
        next.ready = true;
        queue.push(next);
      }
    }
  }
  const outputs = new Set<string>();
  for (const output of config.output) {
    const tensor = tensors.get(output.name);
    if (tensor === undefined) throw invalidArg(`ensemble output '${output.name}' for ensemble ${name}' is not used`);
    if (!tensor.ready) {
      const source = firstUnconnected(tensor);
      throw invalidArg(
        `output '${output.name}' for ensemble '${name}' is not written` +
          (source === tensor ? '' : `: at least one of its depending tensors, '${source.name}', is not connected`),
      );
    }
    outputs.add(output.name);
  }
  for (const tensor of tensors.values()) {
    if (outputs.has(tensor.name)) continue;
    if (!tensor.ready || tensor.next.length === 0) throw invalidArg(`ensemble tensor '${tensor.name}' is unused in ensemble '${name}'`);
  }
}

/** Triton's BuildEnsembleGraph: a tensor node per ensemble tensor, linked from a step's inputs to its outputs. */
function buildGraph(ensemble: string, steps: readonly ModelEnsembling_Step[]): Map<string, GraphTensor> {
  const tensors = new Map<string, GraphTensor>();
  const node = (name: string): GraphTensor => {
    let tensor = tensors.get(name);
    if (tensor === undefined) {
      tensor = { name, produced: false, ready: false, prev: [], next: [] };
      tensors.set(name, tensor);
    }
    return tensor;
  };
  steps.forEach((step, index) => {
    if (step.modelName === '') throw invalidArg(`must specify 'model_name' in step ${index} of ensemble '${ensemble}'`);
    const inputs = Object.entries(step.inputMap);
    const outputs = Object.entries(step.outputMap);
    if (inputs.length === 0) throw invalidArg(`must specify 'input_map' in step ${index} of ensemble '${ensemble}'`);
    if (outputs.length === 0) throw invalidArg(`must specify 'output_map' in step ${index} of ensemble '${ensemble}'`);
    const produced = outputs.map(([, tensorName]) => {
      const tensor = node(tensorName);
      if (tensor.produced) {
        throw invalidArg(`ensemble tensor '${tensorName}' can appear in an output map only once for ensemble '${ensemble}' step ${index}`);
      }
      tensor.produced = true;
      return tensor;
    });
    // (A map cannot hold one member input twice, Triton's "mapped to multiple ensemble tensors".)
    for (const [, tensorName] of inputs) {
      const input = node(tensorName);
      for (const output of produced) {
        output.prev.push(input);
        input.next.push(output);
      }
    }
  });
  return tensors;
}

/** Follows not-ready producers back to the first tensor nothing feeds (cycles stop at a seen name). */
function firstUnconnected(tensor: GraphTensor): GraphTensor {
  const seen = new Set<string>();
  let last = tensor;
  let prev: GraphTensor[] | undefined = tensor.prev;
  while (prev !== undefined && prev.length > 0) {
    const candidates: GraphTensor[] = prev;
    prev = undefined;
    for (const node of candidates) {
      if (!node.ready && !seen.has(node.name)) {
        seen.add(node.name);
        last = node;
        prev = node.prev;
        break;
      }
    }
  }
  return last;
}

/** A tensor's type and shape as one side of the ensemble sees it. */
interface TensorView {
  readonly model: string;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  /** dims with the batch dimension (-1) in front when that side batches. */
  readonly fullDims: readonly number[];
}

function view(model: string, batching: boolean, dataType: DataType, dims: readonly number[]): TensorView {
  return { model, dataType, dims, fullDims: batching ? [WILDCARD_DIM, ...dims] : dims };
}

/**
 * Triton's ValidateEnsembleConfig: each member's `max_batch_size` covers the ensemble's, every step
 * maps existing member inputs and outputs, every required member input is fed, and producer and
 * consumer of each ensemble tensor agree on datatype and shape. `memberConfig` gives the member's
 * completed config for a step.
 */
export function validateEnsembleMembers(config: ModelConfig, memberConfig: (step: EnsembleStep) => ModelConfig): void {
  const ensemble = config.name;
  const batching = config.maxBatchSize > 0;
  const tensors = new Map<string, TensorView>();
  for (const tensor of [...config.input, ...config.output]) {
    const dims = tensor.reshape !== undefined ? toNumbers(tensor.reshape.shape) : toNumbers(tensor.dims);
    tensors.set(tensor.name, view(ensemble, batching, tensor.dataType, dims));
  }
  for (const step of ensembleSteps(config)) {
    const member = memberConfig(step);
    if (member.maxBatchSize !== 0 && member.maxBatchSize < config.maxBatchSize) {
      throw invalidArg(
        `ensemble ${ensemble} allows maximum batch size ${config.maxBatchSize}, but it contains model ${step.modelName} ` +
          `which only allows maximum batch size to be ${member.maxBatchSize}`,
      );
    }
    const memberBatching = member.maxBatchSize > 0;
    const inputs = new Map(member.input.map((input) => [input.name, input]));
    for (const [inputName, tensorName] of step.inputMap) {
      if (!inputs.has(inputName)) {
        throw invalidArg(
          `in ensemble ${ensemble}, ensemble tensor ${tensorName} is mapping to non-existing input ${inputName} in model ${step.modelName}`,
        );
      }
    }
    for (const input of member.input) {
      const tensorName = step.inputMap.get(input.name);
      if (tensorName === undefined) {
        if (input.optional) continue;
        throw invalidArg(`in ensemble ${ensemble}, input ${input.name} in model ${step.modelName} is not mapped to any ensemble tensors`);
      }
      agree(tensors, tensorName, view(step.modelName, memberBatching, input.dataType, toNumbers(input.dims)), ensemble);
    }
    const outputs = new Map(member.output.map((output) => [output.name, output]));
    for (const [outputName, tensorName] of step.outputMap) {
      const output = outputs.get(outputName);
      if (output === undefined) {
        throw invalidArg(
          `in ensemble ${ensemble}, ensemble tensor ${tensorName} is mapped from non-existing output ${outputName} in model ${step.modelName}`,
        );
      }
      agree(tensors, tensorName, view(step.modelName, memberBatching, output.dataType, toNumbers(output.dims)), ensemble);
    }
  }
}

/** Records `side` for the tensor, or checks it against what another side said (Triton's ValidateTensorConsistency). */
function agree(tensors: Map<string, TensorView>, tensorName: string, side: TensorView, ensemble: string): void {
  const known = tensors.get(tensorName);
  if (known === undefined) {
    tensors.set(tensorName, side);
    return;
  }
  const prefix = `in ensemble ${ensemble}, ensemble tensor ${tensorName}: `;
  if (known.dataType !== side.dataType) {
    throw invalidArg(
      `${prefix}inconsistent data type: ${dataTypeName(known.dataType)} is inferred from model ${known.model} while ` +
        `${dataTypeName(side.dataType)} is inferred from model ${side.model}`,
    );
  }
  if (!sameDims(known.dims, side.dims) && !sameDims(known.fullDims, side.fullDims)) {
    throw invalidArg(
      `${prefix}inconsistent shape: ${dimsText(known.fullDims)} is inferred from model ${known.model} while ` +
        `${dimsText(side.fullDims)} is inferred from model ${side.model}`,
    );
  }
}

/** Triton's CompareDimsWithWildcard: same rank, each pair equal or one of them -1. */
function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === WILDCARD_DIM || b[i] === WILDCARD_DIM || dim === b[i]);
}

function dimsText(dims: readonly number[]): string {
  return `[${dims.join(',')}]`;
}

function dataTypeName(type: DataType): string {
  return DataType[type] ?? String(type);
}
