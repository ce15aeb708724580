import type { ModelInferRequest, ModelInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import { unsupported } from '../../errors/index.js';
import { decodeInferMessage } from './infer-message.js';
import { inferWithRequestLog } from './request-logging.js';
import { inferResponseToProto } from './convert-response.js';
import type { UnaryHandler } from './transport/handlers.js';

/**
 * Answers whether a model version uses the decoupled transaction policy (0..n responses per request).
 * Only ModelStreamInfer can serve those; `grpc-server.ts` wires the core's answer in.
 */
export type DecoupledProbe = (modelName: string, modelVersion: string) => boolean;

/** Until the core reports transaction policies, no model is decoupled. */
export const NO_DECOUPLED_MODELS: DecoupledProbe = () => false;

/**
 * ModelInfer: one request, one response. A client cancel (or deadline) aborts the request in the
 * core through the call's cancel signal. Decoupled models are refused with UNSUPPORTED, as Triton does.
 */
export function modelInferHandler(
  core: InferenceCore,
  isDecoupled: DecoupledProbe,
): UnaryHandler<ModelInferRequest, ModelInferResponse> {
  return (request, call) =>
    decodeInferMessage(request)
      .then(({ init }) => {
        if (isDecoupled(init.modelName, init.modelVersion)) {
          throw unsupported("ModelInfer RPC doesn't support models with decoupled transaction policy");
        }
        return inferWithRequestLog(core, 'grpc', init, call.metadata, (logged) => core.infer(logged, { signal: call.cancelled }));
      })
      .then((response) => inferResponseToProto(response));
}
