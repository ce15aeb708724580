import { configTypeToDatatype, elementByteSize, type Datatype } from '@nereid/protocol';
import { DataType, type ModelConfig, type ModelInput, type ModelOutput } from '@nereid/protocol/generated/model_config_pb';
import { toNumbers } from '../config/dims.js';
import { invalidArg } from '../errors/index.js';

/**
 * What request normalisation needs from a model's configuration, computed once per model version
 * so that nothing on the request path re-reads the config.
 */
export interface ModelSignature {
  readonly modelName: string;
  readonly maxBatchSize: number;
  readonly inputs: ReadonlyMap<string, TensorSpec>;
  readonly outputs: ReadonlyMap<string, TensorSpec>;
  readonly requiredInputs: readonly string[];
  /** Output names in configuration order: the default when a request lists no outputs. */
  readonly outputNames: readonly string[];
  /** Classification labels per output, from `label_filename`. */
  readonly labels: ReadonlyMap<string, readonly string[]>;
  /** Whether requests may name a sequence (the sequence batcher, and later ensembles, take them). */
  readonly acceptsSequences: boolean;
}

export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  /** Config dims, without the batch dimension. */
  readonly dims: readonly number[];
  /** `reshape.shape` when the config sets one: the shape the backend sees (without batch dimension). */
  readonly reshape: readonly number[] | undefined;
  readonly optional: boolean;
  /** Bytes per element; 0 for BYTES. */
  readonly elementSize: number;
  /** Full shape clients see: -1 for the batch dimension when the model batches. */
  readonly clientShape: readonly number[];
}

export function buildModelSignature(
  config: ModelConfig,
  labels: ReadonlyMap<string, readonly string[]> = new Map(),
): ModelSignature {
  const inputs = new Map(config.input.map((io) => [io.name, tensorSpec(io, config)]));
  const outputs = new Map(config.output.map((io) => [io.name, tensorSpec(io, config)]));
  return {
    modelName: config.name,
    maxBatchSize: config.maxBatchSize,
    inputs,
    outputs,
    requiredInputs: config.input.filter((io) => !io.optional).map((io) => io.name),
    outputNames: config.output.map((io) => io.name),
    labels,
    acceptsSequences: config.schedulingChoice.case === 'sequenceBatching' || config.schedulingChoice.case === 'ensembleScheduling',
  };
}

function tensorSpec(io: ModelInput | ModelOutput, config: ModelConfig): TensorSpec {
  const datatype = configTypeToDatatype(DataType[io.dataType]);
  if (!datatype) throw invalidArg(`tensor '${io.name}' of model '${config.name}' has unsupported data_type`);
  const dims = toNumbers(io.dims);
  return {
    name: io.name,
    datatype,
    dims,
    reshape: io.reshape ? toNumbers(io.reshape.shape) : undefined,
    optional: 'optional' in io ? io.optional : false,
    elementSize: elementByteSize(datatype),
    clientShape: config.maxBatchSize > 0 ? [-1, ...dims] : dims,
  };
}
