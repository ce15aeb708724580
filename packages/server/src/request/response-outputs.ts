import { elementCount } from '@nereid/protocol';
import { internal } from '../errors/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { classify } from './classification.js';
import type { InferenceRequest } from './inference-request.js';
import type { OutputTensor } from './infer-response.js';
import type { ModelSignature } from './model-signature.js';
import { resolveWildcards } from './normalize.js';

/**
 * Turns what a backend produced for one request into the response outputs, in the order the request
 * asked for them: shapes mapped back from `reshape` to the config dims, classification applied.
 */
export function buildResponseOutputs(
  request: InferenceRequest,
  signature: ModelSignature,
  produced: readonly Tensor[],
): OutputTensor[] {
  const byName = new Map(produced.map((tensor) => [tensor.name, tensor]));
  const batching = signature.maxBatchSize > 0;
  return request.requestedOutputs.map((requested) => {
    const tensor = byName.get(requested.name);
    if (!tensor) {
      throw internal(`model '${signature.modelName}' produced no output '${requested.name}'`);
    }
    const spec = signature.outputs.get(requested.name);
    let result: Tensor = tensor;
    if (spec?.reshape) {
      const items = batching ? (tensor.shape[0] ?? 0) : 1;
      const perItem = items === 0 ? 0 : elementCount(tensor.shape) / items;
      const dims = resolveWildcards(spec.dims, perItem);
      result = { ...tensor, shape: batching ? [items, ...dims] : dims };
    }
    if (requested.classificationCount > 0) {
      result = classify(result, requested.classificationCount, batching, signature.labels.get(requested.name));
    }
    return { name: result.name, datatype: result.datatype, shape: result.shape, data: result.data, parameters: requested.parameters };
  });
}
