import { invalidArg, unsupported } from '../errors/index.js';
import type { LogSettings } from '../observability/logger.js';
import type { LogSettingsPayload } from './types.js';

/** The logging extension's view of the live log switches. */
export function logSettingsPayload(settings: LogSettings): LogSettingsPayload {
  return {
    log_file: '',
    log_info: settings.info,
    log_warning: settings.warning,
    log_error: settings.error,
    log_verbose_level: settings.verboseLevel,
    log_format: 'default',
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
        if (value !== 'default') throw unsupported(`log_format '${String(value)}' is not supported; only 'default'`);
        break;
      case 'log_file':
        throw unsupported('log file location can not be updated through network protocol');
      default:
        throw invalidArg(`unknown log setting '${key}'`);
    }
  }
  Object.assign(settings, next);
}
