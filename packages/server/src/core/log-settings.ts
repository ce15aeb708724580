import { invalidArg, unavailable, unsupported } from '../errors/index.js';
import { LOG_FORMATS, type LogFormat, type LogSettings } from '../observability/logger.js';
import type { LogSettingsPayload } from './types.js';

/** The logging extension's view of the live log switches. */
export function logSettingsPayload(settings: LogSettings, file: string): LogSettingsPayload {
  return {
    log_file: file,
    log_info: settings.info,
    log_warning: settings.warning,
    log_error: settings.error,
    log_verbose_level: settings.verboseLevel,
    log_format: settings.format,
  };
}

/**
 * Applies a logging-extension update: every key is checked before any is applied, so a bad update
 * changes nothing. `log_file` cannot be changed over the network (Triton answers UNSUPPORTED).
 */
export function applyLogSettings(settings: LogSettings, update: Readonly<Record<string, unknown>>): void {
  const next = { ...settings };
  for (const [key, value] of Object.entries(update)) {
    switch (key) {
      case 'log_info':
      case 'log_warning':
      case 'log_error':
        if (typeof value !== 'boolean') throw invalidArg(`expected boolean for '${key}', got '${String(value)}'`);
        next[key === 'log_info' ? 'info' : key === 'log_warning' ? 'warning' : 'error'] = value;
        break;
      case 'log_verbose_level':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
          throw invalidArg(`expected unsigned integer for 'log_verbose_level', got '${String(value)}'`);
        }
        next.verboseLevel = value;
        break;
      case 'log_format':
        // Triton's text and code; 'json' is Nereid's own format.
        if (typeof value !== 'string' || !(LOG_FORMATS as readonly string[]).includes(value)) {
          throw unavailable(`invalid argument for --log_format, got: ${String(value)}`);
        }
        next.format = value as LogFormat;
        break;
      case 'log_file':
        throw unsupported('log file location can not be updated through network protocol');
      default:
        throw invalidArg(`unknown log setting '${key}'`);
    }
  }
  Object.assign(settings, next);
}
