import type { AutoCompleteConfig } from './model-api.js';

type Json = Record<string, unknown>;
type TensorJson = { name: string; data_type: string; dims: number[]; optional?: boolean };

/**
 * Triton's auto_complete_model_config helpers over the configuration's JSON form, with the Python
 * backend's checks and texts: an input or output already configured must agree with what the model
 * adds, and max_batch_size cannot change once it is set and the model batches.
 */
export function createAutoCompleteConfig(config: Json, modelName: string): AutoCompleteConfig {
  const list = (key: 'input' | 'output'): TensorJson[] => ((config[key] ??= []) as TensorJson[]);
  const dataType = (value: string): string => (value.startsWith('TYPE_') ? value : value === 'BYTES' ? 'TYPE_STRING' : `TYPE_${value}`);
  const add = (key: 'input' | 'output', tensor: TensorJson): void => {
    if (typeof tensor?.name !== 'string') throw new Error(`${key} in auto-complete-config function for model '${modelName}' is missing 'name' property.`);
    const wanted = { ...tensor, data_type: dataType(String(tensor.data_type)), dims: [...tensor.dims] };
    const existing = list(key).find((entry) => entry.name === tensor.name);
    if (existing === undefined) {
      list(key).push(wanted);
      return;
    }
    if (existing.data_type !== undefined && existing.data_type !== 'TYPE_INVALID' && existing.data_type !== wanted.data_type) {
      throw new Error(`${key} '${tensor.name}' in auto-complete-config function for model '${modelName}' data_type is ${wanted.data_type} but model configuration data_type is ${existing.data_type}.`);
    }
    if (existing.dims !== undefined && existing.dims.length > 0 && JSON.stringify(existing.dims) !== JSON.stringify(wanted.dims)) {
      throw new Error(`${key} '${tensor.name}' in auto-complete-config function for model '${modelName}' dims are [${wanted.dims.join(', ')}] but model configuration dims are [${existing.dims.join(', ')}].`);
    }
    existing.data_type = wanted.data_type;
    existing.dims = wanted.dims;
  };
  return {
    asDict: () => config,
    maxBatchSize: () => Number(config['max_batch_size'] ?? 0),
    setMaxBatchSize(size) {
      const current = Number(config['max_batch_size'] ?? 0);
      if (current !== 0 && current !== size) {
        throw new Error(`configuration specified max_batch_size ${current}, but in auto-complete-config function for model '${modelName}' specified max_batch_size ${size}`);
      }
      config['max_batch_size'] = size;
    },
    addInput: (input) => add('input', input as TensorJson),
    addOutput: (output) => add('output', output as TensorJson),
    setDynamicBatching() {
      if (config['sequence_batching'] !== undefined) throw new Error(`Configuration specified scheduling_choice as 'sequence_batching', but auto-complete-config function for model '${modelName}' tries to set scheduling_choice as 'dynamic_batching'`);
      config['dynamic_batching'] ??= {};
    },
    setModelTransactionPolicy(policy) {
      config['model_transaction_policy'] = { decoupled: policy.decoupled === true };
    },
  };
}
