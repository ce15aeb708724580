import { create } from '@bufbuild/protobuf';
import {
  RepositoryIndexResponseSchema,
  RepositoryModelLoadResponseSchema,
  RepositoryModelUnloadResponseSchema,
  type RepositoryIndexRequest,
  type RepositoryIndexResponse,
  type RepositoryModelLoadRequest,
  type RepositoryModelLoadResponse,
  type RepositoryModelUnloadRequest,
  type RepositoryModelUnloadResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore } from '../../core/types.js';
import { invalidArg, quoted, unsupported } from '../../errors/index.js';

/** The model repository extension over gRPC, with Triton's checks of the parameter oneofs. */

function checkNoRepositoryName(name: string): void {
  if (name !== '') throw unsupported("'repository_name' specification is not supported");
}

export async function repositoryIndex(core: InferenceCore, request: RepositoryIndexRequest): Promise<RepositoryIndexResponse> {
  checkNoRepositoryName(request.repositoryName);
  const models = (await core.repositoryIndex({ readyOnly: request.ready })).map((entry) => ({
    name: entry.name,
    version: entry.version ?? '',
    state: entry.state ?? '',
    reason: entry.reason ?? '',
  }));
  return create(RepositoryIndexResponseSchema, { models });
}

/**
 * Load parameters: `config` must be a string_param (ModelConfig JSON) and `file:<path>` a bytes_param
 * (handed to the core as bytes); any other key is refused, as Triton does.
 */
export async function repositoryModelLoad(
  core: InferenceCore,
  request: RepositoryModelLoadRequest,
): Promise<RepositoryModelLoadResponse> {
  checkNoRepositoryName(request.repositoryName);
  const parameters: Record<string, unknown> = {};
  for (const [key, parameter] of Object.entries(request.parameters)) {
    const choice = parameter.parameterChoice;
    if (key === 'config') {
      if (choice.case !== 'stringParam') throw loadParameterType(key, 'string_param');
      parameters[key] = choice.value;
    } else if (key.startsWith('file:')) {
      if (choice.case !== 'bytesParam') throw loadParameterType(key, 'bytes_param');
      parameters[key] = choice.value;
    } else {
      throw invalidArg(`unrecognized load parameter '${quoted(key)}'.`);
    }
  }
  await core.loadModel(request.modelName, parameters);
  return create(RepositoryModelLoadResponseSchema);
}

export async function repositoryModelUnload(
  core: InferenceCore,
  request: RepositoryModelUnloadRequest,
): Promise<RepositoryModelUnloadResponse> {
  checkNoRepositoryName(request.repositoryName);
  let unloadDependents = false;
  const flag = request.parameters['unload_dependents'];
  if (flag !== undefined) {
    if (flag.parameterChoice.case !== 'boolParam') {
      throw invalidArg("invalid value type for 'unload_dependents' parameter, expected bool_param.");
    }
    unloadDependents = flag.parameterChoice.value;
  }
  await core.unloadModel(request.modelName, { unloadDependents });
  return create(RepositoryModelUnloadResponseSchema);
}

function loadParameterType(key: string, expected: string): Error {
  return invalidArg(`invalid value type for load parameter '${quoted(key)}', expected ${expected}.`);
}
