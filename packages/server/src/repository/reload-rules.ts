import { clone, create, equals } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';

/**
 * What a changed configuration asks of loaded versions (Triton's model_lifecycle): a full reload,
 * or only new instances on the same weights.
 */

/** Triton's ConfigChangeRequiresReload: any difference but instance_group and version_policy. */
export function configChangeRequiresReload(before: ModelConfig, after: ModelConfig): boolean {
  const strip = (config: ModelConfig): ModelConfig => {
    const copy = clone(ModelConfigSchema, config);
    copy.instanceGroup = [];
    copy.versionPolicy = undefined;
    return copy;
  };
  return !equals(ModelConfigSchema, strip(before), strip(after));
}

/** The instance groups are the same (nothing to apply in place). */
export function sameInstanceGroups(before: ModelConfig | undefined, after: ModelConfig): boolean {
  if (before === undefined) return true;
  return equals(ModelConfigSchema, create(ModelConfigSchema, { instanceGroup: before.instanceGroup }), create(ModelConfigSchema, { instanceGroup: after.instanceGroup }));
}
