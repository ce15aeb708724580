import { closeSync, openSync, writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';

/**
 * Leveled logging with Triton's switches: info, warning and error each on or off, plus a verbose
 * level. Lines have Triton's shape (`I1121 05:09:20.123456 <pid> nereid] message`, or with
 * `--log-format=ISO8601` `2025-11-21T05:09:20Z I <pid> nereid] message`); as in Triton, info lines go
 * to stdout and warnings and errors to stderr, or all of them to `--log-file`. Nereid's own
 * `--log-format=json` writes one JSON object per line through pino, for log pipelines.
 */

/** Triton's two line formats, and Nereid's JSON lines. */
export type LogFormat = 'default' | 'ISO8601' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['default', 'ISO8601', 'json'];

export interface LogSettings {
  info: boolean;
  warning: boolean;
  error: boolean;
  verboseLevel: number;
  /** Changes at run time through the logging extension. */
  format: LogFormat;
}

export interface Logger {
  /** The live switches: changing them (logging extension) changes what is logged from then on. */
  readonly settings: LogSettings;
  /** `--log-file`, '' for the console; fixed at start, as in Triton. */
  readonly file: string;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Logged only when the verbose level is at least `level`. */
  verbose(level: number, message: string): void;
  /** Closes the log file, if any. */
  close(): void;
}

export const DEFAULT_LOG_SETTINGS: Readonly<LogSettings> = Object.freeze({
  info: true,
  warning: true,
  error: true,
  verboseLevel: 0,
  format: 'default',
});

type Level = 'I' | 'W' | 'E';

/** Where formatted lines go: one writer per level (Triton: info to stdout, the others to stderr). */
export type LogWriter = (level: Level, line: string) => void;

export interface LoggerOptions {
  /** `--log-file`: every level is appended there instead of the console. */
  readonly file?: string;
  /** Replaces the console (tests). */
  readonly write?: LogWriter;
}

export function createLogger(settings: LogSettings, options: LoggerOptions = {}): Logger {
  const file = options.file ?? '';
  let fd: number | undefined;
  let write: LogWriter;
  if (options.write !== undefined) write = options.write;
  else if (file !== '') {
    fd = openSync(file, 'a');
    const target = fd;
    write = (_level, line) => writeSync(target, line);
  } else {
    write = (level, line) => (level === 'I' ? process.stdout : process.stderr).write(line);
  }
  let json: PinoLogger | undefined;
  const emit = (level: Level, message: string, verbose = 0): void => {
    if (settings.format === 'json') {
      json ??= jsonLogger(write);
      const fields = verbose > 0 ? { verbose } : {};
      if (level === 'I') json.info(fields, message);
      else if (level === 'W') json.warn(fields, message);
      else json.error(fields, message);
      return;
    }
    const preamble = settings.format === 'ISO8601' ? `${isoTimestamp()} ${level} ` : `${level}${tritonTimestamp()} `;
    write(level, `${preamble}${process.pid} nereid] ${message}\n`);
  };
  return {
    settings,
    file,
    info: (message) => settings.info && emit('I', message),
    warn: (message) => settings.warning && emit('W', message),
    error: (message) => settings.error && emit('E', message),
    verbose: (level, message) => settings.verboseLevel >= level && emit('I', message, level),
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** pino writing synchronously through `write`, so JSON lines interleave with nothing and are never lost at exit. */
function jsonLogger(write: LogWriter): PinoLogger {
  const levelOf = (line: string): Level => (line.includes('"level":"info"') ? 'I' : line.includes('"level":"warn"') ? 'W' : 'E');
  return pino(
    {
      base: { pid: process.pid, name: 'nereid' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => write(levelOf(line), line) },
  );
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = {
  settings: { info: false, warning: false, error: false, verboseLevel: 0, format: 'default' },
  file: '',
  info: () => {},
  warn: () => {},
  error: () => {},
  verbose: () => {},
  close: () => {},
};

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Triton's default: `MMDD hh:mm:ss.uuuuuu` (UTC). */
function tritonTimestamp(): string {
  const now = new Date();
  return (
    `${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}.` +
    `${pad(now.getUTCMilliseconds(), 3)}000`
  );
}

/** Triton's ISO8601: `YYYY-MM-DDThh:mm:ssZ`. */
function isoTimestamp(): string {
  const now = new Date();
  return (
    `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}T` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}Z`
  );
}
