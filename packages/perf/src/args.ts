import type { PerfOptions } from './types.js';

/** The command line, parsed: the run's options plus what only the CLI uses (files). */
export interface ParsedArgs {
  readonly options: PerfOptions;
  /** -f */
  readonly csvFile?: string;
  readonly verboseCsv: boolean;
  /** --chart FILE.svg|FILE.html */
  readonly chartFile?: string;
}

/** Parses perf_analyzer's flags (argv without node and the script); throws PerfError (exit 3) on bad values. */
export function parsePerfArgs(argv: readonly string[]): ParsedArgs {
  void argv;
  throw new Error('parsePerfArgs: not implemented yet');
}
