/**
 * Tracing's flags: `--trace-config [<mode>,]<setting>=<value>` and the deprecated `--trace-file`,
 * `--trace-level`, `--trace-rate`, `--trace-count` and `--trace-log-frequency`, combined once every
 * flag is read as Triton's PostProcessTraceArgs does (a `--trace-config` value wins over the
 * deprecated flag, with Triton's warning; levels add up; an explicit OFF anywhere turns tracing off).
 */
import { DEFAULT_TRACE_OPTIONS, type TraceOptions } from '../observability/tracing/trace-manager.js';
import {
  TRACE_LEVEL_DISABLED,
  TRACE_LEVEL_TENSORS,
  TRACE_LEVEL_TIMESTAMPS,
  type TraceConfigEntries,
  type TraceMode,
} from '../observability/tracing/trace-setting.js';
import { flag } from './flag-row.js';
import type { ParseState, UngroupedRow } from './flag-row.js';
import { FlagValueError, STRING, choice, groupSetting, int } from './flag-values.js';
import type { GroupSetting, ValueSpec } from './flag-values.js';

/** What the trace flags collected while the command line is read. */
export interface TraceFlagState {
  /** `--trace-config` entries per mode ('' = global), in order. */
  readonly config: Map<'' | TraceMode, [string, string][]>;
  file: string | undefined;
  level: number | undefined;
  explicitOff: boolean;
  rate: number | undefined;
  count: number | undefined;
  logFrequency: number | undefined;
}

export function newTraceFlagState(): TraceFlagState {
  return { config: new Map(), file: undefined, level: undefined, explicitOff: false, rate: undefined, count: undefined, logFrequency: undefined };
}

const UINT32 = int(0, 4294967295);

/** Triton's ParseTraceLevelOption: its words, any case. */
function parseLevel(raw: string): number {
  const word = raw.toLowerCase();
  if (word === 'false' || word === 'off') return TRACE_LEVEL_DISABLED;
  if (['true', 'on', 'min', 'max', 'timestamps'].includes(word)) return TRACE_LEVEL_TIMESTAMPS;
  if (word === 'tensors') return TRACE_LEVEL_TENSORS;
  throw new FlagValueError(`a trace level of OFF, TIMESTAMPS or TENSORS (invalid value for trace level option: ${word})`);
}

function parseMode(raw: string): TraceMode {
  const mode = raw.toLowerCase();
  if (mode === 'triton' || mode === 'opentelemetry') return mode;
  throw new FlagValueError(`a trace mode of triton or opentelemetry (invalid value for trace mode option: ${mode})`);
}

/** Settings each mode reads (others are kept and reported, as Triton keeps them). */
const INTEGER_SETTINGS: Readonly<Record<string, ValueSpec<number>>> = {
  rate: UINT32,
  count: int(-1),
  'log-frequency': UINT32,
  bsp_max_queue_size: UINT32,
  bsp_schedule_delay: UINT32,
  bsp_max_export_batch_size: UINT32,
};

const TRACE_CONFIG: ValueSpec<GroupSetting> = {
  arg: '<mode>,<setting>=<value>',
  parse(raw) {
    const parsed = groupSetting('mode', 'optional').parse(raw);
    if (parsed.group !== '') parseMode(parsed.group);
    if (parsed.setting === 'level') parseLevel(parsed.value);
    else if (parsed.setting === 'mode' && parsed.group === '') parseMode(parsed.value);
    else INTEGER_SETTINGS[parsed.setting]?.parse(parsed.value);
    return { ...parsed, group: parsed.group.toLowerCase() };
  },
};

const TRACE_LEVEL: ValueSpec<number> = {
  ...choice(['OFF', 'TIMESTAMPS', 'TENSORS', 'true', 'false', 'on', 'min', 'max'], { caseInsensitive: true }),
  arg: '<OFF|TIMESTAMPS|TENSORS>',
  parse: parseLevel,
};

function addLevel(trace: TraceFlagState, level: number): void {
  if (level === TRACE_LEVEL_DISABLED) trace.explicitOff = true;
  trace.level = (trace.level ?? TRACE_LEVEL_DISABLED) | level;
}

export const TRACE_CONFIG_ROW: UngroupedRow = flag('trace-config', TRACE_CONFIG, {
  default: '',
  help:
    'A trace setting: global (level, rate, count, mode) as <setting>=<value>, or for mode triton ' +
    '(file, log-frequency) or opentelemetry (url, resource, bsp_max_queue_size, bsp_schedule_delay, ' +
    'bsp_max_export_batch_size) as <mode>,<setting>=<value>. Repeatable.',
}, (s, v) => {
  const mode = v.group as '' | TraceMode;
  const entries = s.trace.config.get(mode) ?? [];
  entries.push([v.setting, v.value]);
  s.trace.config.set(mode, entries);
});

