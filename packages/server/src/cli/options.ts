/**
 * The `nereid` command line: tritonserver's flags, read with commander from the flag table. Both
 * `--flag=value` and `--flag value` work; every flag but `--help` and
 * `--disable-auto-complete-config` takes an argument, as in Triton. Nothing here prints or exits:
 * main.ts acts on the result.
 */
import { Command, CommanderError, Option } from 'commander';
import type { ServerOptions } from '../core/server-options.js';
import { newParseState } from './flag-row.js';
import type { FlagRow, ParseState } from './flag-row.js';
import { FLAG_TABLE } from './flag-table.js';
import { FlagValueError } from './flag-values.js';
import { traceOptionsFrom } from './trace-flags.js';

/** What the command line asks for. */
export type ParsedCommandLine =
  | {
      readonly kind: 'run';
      readonly options: ServerOptions;
      /** Flags given (as `--name`) that Nereid accepts but does not implement yet, for a warning. */
      readonly ignoredFlags: readonly string[];
      /** Warnings Triton prints while parsing, such as for deprecated flags. */
      readonly warnings: readonly string[];
    }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

/** A command-line problem; the message names the flag. */
class CommandLineError extends Error {}

const HELP_WIDTH = 80;
const ROWS_BY_NAME = new Map(FLAG_TABLE.map((row) => [row.name, row]));

/**
 * Reads the arguments after `node <script>` into ServerOptions, starting from
 * DEFAULT_SERVER_OPTIONS. Returns the usage text for `--help` and an error naming the flag for an
 * unknown flag, a missing or malformed value, a stray argument or a missing `--model-repository`.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const state = newParseState();
  const warnings: string[] = [];
  let helpText = '';
  const program = buildProgram(state, warnings, (text) => {
    helpText += text;
  });
  try {
    program.parse(argv, { from: 'user' });
    const stray = program.args[0];
    if (stray !== undefined) throw new CommandLineError(`unexpected argument '${stray}'`);
    return finish(state, warnings);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed') return { kind: 'help', text: helpText };
      return { kind: 'error', message: commanderMessage(error) };
    }
    if (error instanceof CommandLineError) return { kind: 'error', message: error.message };
    throw error;
  }
}

/** Commander's message without its "error: " prefix, naming just the flag of `--flag=value`. */
function commanderMessage(error: CommanderError): string {
  const message = error.message.replace(/^error: /, '');
  if (error.code !== 'commander.unknownOption') return message;
  const match = /^unknown option '(--[^=']+)=[^']*'/.exec(message);
  if (match?.[1] === undefined) return message;
  const flagName = match[1];
  // getopt's wording when a flag without an argument (--disable-auto-complete-config) gets one.
  if (ROWS_BY_NAME.get(flagName.slice(2))?.arg === null) {
    return `option '${flagName}' doesn't allow an argument`;
  }
  return message.replace(match[0], `unknown option '${flagName}'`);
}

