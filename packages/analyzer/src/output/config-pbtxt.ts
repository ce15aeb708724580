/**
 * config.pbtxt from a configuration in Triton's JSON form (what GET /v2/models/{m}/config returns),
 * through the generated ModelConfig schema and the text-format printer of @nereid/protocol.
 */
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { printTextProto } from '@nereid/protocol';
import { ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';

/** The configuration as config.pbtxt text, renamed to `name` (a model's folder and config name agree). */
export function configPbtxt(config: Record<string, unknown>, name: string): string {
  const message = fromJson(ModelConfigSchema, { ...config, name } as JsonValue, { ignoreUnknownFields: true });
  return printTextProto(ModelConfigSchema, message);
}
