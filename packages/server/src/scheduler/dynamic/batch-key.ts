import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/index.js';
import type { InferenceRequest } from '../../request/inference-request.js';

/**
 * Which requests may share a batch. As in Triton (backend_model.cc, enforce_equal_shape_tensors):
 * inputs with a variable dim must have equal shapes across the batch (the batch dim aside), shape
 * tensors equal values too, and when the model has optional inputs, the same inputs must be present.
 * Fixed-dim inputs always match (requests were checked against the config). Returns a function from
 * a request to its key ('' for every request when nothing needs checking).
 */
export function batchKeyOf(config: ModelConfig): (request: InferenceRequest) => string {
  const variable = new Set<string>();
  const shapeTensors = new Set<string>();
  let optional = false;
  for (const input of config.input) {
    if (input.optional) optional = true;
    if (input.isShapeTensor) shapeTensors.add(input.name);
    else if (!input.allowRaggedBatch && input.dims.some((dim) => dim < 0n)) variable.add(input.name);
  }
  if (variable.size === 0 && shapeTensors.size === 0 && !optional) return () => '';
  return (request) => {
    let key = '';
    for (const tensor of request.inputs) {
      if (optional) key += `${tensor.name};`;
      if (variable.has(tensor.name) || shapeTensors.has(tensor.name)) key += `${tensor.name}:${tensor.shape.slice(1).join(',')};`;
      // A shape tensor's values shape the model's output, so they must agree too.
      if (shapeTensors.has(tensor.name)) key += `=${Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).toString('hex')};`;
    }
    return key;
  };
}

/**
 * Ragged batching (allow_ragged_batch, batch_input, batch_output) needs the backend to assemble
 * ragged inputs and the batch tensors; Nereid's backends do not yet, so such a model is refused at
 * load rather than batched wrongly.
 */
export function refuseRaggedBatching(config: ModelConfig): void {
  const ragged = config.input.find((input) => input.allowRaggedBatch);
  if (ragged !== undefined) {
    throw invalidArg(
      `model '${config.name}': input '${ragged.name}' sets allow_ragged_batch, but ragged batching is not supported yet; ` +
        'remove allow_ragged_batch (requests of different shapes are then never batched together)',
    );
  }
  if (config.batchInput.length > 0 || config.batchOutput.length > 0) {
    throw invalidArg(
      `model '${config.name}': batch_input and batch_output (ragged batching) are not supported yet`,
    );
  }
}
