import { create } from '@bufbuild/protobuf';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
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
import { unary } from './unary.js';

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
): UntypedServiceImplementation {
  return {
    ...metadataHandlers(core, logger),
    modelInfer: modelInferHandler(core, logger, isDecoupled),
    modelStreamInfer: modelStreamInferHandler(core, logger, isDecoupled, isDraining),
    modelStatistics: unary(logger, (request: pb.ModelStatisticsRequest) =>
      statisticsToProto(core.modelStatistics(request.name, requestedVersion(request.version))),
    ),
    repositoryIndex: unary(logger, (request: pb.RepositoryIndexRequest) => repositoryIndex(core, request)),
    repositoryModelLoad: unary(logger, (request: pb.RepositoryModelLoadRequest) => repositoryModelLoad(core, request)),
    repositoryModelUnload: unary(logger, (request: pb.RepositoryModelUnloadRequest) =>
      repositoryModelUnload(core, request),
    ),
    ...sharedMemoryHandlers(core, logger),
    traceSetting: unary(logger, (request: pb.TraceSettingRequest) => traceSetting(core, request)),
    logSettings: unary(logger, (request: pb.LogSettingsRequest) => logSettings(core, request)),
  };
}

function metadataHandlers(core: InferenceCore, logger: Logger): UntypedServiceImplementation {
  return {
    serverLive: unary(logger, () => create(pb.ServerLiveResponseSchema, { live: core.isLive() })),
    serverReady: unary(logger, () => create(pb.ServerReadyResponseSchema, { ready: core.isReady() })),
    modelReady: unary(logger, (request: pb.ModelReadyRequest) =>
      create(pb.ModelReadyResponseSchema, { ready: core.isModelReady(request.name, requestedVersion(request.version)) }),
    ),
    serverMetadata: unary(logger, () => {
      const metadata = core.serverMetadata();
      return create(pb.ServerMetadataResponseSchema, {
        name: metadata.name,
        version: metadata.version,
        extensions: [...metadata.extensions],
      });
    }),
    modelMetadata: unary(logger, (request: pb.ModelMetadataRequest) => {
      const metadata = core.modelMetadata(request.name, requestedVersion(request.version));
      return create(pb.ModelMetadataResponseSchema, {
        name: metadata.name,
        versions: [...metadata.versions],
        platform: metadata.platform,
        inputs: metadata.inputs.map(tensorMetadata),
        outputs: metadata.outputs.map(tensorMetadata),
      });
    }),
    modelConfig: unary(logger, (request: pb.ModelConfigRequest) =>
      create(pb.ModelConfigResponseSchema, { config: core.modelConfig(request.name, requestedVersion(request.version)) }),
    ),
  };
}

function sharedMemoryHandlers(core: InferenceCore, logger: Logger): UntypedServiceImplementation {
  return {
    systemSharedMemoryStatus: unary(logger, (request: pb.SystemSharedMemoryStatusRequest) =>
      shm.systemSharedMemoryStatus(core, request.name),
    ),
    systemSharedMemoryRegister: unary(logger, (request: pb.SystemSharedMemoryRegisterRequest) =>
      shm.systemSharedMemoryRegister(core, request),
    ),
    systemSharedMemoryUnregister: unary(logger, (request: pb.SystemSharedMemoryUnregisterRequest) =>
      shm.systemSharedMemoryUnregister(core, request.name),
    ),
    cudaSharedMemoryStatus: unary(logger, (request: pb.CudaSharedMemoryStatusRequest) =>
      shm.cudaSharedMemoryStatus(core, request.name),
    ),
    cudaSharedMemoryRegister: unary(logger, (request: pb.CudaSharedMemoryRegisterRequest) =>
      shm.cudaSharedMemoryRegister(core, request),
    ),
    cudaSharedMemoryUnregister: unary(logger, (request: pb.CudaSharedMemoryUnregisterRequest) =>
      shm.cudaSharedMemoryUnregister(core, request.name),
    ),
  };
}

function tensorMetadata(tensor: TensorMetadata): Omit<pb.ModelMetadataResponse_TensorMetadata, '$typeName'> {
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape.map((dim) => BigInt(dim)) };
}