/** The deprecated flags, in Triton's `--help` order. */
export const DEPRECATED_TRACE_ROWS: readonly UngroupedRow[] = [
  flag('trace-file', STRING, {
    default: '',
    help: 'Same as --trace-config triton,file=<path>.',
    deprecated: "'--trace-file' has been deprecated; use '--trace-config triton,file=<path>' instead",
  }, (s, v) => { s.trace.file = v; }),
  flag('trace-level', TRACE_LEVEL, {
    default: 'OFF',
    help: 'Same as --trace-config level=<level>; repeatable.',
    deprecated: "'--trace-level' has been deprecated; use '--trace-config level=<level>' instead",
  }, (s, v) => addLevel(s.trace, v)),
  flag('trace-rate', UINT32, {
    default: '1000',
    help: 'Same as --trace-config rate=<rate>.',
    deprecated: "'--trace-rate' has been deprecated; use '--trace-config rate=<rate>' instead",
  }, (s, v) => { s.trace.rate = v; }),
  flag('trace-count', int(-1), {
    default: '-1',
    help: 'Same as --trace-config count=<count>.',
    deprecated: "'--trace-count' has been deprecated; use '--trace-config count=<count>' instead",
  }, (s, v) => { s.trace.count = v; }),
  flag('trace-log-frequency', UINT32, {
    default: '0',
    help: 'Same as --trace-config triton,log-frequency=<n>.',
    deprecated:
      "'--trace-log-frequency' has been deprecated; use '--trace-config triton,log-frequency=<n>' instead",
  }, (s, v) => { s.trace.logFrequency = v; }),
];

/** OTEL_BSP_* or Triton's defaults for the batch span processor settings not given. */
const BSP_DEFAULTS: readonly (readonly [string, string, string])[] = [
  ['bsp_max_queue_size', 'OTEL_BSP_MAX_QUEUE_SIZE', '2048'],
  ['bsp_schedule_delay', 'OTEL_BSP_SCHEDULE_DELAY', '5000'],
  ['bsp_max_export_batch_size', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '512'],
];

/** The start-up trace setting from what the flags collected; `warnings` gets Triton's overriding notes. */
export function traceOptionsFrom(state: ParseState, warnings: string[], env: NodeJS.ProcessEnv = process.env): TraceOptions {
  const trace = state.trace;
  const given = state.given;
  let { level, rate, count, logFrequency, file } = trace;
  let mode: TraceMode = DEFAULT_TRACE_OPTIONS.mode;
  const override = (flagName: string, what: string): void => {
    if (given.has(flagName)) warnings.push(`Overriding deprecated '--${flagName}' in favor of provided ${what} in --trace-config!`);
  };
  for (const [setting, value] of trace.config.get('') ?? []) {
    if (setting === 'rate') {
      override('trace-rate', 'rate value');
      rate = Number(value);
    } else if (setting === 'level') {
      override('trace-level', 'level');
      const parsed = parseLevel(value);
      if (parsed === TRACE_LEVEL_DISABLED) trace.explicitOff = true;
      level = (level ?? TRACE_LEVEL_DISABLED) | parsed;
    } else if (setting === 'mode') {
      mode = parseMode(value);
    } else if (setting === 'count') {
      override('trace-count', 'count');
      count = Number(value);
    }
  }
  const config = new Map<TraceMode, TraceConfigEntries>();
  for (const [key, entries] of trace.config) if (key !== '') config.set(key, entries);
  if (mode === 'opentelemetry') {
    if (given.has('trace-file')) warnings.push("'--trace-file' is deprecated and will be ignored with opentelemetry tracing mode.");
    if (given.has('trace-log-frequency')) {
      warnings.push("'--trace-log-frequency' is deprecated and will be ignored with opentelemetry tracing mode.");
    }
    const otel = [...(config.get('opentelemetry') ?? [])];
    for (const [setting, variable, fallback] of BSP_DEFAULTS) {
      if (otel.some(([name]) => name === setting)) continue;
      const value = env[variable] ?? fallback;
      if (!/^\d+$/.test(value)) throw new Error(`Bad option: "${variable}": expected an unsigned integer, got '${value}'`);
      otel.push([setting, value]);
    }
    config.set('opentelemetry', otel);
  } else {
    for (const [setting, value] of config.get('triton') ?? []) {
      if (setting === 'file') {
        override('trace-file', 'file');
        file = value;
      } else if (setting === 'log-frequency') {
        override('trace-log-frequency', 'log-frequency');
        logFrequency = Number(value);
      }
    }
  }
  const d = DEFAULT_TRACE_OPTIONS;
  return Object.freeze({
    level: trace.explicitOff ? TRACE_LEVEL_DISABLED : (level ?? d.level),
    rate: rate ?? d.rate,
    count: count ?? d.count,
    logFrequency: logFrequency ?? d.logFrequency,
    file: file ?? d.file,
    mode,
    config,
  });
}
