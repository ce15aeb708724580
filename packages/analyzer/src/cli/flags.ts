/** commander's parsed flags → ProfileOptions, with the lists checked. */
import { InvalidArgumentError } from 'commander';
import { parseShape } from '@nereid/perf';
import type { ProfileOptions } from '../profile.js';
import { searchSpace } from '../search/space.js';
import type { ClientProtocol, LaunchMode } from '../types.js';

/** The flags as commander hands them over (camelCase). */
export interface ProfileFlags {
  readonly profileModels: string;
  readonly modelRepository?: string;
  readonly tritonLaunchMode: LaunchMode;
  readonly tritonServerPath?: string;
  readonly tritonServerFlags: string;
  readonly tritonHttpEndpoint: string;
  readonly tritonGrpcEndpoint: string;
  readonly tritonMetricsUrl?: string;
  readonly clientProtocol: ClientProtocol;
  readonly exportPath: string;
  readonly outputModelRepositoryPath?: string;
  readonly overrideOutputModelRepository: boolean;
  readonly runConfigSearchMinInstanceCount: number;
  readonly runConfigSearchMaxInstanceCount: number;
  readonly runConfigSearchMinModelBatchSize: number;
  readonly runConfigSearchMaxModelBatchSize: number;
  readonly runConfigSearchMinConcurrency: number;
  readonly runConfigSearchMaxConcurrency: number;
  readonly runConfigSearchDisable: boolean;
  readonly instanceCounts?: string;
  readonly maxBatchSizes?: string;
  readonly concurrency?: string;
  readonly dynamicBatching?: string;
  readonly maxQueueDelays?: string;
  readonly latencyBudgetMs?: number;
  readonly minThroughput?: number;
  readonly perfWindowMs: number;
  readonly perfMaxTrials: number;
  readonly perfStabilityPercentage: number;
  readonly numConfigsPerModel: number;
  readonly shape: readonly string[];
  readonly inputData: string;
}

/** `1,2,4` → [1, 2, 4]; every item an integer >= min. */
export function integerList(flag: string, text: string, min: number): number[] {
  const values = text.split(',').map((item) => item.trim()).filter((item) => item !== '').map(Number);
  if (values.length === 0 || values.some((value) => !Number.isInteger(value) || value < min)) {
    throw new InvalidArgumentError(`${flag}: expected comma-separated integers >= ${min}, got '${text}'`);
  }
  return values;
}

/** `on,off` → [true, false]. */
export function switchList(flag: string, text: string): boolean[] {
  return text.split(',').map((item) => {
    const value = item.trim().toLowerCase();
    if (value === 'on' || value === 'true') return true;
    if (value === 'off' || value === 'false') return false;
    throw new InvalidArgumentError(`${flag}: expected on and/or off, got '${item}'`);
  });
}

/** perf_analyzer's `--shape NAME:d1,d2`, parsed as nereid-perf parses it. */
export function shapeFlag(text: string): [string, number[]] {
  try {
    return parseShape(text);
  } catch (error) {
    throw new InvalidArgumentError(`--shape '${text}': ${(error as Error).message}`);
  }
}

function optionalList(flag: string, text: string | undefined, min: number): { readonly list?: number[] } {
  return text === undefined ? {} : { list: integerList(flag, text, min) };
}

export function profileOptions(flags: ProfileFlags): ProfileOptions {
  const models = flags.profileModels.split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (models.length === 0) throw new InvalidArgumentError('--profile-models: no model named');
  const instanceCounts = optionalList('--instance-counts', flags.instanceCounts, 1).list;
  const maxBatchSizes = optionalList('--max-batch-sizes', flags.maxBatchSizes, 1).list;
  const concurrencies = optionalList('--concurrency', flags.concurrency, 1).list;
  const space = searchSpace(
    {
      minInstanceCount: flags.runConfigSearchMinInstanceCount,
      maxInstanceCount: flags.runConfigSearchMaxInstanceCount,
      minModelBatchSize: flags.runConfigSearchMinModelBatchSize,
      maxModelBatchSize: flags.runConfigSearchMaxModelBatchSize,
      minConcurrency: flags.runConfigSearchMinConcurrency,
      maxConcurrency: flags.runConfigSearchMaxConcurrency,
      ...(flags.dynamicBatching === undefined ? {} : { dynamicBatching: switchList('--dynamic-batching', flags.dynamicBatching) }),
      ...(flags.maxQueueDelays === undefined ? {} : { queueDelaysUs: integerList('--max-queue-delays', flags.maxQueueDelays, 0) }),
      ...(instanceCounts === undefined ? {} : { instanceCounts }),
      ...(maxBatchSizes === undefined ? {} : { maxBatchSizes }),
      ...(concurrencies === undefined ? {} : { concurrencies }),
    },
    flags.runConfigSearchDisable,
  );
  return {
    profileModels: models,
    launchMode: flags.tritonLaunchMode,
    serverFlags: flags.tritonServerFlags.split(/\s+/).filter((f) => f !== ''),
    httpEndpoint: flags.tritonHttpEndpoint,
    grpcEndpoint: flags.tritonGrpcEndpoint,
    clientProtocol: flags.clientProtocol,
    exportPath: flags.exportPath,
    overrideOutputModelRepository: flags.overrideOutputModelRepository,
    space,
    constraints: {
      ...(flags.latencyBudgetMs === undefined ? {} : { latencyBudgetMs: flags.latencyBudgetMs }),
      ...(flags.minThroughput === undefined ? {} : { minThroughput: flags.minThroughput }),
    },
    perfWindowMs: flags.perfWindowMs,
    maxTrials: flags.perfMaxTrials,
    stabilityPercentage: flags.perfStabilityPercentage,
    numConfigsPerModel: flags.numConfigsPerModel,
    shapes: Object.fromEntries(flags.shape.map(shapeFlag)),
    inputData: flags.inputData,
    ...(flags.modelRepository === undefined ? {} : { modelRepository: flags.modelRepository }),
    ...(flags.tritonServerPath === undefined ? {} : { serverPath: flags.tritonServerPath }),
    ...(flags.tritonMetricsUrl === undefined ? {} : { metricsUrl: flags.tritonMetricsUrl }),
    ...(flags.outputModelRepositoryPath === undefined ? {} : { outputModelRepositoryPath: flags.outputModelRepositoryPath }),
  };
}
