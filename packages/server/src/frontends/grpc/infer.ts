import type { handleUnaryCall } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import { unsupported } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import { decodeInferMessage } from './infer-message.js';
import { inferResponseToProto } from './convert-response.js';
import { toGrpcError } from './reply-error.js';
import { CancelToken } from '../../util/cancel-signal.js';

/**
 * Answers whether a model version uses the decoupled transaction policy (0..n responses per request).
 * Only ModelStreamInfer can serve those; `grpc-server.ts` wires the core's answer in.
 */
export type DecoupledProbe = (modelName: string, modelVersion: string) => boolean;

/** Until the core reports transaction policies, no model is decoupled. */
export const NO_DECOUPLED_MODELS: DecoupledProbe = () => false;

/**
 * ModelInfer: one request, one response. A client cancel (or deadline) aborts the request in the
 * core through its AbortSignal. Decoupled models are refused with UNSUPPORTED, as Triton does.
 */
export function modelInferHandler(
  core: InferenceCore,
  logger: Logger,
  isDecoupled: DecoupledProbe,
): handleUnaryCall<ModelInferRequest, ModelInferResponse> {
  return (call, callback) => {
    const cancellation = new CancelToken();
    const onCancel = (): void => cancellation.cancel();
    call.once('cancelled', onCancel);
    decodeInferMessage(call.request)
      .then(({ init }) => {
        if (isDecoupled(init.modelName, init.modelVersion)) {
          throw unsupported("ModelInfer RPC doesn't support models with decoupled transaction policy");
        }
        return core.infer(init, { signal: cancellation });
      })
      .then(
      (response) => {
        call.off('cancelled', onCancel);
        let message: ModelInferResponse;
        try {
          message = inferResponseToProto(response);
        } catch (error) {
          callback(toGrpcError(error, logger));
          return;
        }
        callback(null, message);
      },
      (error: unknown) => {
        call.off('cancelled', onCancel);
        callback(toGrpcError(error, logger));
      },
    );
  };
}
