/**
 * config.pbtxt from a configuration in Triton's JSON form (what GET /v2/models/{m}/config returns),
 * through the generated ModelConfig schema and the text-format printer of @nereid/protocol.
 */
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { printTextProto } from '@nereid/protocol';
import { ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';

/**
 * The configuration as config.pbtxt text, renamed to `name` (a model's folder and config name
 * agree); instance groups lose the names the server gave them after the old model name.
 */
export function configPbtxt(config: Record<string, unknown>, name: string): string {
  const groups = Array.isArray(config['instance_group']) ? (config['instance_group'] as unknown[]) : undefined;
  const renamed: Record<string, unknown> = { ...config, name };
  if (groups !== undefined) {
    renamed['instance_group'] = groups.map((group) => {
      if (typeof group !== 'object' || group === null) return group;
      const { name: _dropped, ...rest } = group as Record<string, unknown>;
      return rest;
    });
  }
  const message = fromJson(ModelConfigSchema, renamed as JsonValue, { ignoreUnknownFields: true });
  return printTextProto(ModelConfigSchema, message);
}
