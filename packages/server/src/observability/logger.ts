/**
 * Leveled logging with Triton's switches: info, warning and error each on or off, plus a verbose level.
 * Lines go to stderr in Triton's shape: `I1121 05:09:20.123456 <pid> file] message`.
 */
export interface LogSettings {
  info: boolean;
  warning: boolean;
  error: boolean;
  verboseLevel: number;
}

export interface Logger {
  /** The live switches: changing them (logging extension) changes what is logged from then on. */
  readonly settings: LogSettings;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Logged only when the verbose level is at least `level`. */
  verbose(level: number, message: string): void;
}

export const DEFAULT_LOG_SETTINGS: Readonly<LogSettings> = Object.freeze({
  info: true,
  warning: true,
  error: true,
  verboseLevel: 0,
});

export function createLogger(
  settings: LogSettings,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const emit = (letter: string, message: string): void => {
    write(`${letter}${timestamp()} ${process.pid} nereid] ${message}\n`);
  };
  return {
    settings,
    info: (message) => settings.info && emit('I', message),
    warn: (message) => settings.warning && emit('W', message),
    error: (message) => settings.error && emit('E', message),
    verbose: (level, message) => settings.verboseLevel >= level && emit('I', message),
  };
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = {
  settings: { info: false, warning: false, error: false, verboseLevel: 0 },
  info: () => {},
  warn: () => {},
  error: () => {},
  verbose: () => {},
};

function timestamp(): string {
  const now = new Date();
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return (
    `${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}.` +
    `${pad(now.getUTCMilliseconds(), 3)}000`
  );
}
