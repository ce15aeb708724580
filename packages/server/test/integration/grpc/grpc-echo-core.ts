import type { InferResponseStatistics, ModelStatisticsPayload } from '../../../src/core/types.js';
import type { InferRequestInit } from '../../../src/request/infer-request-init.js';
import type { InferResponse } from '../../../src/request/infer-response.js';
import { EchoCore } from '../../helpers/echo-core.js';

/**
 * The shared EchoCore plus two things the gRPC suite checks: outputs requested into shared memory
 * come back without data (as the real core returns them), and statistics carry non-zero counters,
 * one past 2^53, so the uint64 mapping is exercised.
 */
export class GrpcEchoCore extends EchoCore {
  override async infer(request: InferRequestInit, options?: { readonly signal?: AbortSignal }): Promise<InferResponse> {
    const response = await super.infer(request, options);
    const outputs = response.outputs.map((output) =>
      output.parameters['shared_memory_region'] === undefined ? output : { ...output, data: new Uint8Array(0) },
    );
    return { ...response, outputs };
  }

  override modelStatistics(name: string, version: string): ModelStatisticsPayload {
    const payload = super.modelStatistics(name, version);
    const stats = payload.model_stats.map((entry) => ({
      ...entry,
      inference_count: 7,
      execution_count: 5,
      last_inference: 1_700_000_000_123,
      inference_stats: { ...entry.inference_stats, success: { count: 7, ns: 2 ** 53 + 2 } },
      response_stats: { '0': { ...zeroResponseStats(), success: { count: 7, ns: 1234 } } },
      batch_stats: [
        { batch_size: 1, compute_input: { count: 1, ns: 2 }, compute_infer: { count: 3, ns: 4 }, compute_output: { count: 5, ns: 6 } },
      ],
      memory_usage: [{ type: 'CPU', id: 0, byte_size: 4096 }],
    }));
    return { model_stats: stats };
  }
}

function zeroResponseStats(): InferResponseStatistics {
  const zero = { count: 0, ns: 0 };
  return { compute_infer: zero, compute_output: zero, success: zero, fail: zero, empty_response: zero, cancel: zero };
}
