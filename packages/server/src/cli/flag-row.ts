/**
 * The shape of one row of the flag table (Triton's `command_line_parser.cc` option table) and the
 * helpers that build rows. A row says how the flag is spelled, what argument it takes, its default
 * and help, and where its value goes; rows for flags Nereid does not implement yet only validate.
 */
import type { GrpcOptions, HttpOptions, MetricsOptions, ServerOptions } from '../core/server-options.js';
import { DEFAULT_SERVER_OPTIONS } from '../core/server-options.js';
import type { LogSettings } from '../observability/logger.js';
import type { ValueSpec } from './flag-values.js';
import { newTraceFlagState, type TraceFlagState } from './trace-flags.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** ServerOptions while the command line is being read: the same fields, writable. */
export interface DraftOptions
  extends Omit<
    Mutable<ServerOptions>,
    'modelRepositories' | 'backendConfig' | 'cacheConfig' | 'http' | 'grpc' | 'metrics' | 'log'
  > {
  modelRepositories: string[];
  backendConfig: Map<string, Map<string, string>>;
  cacheConfig: Map<string, Map<string, string>>;
  http: Mutable<HttpOptions>;
  grpc: Mutable<GrpcOptions>;
  metrics: Omit<Mutable<MetricsOptions>, 'config'> & { config: Map<string, string> };
  log: LogSettings;
}

/** What the rows write into while the command line is read, in order. */
export interface ParseState {
  readonly options: DraftOptions;
  /** The last `--strict-model-config` value, if given. */
  strictModelConfig: boolean | undefined;
  /** `--disable-auto-complete-config` was given (it wins over `--strict-model-config=false`). */
  disableAutoCompleteConfig: boolean;
  /** Names (without `--`) of every flag given, in the order first seen. */
  readonly given: Set<string>;
  /** The trace flags, combined into `options.trace` once all are read. */
  readonly trace: TraceFlagState;
}

/** A fresh draft holding DEFAULT_SERVER_OPTIONS, with nothing shared with the frozen defaults. */
export function newParseState(): ParseState {
  const d = DEFAULT_SERVER_OPTIONS;
  return {
    options: {
      ...d,
      modelRepositories: [...d.modelRepositories],
      backendConfig: new Map([...d.backendConfig].map(([k, v]) => [k, new Map(v)])),
      cacheConfig: new Map([...d.cacheConfig].map(([k, v]) => [k, new Map(v)])),
      http: { ...d.http },
      grpc: { ...d.grpc },
      metrics: { ...d.metrics, config: new Map(d.metrics.config) },
      log: { ...d.log },
    },
    strictModelConfig: undefined,
    disableAutoCompleteConfig: false,
    given: new Set(),
    trace: newTraceFlagState(),
  };
}

/** One flag. */
export interface FlagRow {
  /** The long name without `--`, as tritonserver spells it. */
  readonly name: string;
  /** The `--help` section, after Triton's option groups. */
  readonly group: string;
  /** The argument as shown in `--help`, or null when the flag takes none. */
  readonly arg: string | null;
  /** The default as shown in `--help`; '' shows none. */
  readonly defaultText: string;
  readonly help: string;
  /** False: accepted so launch scripts keep working, validated, then ignored (and reported). */
  readonly implemented: boolean;
  /** Set on flags Triton deprecates: the warning to print when the flag is given. */
  readonly deprecation: string | undefined;
  /** Reads one occurrence and stores it; throws FlagValueError on a malformed value. */
  readonly apply: (state: ParseState, raw: string) => void;
}

/** A row before `group()` places it in a section. */
export type UngroupedRow = Omit<FlagRow, 'group'>;

/** The default and help of a row; `deprecated` is the warning for a deprecated flag. */
export interface RowText {
  readonly default: string;
  readonly help: string;
  readonly deprecated?: string;
}

/** A flag Nereid implements: `store` puts the parsed value where it belongs. */
export function flag<T>(
  name: string,
  spec: ValueSpec<T>,
  text: RowText,
  store: (state: ParseState, value: T) => void,
): UngroupedRow {
  return {
    name,
    arg: spec.arg,
    defaultText: text.default,
    help: text.help,
    implemented: true,
    deprecation: text.deprecated,
    apply: (state, raw) => store(state, spec.parse(raw)),
  };
}

/** A Triton flag Nereid accepts and validates but does not act on yet. */
export function accepted<T>(name: string, spec: ValueSpec<T>, text: RowText): UngroupedRow {
  return {
    name,
    arg: spec.arg,
    defaultText: text.default,
    help: text.help,
    implemented: false,
    deprecation: text.deprecated,
    apply: (_state, raw) => void spec.parse(raw),
  };
}

/** Places rows in a `--help` section. */
export function group(heading: string, rows: readonly UngroupedRow[]): FlagRow[] {
  return rows.map((row) => ({ ...row, group: heading }));
}
