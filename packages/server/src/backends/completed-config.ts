import { type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { modelConfigFromJson } from '../config/model-config-json.js';
import { invalidArg } from '../errors/index.js';

/**
 * Replaces `config`, in place, with the configuration a scripting model's own auto-complete
 * returned as JSON (Python's `auto_complete_config`, JavaScript's `autoCompleteConfig`).
 * `invalid` words the error for JSON that is not a model configuration.
 */
export function applyCompletedConfig(config: ModelConfig, completedJson: string, invalid: (reason: string) => string): void {
  let next: ModelConfig;
  try {
    next = modelConfigFromJson(JSON.parse(completedJson));
  } catch (error) {
    throw invalidArg(invalid((error as Error).message));
  }
  for (const key of Object.keys(next) as Array<keyof ModelConfig>) {
    if (key === '$typeName') continue;
    (config as unknown as Record<string, unknown>)[key] = next[key];
  }
}
