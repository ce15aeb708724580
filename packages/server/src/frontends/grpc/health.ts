import { create } from '@bufbuild/protobuf';
import {
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  type HealthCheckResponse,
} from '@nereid/protocol/generated/health_pb';
import type { InferenceCore } from '../../core/types.js';
import type { ServiceHandlers, UnaryHandler } from './transport/handlers.js';

/**
 * grpc.health.v1.Health/Check as Triton answers it: SERVING when the server is ready (readiness, not
 * mere liveness; strict readiness includes every model), NOT_SERVING otherwise. Like Triton it does
 * not look at the service name, so '' and 'inference.GRPCInferenceService' get the same answer.
 */
export function healthService(core: InferenceCore): ServiceHandlers {
  const check: UnaryHandler<unknown, HealthCheckResponse> = () =>
    create(HealthCheckResponseSchema, {
      status: core.isReady() ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING,
    });
  return { check };
}
