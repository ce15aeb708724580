import { Command, CommanderError, Option } from 'commander';
import { OPTION_ERROR, PerfError, type LoadRange, type PerfOptions } from './types.js';

/** The command line, parsed: the run's options plus what only the CLI uses (files, output). */
export interface ParsedArgs {
  readonly options: PerfOptions;
  /** -f */
  readonly csvFile?: string;
  readonly verboseCsv: boolean;
  /** --chart FILE.svg|FILE.html */
  readonly chartFile?: string;
  /** --help or --version was asked for: the text to print, nothing to run. */
  readonly helpText?: string;
}

function bad(message: string): PerfError {
  return new PerfError(message, OPTION_ERROR);
}

/** "start[:end[:step]]"; a missing end means a single level (end = start), a missing step 1. */
export function parseRange(text: string, flag: string, integers: boolean): LoadRange {
  const parts = text.split(':');
  if (parts.length === 0 || parts.length > 3 || parts.some((p) => p.trim() === '')) throw bad(`failed to parse ${flag}: ${text}`);
  const values = parts.map(Number);
  if (values.some((v) => !Number.isFinite(v) || v < 0 || (integers && !Number.isInteger(v)))) throw bad(`failed to parse ${flag}: ${text}`);
  const start = values[0]!;
  return { start, end: values[1] ?? start, step: values[2] ?? 1 };
}

/** "NAME:d1,d2,..." (the name may itself hold ':'; the last one separates the dims). */
export function parseShape(text: string): [string, number[]] {
  const at = text.lastIndexOf(':');
  if (at <= 0) throw bad(`failed to parse input shape. There must be a colon after input name.`);
  const name = text.slice(0, at);
  const dims = text.slice(at + 1).split(',').map((d) => d.trim());
  const values = dims.map(Number);
  if (dims.some((d) => d === '') || values.some((v) => !Number.isInteger(v) || v < 0)) throw bad(`input shape must be > 0`);
  return [name, values];
}

function int(flag: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw bad(`${flag} must be an integer >= ${min}: ${value}`);
    return n;
  };
}

