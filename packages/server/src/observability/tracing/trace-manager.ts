import { invalidArg } from '../../errors/index.js';
import { TraceFile } from './trace-file.js';
import {
  TRACE_LEVEL_DISABLED,
  TRACE_LEVEL_TENSORS,
  TRACE_LEVEL_TIMESTAMPS,
  TraceSetting,
  type TraceConfigEntries,
  type TraceMode,
  type TraceSettingFields,
} from './trace-setting.js';

/** What the server starts tracing with (`--trace-config` and the deprecated `--trace-*` flags). */
export interface TraceOptions extends TraceSettingFields {
  /** The trace file ('' = none: Triton mode cannot trace until one is given at start-up). */
  readonly file: string;
}

export const DEFAULT_TRACE_OPTIONS: TraceOptions = Object.freeze({
  level: TRACE_LEVEL_DISABLED,
  rate: 1000,
  count: -1,
  logFrequency: 0,
  file: '',
  mode: 'triton',
  config: new Map<TraceMode, TraceConfigEntries>(),
});

/**
 * A settings update (Triton's TraceManager::NewSetting): a value to set, `null` to clear the field
 * (a model's then mirrors the global setting, the global one reverts to the start-up value), or
 * absent to leave it.
 */
export interface TraceSettingUpdate {
  readonly level?: number | null;
  readonly rate?: number | null;
  readonly count?: number | null;
  readonly logFrequency?: number | null;
}

/** One setting as the trace extension reports it: ordered keys, string values (Triton's answer). */
export type TraceSettingView = readonly (readonly [key: string, value: readonly string[]])[];

/**
 * Trace settings, global and per model, with Triton's update rules (TraceManager in Triton's
 * tracer.cc): a model's setting names some fields and mirrors the rest from the global setting,
 * following it when the global one changes; clearing every field drops the model's setting.
 */
export class TraceSettings {
  readonly #globalDefault: TraceSetting;
  #global: TraceSetting;
  readonly #models = new Map<string, TraceSetting>();
  /** Models whose setting mirrors at least one global field. */
  readonly #fallbackModels = new Set<string>();
  readonly #file: TraceFile;

  constructor(options: TraceOptions, onError: (message: string) => void) {
    this.#file = new TraceFile(options.file, onError);
    const none = { level: false, rate: false, count: false, logFrequency: false };
    this.#globalDefault = new TraceSetting(options, this.#file, none);
    this.#global = new TraceSetting(options, this.#file, none);
  }

  /** The setting a request to `model` is sampled under. */
  settingFor(model: string): TraceSetting {
    if (this.#models.size === 0) return this.#global;
    return this.#models.get(model) ?? this.#global;
  }

  get global(): TraceSetting {
    return this.#global;
  }

  /** Applies an update to the global setting (model '') or a model's; INVALID_ARG leaves all as it was. */
  update(model: string, update: TraceSettingUpdate): void {
    this.#updateOne(model, update);
    if (model === '') {
      for (const name of [...this.#fallbackModels]) this.#updateOne(name, {});
    }
  }

  #updateOne(model: string, update: TraceSettingUpdate): void {
    const current = model === '' ? this.#global : this.#models.get(model);
    const fallback = model === '' ? this.#globalDefault : this.#global;
    const specified = (key: keyof TraceSettingUpdate): boolean =>
      update[key] === null ? false : (current?.specified[key] ?? false) || update[key] !== undefined;
    const pick = (key: keyof TraceSettingUpdate): number => {
      if (!specified(key)) return fallback[key];
      const value = update[key];
      return value !== undefined && value !== null ? value : current![key];
    };
    const flags = { level: specified('level'), rate: specified('rate'), count: specified('count'), logFrequency: specified('logFrequency') };
    if (model !== '') {
      // A model never names its own file (it cannot be set over the network), so it always mirrors one field.
      if (!flags.level && !flags.rate && !flags.count && !flags.logFrequency) {
        this.#models.delete(model);
        this.#fallbackModels.delete(model);
        current?.retire();
        return;
      }
      this.#fallbackModels.add(model);
    }
    const next = new TraceSetting(
      { level: pick('level'), rate: pick('rate'), count: pick('count'), logFrequency: pick('logFrequency'), mode: fallback.mode, config: fallback.config },
      this.#file,
      flags,
    );
    if (!next.valid() && next.level !== TRACE_LEVEL_DISABLED) {
      throw invalidArg(`Attempting to set invalid trace setting :${next.invalidReason}`);
    }
    if (model === '') this.#global = next;
    else this.#models.set(model, next);
    current?.retire();
  }

  /** The setting of `model` ('' = global) as Triton's trace extension answers. */
  view(model: string): TraceSettingView {
    const setting = this.settingFor(model);
    const entries: [string, string[]][] = [
      ['trace_level', levelNames(setting.level)],
      ['trace_rate', [String(setting.rate)]],
      ['trace_count', [String(setting.count)]],
    ];
    if (setting.mode === 'triton') {
      entries.push(['log_frequency', [String(setting.logFrequency)]], ['trace_file', [setting.file.fileName]]);
    }
    entries.push(['trace_mode', [setting.mode]]);
    for (const [key, value] of setting.config.get(setting.mode) ?? []) {
      if (key === 'file' || key === 'log-frequency') continue;
      entries.push([key, [value]]);
    }
    return entries;
  }

  /** Writes what every setting still holds and closes the trace file (server stop). */
  close(): Promise<void> {
    for (const setting of this.#models.values()) setting.retire();
    this.#global.retire();
    return this.#file.close();
  }
}

/** Triton's names of a level's bits. */
export function levelNames(level: number): string[] {
  if (level === TRACE_LEVEL_DISABLED) return ['OFF'];
  const names: string[] = [];
  if (level & TRACE_LEVEL_TIMESTAMPS) names.push('TIMESTAMPS');
  if (level & TRACE_LEVEL_TENSORS) names.push('TENSORS');
  return names;
}
