import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';
import { Health } from '@nereid/protocol/generated/health_pb';
import { healthService } from '../../../../src/frontends/grpc/health.js';
import { NO_DECOUPLED_MODELS } from '../../../../src/frontends/grpc/infer.js';
import { inferenceService } from '../../../../src/frontends/grpc/service.js';
import { grpcServiceDefinition } from '../../../../src/frontends/grpc/service-definition.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { EchoCore } from '../../../helpers/echo-core.js';

/** The handler tables cover every RPC of the protos (grpc-js would answer a missing one UNIMPLEMENTED). */

describe('gRPC service tables', () => {
  it('implement every GRPCInferenceService and Health method', () => {
    const core = new EchoCore();
    const inference = inferenceService(core, silentLogger, NO_DECOUPLED_MODELS);
    assert.deepEqual(Object.keys(inference).sort(), GRPCInferenceService.methods.map((m) => m.localName).sort());
    assert.deepEqual(Object.keys(healthService(core, silentLogger)), Health.methods.map((m) => m.localName));
  });

  it("define Triton's method paths and streaming kinds", () => {
    const definition = grpcServiceDefinition(GRPCInferenceService);
    assert.equal(Object.keys(definition).length, 20);
    assert.equal(definition['ModelInfer']?.path, '/inference.GRPCInferenceService/ModelInfer');
    assert.equal(definition['ModelInfer']?.originalName, 'modelInfer');
    assert.deepEqual(
      [definition['ModelStreamInfer']?.requestStream, definition['ModelStreamInfer']?.responseStream],
      [true, true],
    );
    assert.deepEqual([definition['ServerLive']?.requestStream, definition['ServerLive']?.responseStream], [false, false]);
    assert.equal(grpcServiceDefinition(Health)['Check']?.path, '/grpc.health.v1.Health/Check');
  });
});
