import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';
import { Health } from '@nereid/protocol/generated/health_pb';
import { healthService } from '../../../../src/frontends/grpc/health.js';
import { NO_DECOUPLED_MODELS } from '../../../../src/frontends/grpc/infer.js';
import { inferenceService } from '../../../../src/frontends/grpc/service.js';
import { routeTable } from '../../../../src/frontends/grpc/transport/method-table.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { EchoCore } from '../../../helpers/echo-core.js';

/** The handler tables cover every RPC of the protos, and the route table serves them at Triton's paths. */

describe('gRPC service tables', () => {
  it('implement every GRPCInferenceService and Health method', () => {
    const core = new EchoCore();
    const inference = inferenceService(core, silentLogger, NO_DECOUPLED_MODELS);
    assert.deepEqual(Object.keys(inference).sort(), GRPCInferenceService.methods.map((m) => m.localName).sort());
    assert.deepEqual(Object.keys(healthService(core)), Health.methods.map((m) => m.localName));
  });

  it("route Triton's method paths with their streaming kinds", () => {
    const core = new EchoCore();
    const routes = routeTable([
      { service: GRPCInferenceService, handlers: inferenceService(core, silentLogger, NO_DECOUPLED_MODELS) },
      { service: Health, handlers: healthService(core) },
    ]);
    assert.equal(routes.size, 21);
    assert.equal(routes.get('/inference.GRPCInferenceService/ModelInfer')?.kind, 'unary');
    assert.equal(routes.get('/inference.GRPCInferenceService/ModelStreamInfer')?.kind, 'stream');
    assert.equal(routes.get('/inference.GRPCInferenceService/ServerLive')?.kind, 'unary');
    assert.equal(routes.get('/grpc.health.v1.Health/Check')?.kind, 'unary');
  });

  it('refuse a service with a method left unimplemented', () => {
    assert.throws(() => routeTable([{ service: Health, handlers: {} }]), /no handler for grpc.health.v1.Health\/Check/);
  });
});
