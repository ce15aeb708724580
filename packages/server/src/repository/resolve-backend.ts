import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { Backend } from '../backends/backend.js';
import type { BackendRegistry } from '../backends/backend-registry.js';
import { invalidArg, unsupported } from '../errors/index.js';

/**
 * Fills `name`, `backend`, `platform` and `default_model_filename` the way Triton's core does before
 * a backend sees the configuration (AutoCompleteBackendFields): from the platform, the model file
 * name, or the files in the first version folder. Returns the backend that will serve the model.
 */
export function resolveBackend(
  config: ModelConfig,
  modelName: string,
  firstVersionFiles: readonly string[],
  registry: BackendRegistry,
): Backend {
  if (config.name === '') config.name = modelName;
  if (config.name !== modelName) {
    throw invalidArg(
      `unexpected directory name '${modelName}' for model '${config.name}', directory name must equal model name`,
    );
  }
  if (config.backend === '') config.backend = inferBackendName(config, firstVersionFiles, registry);
  if (config.backend === '') {
    throw unsupported(
      config.platform === ''
        ? `could not determine the backend of model '${modelName}': set 'backend' or 'platform' in its config.pbtxt ` +
            `or add a model file (${registry.all().map((b) => b.defaultModelFilename).join(', ')})`
        : `platform '${config.platform}' of model '${modelName}' is not supported; supported platforms: ` +
            registry.all().flatMap((b) => b.platforms).join(', '),
    );
  }
  const backend = registry.byName(config.backend);
  if (!backend) {
    throw unsupported(
      `backend '${config.backend}' of model '${modelName}' is not available; available backends: ` +
        registry.all().map((b) => b.name).join(', '),
    );
  }
  if (config.platform === '') config.platform = backend.defaultPlatform;
  // A backend without platforms (python, as in Triton) leaves `platform` empty.
  const platformOk = backend.platforms.length === 0 ? config.platform === '' : backend.platforms.includes(config.platform);
  if (!platformOk) {
    throw invalidArg(`unexpected 'platform' and 'backend' pair, got:${config.platform}, ${config.backend}`);
  }
  if (config.defaultModelFilename === '') {
    config.defaultModelFilename = backend.modelFilenames?.find((name) => firstVersionFiles.includes(name)) ?? backend.defaultModelFilename;
  }
  return backend;
}

function inferBackendName(config: ModelConfig, files: readonly string[], registry: BackendRegistry): string {
  if (config.platform !== '') return registry.byPlatform(config.platform)?.name ?? '';
  const names = (b: Backend): readonly string[] => b.modelFilenames ?? [b.defaultModelFilename];
  const byFile = registry.all().find((b) =>
    config.defaultModelFilename === '' ? names(b).some((name) => files.includes(name)) : names(b).includes(config.defaultModelFilename),
  );
  return byFile?.name ?? '';
}