function num(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw bad(`${flag} must be a number: ${value}`);
    return n;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function program(): Command {
  return new Command('nereid-perf')
    .description("Measures a model's throughput and latency on Nereid or Triton, as perf_analyzer does.")
    .helpOption('--help', 'show this help')
    .allowExcessArguments(false)
    .option('-m <model>', 'the model to measure (required)')
    .option('-x <version>', 'the model version (default: the server chooses)', '')
    .option('-u <url>', 'the server (default localhost:8000 for http, localhost:8001 for grpc)')
    .addOption(new Option('-i <protocol>', 'http or grpc').choices(['http', 'grpc', 'HTTP', 'gRPC', 'GRPC']).default('http'))
    .option('-b <n>', 'batch size of each request', int('-b', 1), 1)
    .option('--shape <name:dims>', 'the shape of an input with variable dimensions (one batch item), e.g. INPUT0:3,224,224; repeatable', collect)
    .option('--concurrency-range <start:end:step>', 'concurrency levels to sweep (default 1:1:1)')
    .option('--request-rate-range <start:end:step>', 'request rates (per second) to sweep, in place of concurrency')
    .addOption(new Option('--request-distribution <kind>', 'intervals between requests in request-rate mode').choices(['constant', 'poisson']).default('constant'))
    .option('-p, --measurement-interval <ms>', 'measurement window in ms', int('-p', 1), 5000)
    .addOption(new Option('--measurement-mode <mode>', 'time_windows or count_windows').choices(['time_windows', 'count_windows']).default('time_windows'))
    .option('--measurement-request-count <n>', 'requests per window in count_windows mode', int('--measurement-request-count', 1), 50)
    .option('-s, --stability-percentage <pct>', 'allowed max/min spread of the last 3 windows, in %', num('-s'), 10)
    .option('--max-trials <n>', 'windows per level before giving up on stability', int('--max-trials', 1), 10)
    .option('--percentile <p>', 'stabilize on and report this latency percentile instead of the average (-1: the average)', int('--percentile', -1))
    .option('-l, --latency-threshold <ms>', 'stop the sweep when latency exceeds this (0: no limit)', int('-l', 0), 0)
    .option('--input-data <zero|random|file.json>', "input data: zeros, random values, or perf_analyzer's JSON data file", 'random')
    .option('--streaming', 'use gRPC bidirectional streaming (ModelStreamInfer)', false)
    .option('-a, --async', 'asynchronous mode (stabilize on throughput when latency will not settle)', false)
    .option('--sync', 'synchronous mode (the default)', false)
    .addOption(new Option('--shared-memory <kind>', 'pass tensors through shared memory').choices(['none', 'system', 'cuda']).default('none'))
    .option('--output-shared-memory-size <bytes>', 'bytes of shared memory per output (times the batch size)', int('--output-shared-memory-size', 1), 102400)
    .option('--warmup-request-count <n>', 'requests sent before measuring', int('--warmup-request-count', 0), 0)
    .option('-H <header>', "an HTTP header or gRPC metadata 'Name:Value'; repeatable", collect)
    .option('-f <file>', "write perf_analyzer's CSV to this file")
    .option('--verbose-csv', 'extra CSV columns (average latency, request/response, response wait)', false)
    .option('--chart <file>', 'write a latency vs throughput chart (.svg or .html)')
    .option('-v, --verbose', 'print each measurement window', false);
}

/** Parses perf_analyzer's flags (argv without node and the script); throws PerfError (exit 3) on bad values. */
export function parsePerfArgs(argv: readonly string[]): ParsedArgs {
  const cmd = program();
  let help = '';
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && (error.code === 'commander.helpDisplayed' || error.code === 'commander.help')) {
      return { options: { model: '' }, verboseCsv: false, helpText: help };
    }
    if (error instanceof PerfError) throw error;
    const message = error instanceof CommanderError ? error.message.replace(/^error: /, '') : String(error);
    throw bad(message);
  }
  const o = cmd.opts<Record<string, unknown>>();
  if (typeof o['m'] !== 'string' || o['m'] === '') throw bad('-m flag must be specified');
  const protocol = String(o['i']).toLowerCase() as 'http' | 'grpc';
  if (o['sharedMemory'] === 'cuda') throw bad('--shared-memory cuda is not supported (no GPU); use system');
  if (o['async'] === true && o['sync'] === true) throw bad('Conflicting flags: -a/--async and --sync');
  if (o['streaming'] === true && protocol !== 'grpc') throw bad('Streaming is only allowed with gRPC protocol.');
  if (o['concurrencyRange'] !== undefined && o['requestRateRange'] !== undefined) throw bad('Cannot specify --concurrency-range and --request-rate-range simultaneously.');
  const shapes: Record<string, number[]> = {};
  for (const text of (o['shape'] as string[] | undefined) ?? []) {
    const [name, dims] = parseShape(text);
    shapes[name] = dims;
  }
  const headers: Record<string, string> = {};
  for (const text of (o['H'] as string[] | undefined) ?? []) {
    const at = text.indexOf(':');
    if (at <= 0) throw bad(`header must be specified as 'Header:Value': ${text}`);
    headers[text.slice(0, at).trim()] = text.slice(at + 1).trim();
  }
  const options: PerfOptions = {
    model: o['m'],
    modelVersion: String(o['x']),
    ...(o['u'] === undefined ? {} : { url: String(o['u']) }),
    protocol,
    batchSize: o['b'] as number,
    shapes,
    ...(o['concurrencyRange'] === undefined ? {} : { concurrencyRange: parseRange(String(o['concurrencyRange']), '--concurrency-range', true) }),
    ...(o['requestRateRange'] === undefined ? {} : { requestRateRange: parseRange(String(o['requestRateRange']), '--request-rate-range', false) }),
    requestDistribution: o['requestDistribution'] as 'constant' | 'poisson',
    measurementIntervalMs: o['measurementInterval'] as number,
    measurementMode: o['measurementMode'] as 'time_windows' | 'count_windows',
    measurementRequestCount: o['measurementRequestCount'] as number,
    stabilityPercentage: o['stabilityPercentage'] as number,
    maxTrials: o['maxTrials'] as number,
    ...(o['percentile'] === undefined ? {} : { percentile: o['percentile'] as number }),
    latencyThresholdMs: o['latencyThreshold'] as number,
    inputData: String(o['inputData']),
    streaming: o['streaming'] === true,
    async: o['async'] === true,
    sharedMemory: o['sharedMemory'] as 'none' | 'system',
    outputSharedMemorySize: o['outputSharedMemorySize'] as number,
    warmupRequestCount: o['warmupRequestCount'] as number,
    headers,
    verbose: o['verbose'] === true,
  };
  return {
    options,
    ...(o['f'] === undefined ? {} : { csvFile: String(o['f']) }),
    verboseCsv: o['verboseCsv'] === true,
    ...(o['chart'] === undefined ? {} : { chartFile: String(o['chart']) }),
  };
}