function buildProgram(
  state: ParseState,
  warnings: string[],
  writeHelp: (text: string) => void,
): Command {
  const program = new Command('nereid')
    .usage('--model-repository=<path> [options]')
    .description('A Triton-compatible inference server. Flags follow tritonserver.')
    .helpOption('--help', 'Print usage.')
    .allowExcessArguments(true) // reported below with Triton's wording
    .exitOverride()
    .configureOutput({
      writeOut: writeHelp,
      writeErr: () => {},
      outputError: () => {},
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .configureHelp({ helpWidth: HELP_WIDTH, formatItem: formatHelpItem });
  for (const row of FLAG_TABLE) {
    const flags = row.arg === null ? `--${row.name}` : `--${row.name} ${row.arg}`;
    program.addOption(new Option(flags, describe(row)).helpGroup(row.group));
    // Commander emits one event per occurrence, in command-line order, with the raw text.
    program.on(`option:${row.name}`, (raw: string | undefined) => {
      record(state, warnings, row, raw ?? '');
    });
  }
  return program;
}

function record(state: ParseState, warnings: string[], row: FlagRow, raw: string): void {
  try {
    row.apply(state, raw);
  } catch (error) {
    if (error instanceof FlagValueError) {
      throw new CommandLineError(`--${row.name}: expected ${error.expected}, got '${raw}'`);
    }
    throw error;
  }
  if (!state.given.has(row.name)) {
    state.given.add(row.name);
    if (row.deprecation !== undefined) warnings.push(row.deprecation);
  }
}

/** Checks Triton makes once every flag is read (the repository one when it creates the server). */
function finish(state: ParseState, warnings: string[]): ParsedCommandLine {
  const { options, given } = state;
  if (given.has('load-model') && options.modelControlMode !== 'explicit') {
    throw new CommandLineError(
      "use of '--load-model' requires setting '--model-control-mode=explicit' as well",
    );
  }
  if (given.has('model-memory-budget') && options.modelControlMode === 'none') {
    throw new CommandLineError("'--model-memory-budget' requires '--model-control-mode=explicit' or 'poll'");
  }
  if (given.has('response-cache-byte-size') && given.has('cache-config')) {
    throw new CommandLineError(
      'incompatible flags --response-cache-byte-size and --cache-config both provided; use one or the other',
    );
  }
  if (options.modelRepositories.length === 0) {
    throw new CommandLineError('--model-repository must be specified');
  }
  checkPortCollision(options);
  if (state.disableAutoCompleteConfig && state.strictModelConfig === false) {
    warnings.push(
      "overriding deprecated '--strict-model-config' from false to true in favor of '--disable-auto-complete-config'",
    );
  }
  options.autoCompleteConfig = !(state.disableAutoCompleteConfig || state.strictModelConfig === true);
  try {
    options.trace = traceOptionsFrom(state, warnings);
  } catch (error) {
    throw new CommandLineError(error instanceof FlagValueError ? `--trace-config: expected ${error.expected}` : (error as Error).message);
  }
  const ignoredFlags = [...given]
    .filter((name) => ROWS_BY_NAME.get(name)?.implemented === false)
    .map((name) => `--${name}`);
  Object.freeze(options.http);
  Object.freeze(options.grpc);
  Object.freeze(options.metrics);
  Object.freeze(options.log);
  Object.freeze(options.modelRepositories);
  return { kind: 'run', options: Object.freeze(options), ignoredFlags, warnings };
}

/**
 * Triton refuses two services on one address and port (CheckPortCollision: HTTP, GRPC, metrics, in
 * that order); port 0 (any free port) cannot collide. Metrics without an address use the HTTP one.
 */
function checkPortCollision(options: ParseState['options']): void {
  const { http, grpc, metrics } = options;
  const services = [
    { name: 'HTTP', on: http.allow, address: http.address, port: http.port },
    { name: 'GRPC', on: grpc.allow, address: grpc.address, port: grpc.port },
    { name: 'metrics', on: metrics.allow, address: metrics.address === '' ? http.address : metrics.address, port: metrics.port },
  ].filter((service) => service.on && service.port !== 0);
  services.forEach((first, i) => {
    const clash = services.slice(i + 1).find((other) => other.address === first.address && other.port === first.port);
    if (clash === undefined) return;
    throw new CommandLineError(
      `the server cannot listen to ${first.name} requests and ${clash.name} requests at the same address and port ` +
        `${first.address}:${first.port}`,
    );
  });
}

function describe(row: FlagRow): string {
  const notes: string[] = [];
  if (row.defaultText !== '') notes.push(`default: ${row.defaultText}`);
  if (!row.implemented) notes.push('accepted, not implemented yet');
  return notes.length === 0 ? row.help : `${row.help} (${notes.join('; ')})`;
}

/** Triton's usage layout: the flag on its own line, the description indented below it. */
function formatHelpItem(
  term: string,
  _termWidth: number,
  description: string,
  helper: { boxWrap(text: string, width: number): string },
): string {
  const indent = '      ';
  const body = helper
    .boxWrap(description, HELP_WIDTH - indent.length)
    .split('\n')
    .map((line) => indent + line)
    .join('\n');
  return description === '' ? `  ${term}` : `  ${term}\n${body}`;
}
