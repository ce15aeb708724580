import { create } from '@bufbuild/protobuf';
import {
  LogSettingsResponseSchema,
  TraceSettingResponseSchema,
  type LogSettingsRequest,
  type LogSettingsResponse,
  type LogSettingsResponse_SettingValue,
  type TraceSettingRequest,
  type TraceSettingResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { InferenceCore, LogSettingsPayload } from '../../core/types.js';
import { invalidArg, quoted, unsupported } from '../../errors/index.js';
import { traceUpdateFromGrpc } from '../../observability/tracing/trace-update.js';

/**
 * TraceSetting (Triton's grpc_server.cc): an update when settings are given (an empty value list
 * clears a field), then the current setting; a key given twice in `--trace-config` lists both values.
 */
export function traceSetting(core: InferenceCore, request: TraceSettingRequest): TraceSettingResponse {
  if (request.modelName !== '' && !core.isModelReady(request.modelName, '')) {
    throw invalidArg(`Request for unknown model : ${quoted(request.modelName)}`);
  }
  const view =
    Object.keys(request.settings).length === 0
      ? core.traceSetting(request.modelName)
      : core.updateTraceSetting(request.modelName, traceUpdateFromGrpc(request.settings));
  const settings: Record<string, { value: string[] }> = {};
  for (const [key, values] of view) {
    const entry = (settings[key] ??= { value: [] });
    entry.value.push(...values);
  }
  return create(TraceSettingResponseSchema, { settings });
}

type SettingCase = 'boolParam' | 'uint32Param' | 'stringParam';

/** The log settings a client may change and the oneof case each must use (Triton's messages). */
const LOG_SETTING_TYPES: Readonly<Record<string, { readonly choice: SettingCase; readonly name: string }>> = {
  log_info: { choice: 'boolParam', name: 'boolean' },
  log_warning: { choice: 'boolParam', name: 'boolean' },
  log_error: { choice: 'boolParam', name: 'boolean' },
  log_verbose_level: { choice: 'uint32Param', name: 'int32' },
  log_format: { choice: 'stringParam', name: 'string' },
};

/**
 * LogSettings: empty settings read the current values; otherwise the known keys are type-checked
 * against their oneof case and applied by the core (unknown keys are ignored, as Triton does), and
 * the full result is returned. `log_file` cannot be changed over the network.
 */
export function logSettings(core: InferenceCore, request: LogSettingsRequest): LogSettingsResponse {
  let payload: LogSettingsPayload;
  if (Object.keys(request.settings).length === 0) {
    payload = core.logSettings();
  } else {
    if (request.settings['log_file'] !== undefined) {
      throw unsupported('log file location can not be updated through network protocol');
    }
    const update: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(request.settings)) {
      const expected = LOG_SETTING_TYPES[key];
      if (expected === undefined) continue;
      if (setting.parameterChoice.case !== expected.choice) {
        throw invalidArg(`expect ${expected.name} for '${quoted(key)}'`);
      }
      update[key] = setting.parameterChoice.value;
    }
    payload = Object.keys(update).length === 0 ? core.logSettings() : core.updateLogSettings(update);
  }
  const settings: Record<string, Omit<LogSettingsResponse_SettingValue, '$typeName' | '$unknown'>> = {};
  for (const [key, value] of Object.entries(payload)) settings[key] = { parameterChoice: settingValue(value) };
  return create(LogSettingsResponseSchema, { settings });
}

function settingValue(value: unknown): LogSettingsResponse_SettingValue['parameterChoice'] {
  switch (typeof value) {
    case 'boolean':
      return { case: 'boolParam', value };
    case 'number':
      return { case: 'uint32Param', value };
    default:
      return { case: 'stringParam', value: String(value) };
  }
}
