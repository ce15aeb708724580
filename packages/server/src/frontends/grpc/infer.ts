import type { ModelInferRequest, ModelInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import { unsupported } from '../../errors/index.js';
import { decodeInferMessage } from './infer-message.js';
import { inferWithRequestLog } from './request-logging.js';
import { inferResponseToProto } from './convert-response.js';
import type { CallContext, UnaryHandler } from './transport/handlers.js';
import type { RequestTrace } from '../../observability/tracing/request-trace.js';
import { nowNs } from '../../util/clock.js';

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
  return (request, call) => {
    const trace = core.startTrace?.(request.modelName, call.metadata);
    if (trace !== undefined) return tracedInfer(core, isDecoupled, request, call, trace);
    return decodeInferMessage(request)
      .then(({ init }) => {
        if (isDecoupled(init.modelName, init.modelVersion)) {
          throw unsupported("ModelInfer RPC doesn't support models with decoupled transaction policy");
        }
        return inferWithRequestLog(core, 'grpc', init, call.metadata, (logged) => core.infer(logged, { signal: call.cancelled }));
      })
      .then((response) => inferResponseToProto(response));
  };
}

/**
 * The same for a sampled request, with Triton's gRPC timestamps: GRPC_WAITREAD_START/END around the
 * request's decoding (the message has arrived when the handler runs), INFER_RESPONSE_COMPLETE, and
 * GRPC_SEND_START/END around the response's sending (until the call's stream closes).
 */
async function tracedInfer(
  core: InferenceCore,
  isDecoupled: DecoupledProbe,
  request: ModelInferRequest,
  call: CallContext,
  trace: RequestTrace,
): Promise<ModelInferResponse> {
  trace.captureTimestamp('GRPC_WAITREAD_START', nowNs());
  try {
    const { init } = await decodeInferMessage(request);
    trace.captureTimestamp('GRPC_WAITREAD_END', nowNs());
    if (isDecoupled(init.modelName, init.modelVersion)) {
      throw unsupported("ModelInfer RPC doesn't support models with decoupled transaction policy");
    }
    const response = await inferWithRequestLog(core, 'grpc', init, call.metadata, (logged) =>
      core.infer(logged, { signal: call.cancelled, trace: trace.root }),
    );
    const now = nowNs();
    trace.captureTimestamp('INFER_RESPONSE_COMPLETE', now);
    trace.captureTimestamp('GRPC_SEND_START', now);
    return inferResponseToProto(response);
  } finally {
    call.onClosed(() => {
      trace.captureTimestamp('GRPC_SEND_END', nowNs());
      trace.finish();
    });
  }
}
