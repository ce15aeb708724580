/**
 * `nereid-analyzer profile ...`: model_analyzer's profile flags (the ones that apply to a CPU
 * server), read with commander into ProfileOptions.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { profile } from '../profile.js';
import { summaryLines } from '../report/summary-table.js';
import { profileOptions, type ProfileFlags } from './flags.js';
import { ANALYZER_DEFAULTS as D } from './defaults.js';

function integer(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return value;
  };
}

function positive(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('expected a number > 0');
  return value;
}

export function analyzerCommand(): Command {
  const program = new Command('nereid-analyzer').description('Model analyzer for Nereid and Triton Inference Server.');
  program
    .command('profile')
    .description('Sweep model configs, measure throughput, p99 latency and memory, report and recommend.')
    .requiredOption('--profile-models <models>', 'comma-separated models to profile')
    .option('-m, --model-repository <dir>', 'the model repository (required for local launch)')
    .addOption(new Option('--triton-launch-mode <mode>', 'start a Nereid (local) or use a running server (remote)').choices(['local', 'remote']).default('local'))
    .option('--triton-server-path <path>', "local: the server to start (default: the nereid package's bin)")
    .option('--triton-server-flags <flags>', 'local: extra server flags, space-separated', '')
    .option('--triton-http-endpoint <host:port>', 'remote: HTTP endpoint', 'localhost:8000')
    .option('--triton-grpc-endpoint <host:port>', 'remote: gRPC endpoint', 'localhost:8001')
    .option('--triton-metrics-url <url>', 'remote: Prometheus endpoint for memory (default http://<http host>:8002/metrics)')
    .addOption(new Option('--client-protocol <protocol>', 'protocol of the measured requests').choices(['http', 'grpc']).default(D.clientProtocol))
    .option('-e, --export-path <dir>', 'where reports/ and results/ are written', '.')
    .option('--output-model-repository-path <dir>', 'write the default and recommended configs here as a model repository')
    .option('--override-output-model-repository', 'replace config folders that already exist there', false)
    .option('--run-config-search-min-instance-count <n>', 'smallest instance count', integer(1), D.minInstanceCount)
    .option('--run-config-search-max-instance-count <n>', 'largest instance count', integer(1), D.maxInstanceCount)
    .option('--run-config-search-min-model-batch-size <n>', 'smallest max_batch_size (powers of two)', integer(1), D.minModelBatchSize)
    .option('--run-config-search-max-model-batch-size <n>', 'largest max_batch_size (powers of two)', integer(1), D.maxModelBatchSize)
    .option('--run-config-search-min-concurrency <n>', 'smallest concurrency (powers of two)', integer(1), D.minConcurrency)
    .option('--run-config-search-max-concurrency <n>', 'largest concurrency (powers of two)', integer(1), D.maxConcurrency)
    .option('--run-config-search-disable', 'no automatic search: only the explicit lists below (else the model config as is)', false)
    .option('--instance-counts <list>', 'explicit instance counts, e.g. 1,2')
    .option('--max-batch-sizes <list>', 'explicit max_batch_size values, e.g. 4,16')
    .option('--concurrency <list>', 'explicit concurrencies, e.g. 1,4,16')
    .option('--dynamic-batching <list>', `dynamic batching settings to try: on, off or on,off (default: ${D.dynamicBatching}; with --run-config-search-disable: on when other lists are given)`)
    .option('--max-queue-delays <list>', `max_queue_delay_microseconds values tried with dynamic batching (default: ${D.queueDelaysUs})`)
    .option('--latency-budget-ms <ms>', 'recommend only configs with p99 latency at most this', positive)
    .option('--min-throughput <n>', 'recommend only configs with at least this many infer/s', positive)
    .option('--perf-window-ms <ms>', 'measurement window per trial', integer(50), D.perfWindowMs)
    .option('--perf-max-trials <n>', 'windows per load level at most (3 agreeing windows end it earlier)', integer(3), D.maxTrials)
    .option('--perf-stability-percentage <pct>', 'windows agree when within this percentage', positive, D.stabilityPercentage)
    .option('--shape <name:dims>', 'shape of an input with variable dimensions (one batch item), e.g. INPUT0:16; repeatable', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--input-data <data>', "perf's input data: zero, random or a perf_analyzer JSON file", 'random')
    .option('--num-configs-per-model <n>', 'configs to recommend (and write) per model', integer(1), D.numConfigsPerModel)
    .action(async (flags: ProfileFlags) => {
      const options = profileOptions(flags);
      const { result, outputs } = await profile(options);
      for (const line of summaryLines(result)) console.log(line);
      console.log('');
      console.log(`Sweep took ${result.durationSec.toFixed(1)} s. Memory: ${result.memorySource.name}.`);
      console.log(`Report: ${outputs.reportPath}`);
      console.log(`CSV: ${outputs.csvPath}`);
      for (const folder of outputs.outputFolders) console.log(`Config: ${folder}/config.pbtxt`);
      if (result.failures.size > 0) process.exitCode = 1;
    });
  return program;
}

try {
  await analyzerCommand().parseAsync(process.argv);
} catch (error) {
  console.error(`nereid-analyzer: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
