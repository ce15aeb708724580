import { create } from '@bufbuild/protobuf';
import * as pb from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore, TensorMetadata } from '../../core/types.js';
import type { Logger } from '../../observability/logger.js';
import { requestedVersion } from '../../request/model-version.js';
import { modelInferHandler, type DecoupledProbe } from './infer.js';
import { repositoryIndex, repositoryModelLoad, repositoryModelUnload } from './repository.js';
import { logSettings, traceSetting } from './settings.js';
import * as shm from './shared-memory.js';
import { statisticsToProto } from './statistics.js';
import { modelStreamInferHandler } from './stream-infer.js';
import { NEVER_DRAINING, type DrainingProbe } from './shutting-down.js';
import type { ServiceHandlers, UnaryHandler } from './transport/handlers.js';

/**
 * The GRPCInferenceService table: one handler per RPC, keyed by the method's camelCase name. Each
 * converts the request, calls the core, and converts the answer; nothing here decides anything the
 * HTTP frontend would decide differently.
 */
export function inferenceService(
  core: InferenceCore,
  logger: Logger,
  isDecoupled: DecoupledProbe,
  isDraining: DrainingProbe = NEVER_DRAINING,
): ServiceHandlers {
  return {
    ...metadataHandlers(core),
    modelInfer: modelInferHandler(core, isDecoupled),
    modelStreamInfer: modelStreamInferHandler(core, logger, isDecoupled, isDraining),
    modelStatistics: unary((request: pb.ModelStatisticsRequest) =>
      statisticsToProto(core.modelStatistics(request.name, requestedVersion(request.version))),
    ),
    repositoryIndex: unary((request: pb.RepositoryIndexRequest) => repositoryIndex(core, request)),
    repositoryModelLoad: unary((request: pb.RepositoryModelLoadRequest) => repositoryModelLoad(core, request)),
    repositoryModelUnload: unary((request: pb.RepositoryModelUnloadRequest) =>
      repositoryModelUnload(core, request),
    ),
    ...sharedMemoryHandlers(core),
    traceSetting: unary((request: pb.TraceSettingRequest) => traceSetting(core, request)),
    logSettings: unary((request: pb.LogSettingsRequest) => logSettings(core, request)),
  };
}

function metadataHandlers(core: InferenceCore): ServiceHandlers {
  return {
    serverLive: unary(() => create(pb.ServerLiveResponseSchema, { live: core.isLive() })),
    serverReady: unary(() => create(pb.ServerReadyResponseSchema, { ready: core.isReady() })),
    modelReady: unary((request: pb.ModelReadyRequest) =>
      create(pb.ModelReadyResponseSchema, { ready: core.isModelReady(request.name, requestedVersion(request.version)) }),
    ),
    serverMetadata: unary(() => {
      const metadata = core.serverMetadata();
      return create(pb.ServerMetadataResponseSchema, {
        name: metadata.name,
        version: metadata.version,
        extensions: [...metadata.extensions],
      });
    }),
    modelMetadata: unary((request: pb.ModelMetadataRequest) => {
      const metadata = core.modelMetadata(request.name, requestedVersion(request.version));
      return create(pb.ModelMetadataResponseSchema, {
        name: metadata.name,
        versions: [...metadata.versions],
        platform: metadata.platform,
        inputs: metadata.inputs.map(tensorMetadata),
        outputs: metadata.outputs.map(tensorMetadata),
      });
    }),
    modelConfig: unary((request: pb.ModelConfigRequest) =>
      create(pb.ModelConfigResponseSchema, { config: core.modelConfig(request.name, requestedVersion(request.version)) }),
    ),
  };
}

function sharedMemoryHandlers(core: InferenceCore): ServiceHandlers {
  return {
    systemSharedMemoryStatus: unary((request: pb.SystemSharedMemoryStatusRequest) =>
      shm.systemSharedMemoryStatus(core, request.name),
    ),
    systemSharedMemoryRegister: unary((request: pb.SystemSharedMemoryRegisterRequest) =>
      shm.systemSharedMemoryRegister(core, request),
    ),
    systemSharedMemoryUnregister: unary((request: pb.SystemSharedMemoryUnregisterRequest) =>
      shm.systemSharedMemoryUnregister(core, request.name),
    ),
    cudaSharedMemoryStatus: unary((request: pb.CudaSharedMemoryStatusRequest) =>
      shm.cudaSharedMemoryStatus(core, request.name),
    ),
    cudaSharedMemoryRegister: unary((request: pb.CudaSharedMemoryRegisterRequest) =>
      shm.cudaSharedMemoryRegister(core, request),
    ),
    cudaSharedMemoryUnregister: unary((request: pb.CudaSharedMemoryUnregisterRequest) =>
      shm.cudaSharedMemoryUnregister(core, request.name),
    ),
  };
}

function tensorMetadata(tensor: TensorMetadata): Omit<pb.ModelMetadataResponse_TensorMetadata, '$typeName'> {
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape.map((dim) => BigInt(dim)) };
}

/** Types a unary handler's request (the transport decodes it with the method's schema). */
function unary<Request, Response>(answer: (request: Request) => Response | Promise<Response>): UnaryHandler<never, unknown> {
  return answer as UnaryHandler<never, unknown>;
}
