/**
 * `profile`: starts (or reaches) the server, sweeps every model, then writes the CSV, the HTML
 * report and the output model repository, and returns what it measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HttpClient } from '@nereid/client';
import { recommend } from './analysis/recommend.js';
import { PerfMeasurer } from './perf-measurer.js';
import { profileModel } from './profiler.js';
import { htmlReport } from './report/html-report.js';
import { rowsCsv } from './report/rows.js';
import { defaultServerPath, startLocalServer, type LocalServer } from './server/local-server.js';
import { ProcessRssSampler, remoteMemorySampler, type MemorySampler } from './server/memory.js';
import { writeOutputRepository } from './output/output-repository.js';
import type { ClientProtocol, ConfigResult, Constraints, LaunchMode, ProfileResult, Recommendation, SearchSpace } from './types.js';

export interface ProfileOptions {
  /** The repository to profile (required for local launch; its model files are copied to the output repository). */
  readonly modelRepository?: string;
  readonly profileModels: readonly string[];
  readonly launchMode: LaunchMode;
  /** Local: the server executable or .js entry (default: the `nereid` package's bin). */
  readonly serverPath?: string;
  /** Local: extra server flags. */
  readonly serverFlags?: readonly string[];
  /** Remote: host:port of HTTP (loads and configs go over HTTP) and gRPC. */
  readonly httpEndpoint?: string;
  readonly grpcEndpoint?: string;
  /** Remote: the Prometheus endpoint for memory (default http://<http host>:8002/metrics). */
  readonly metricsUrl?: string;
  readonly clientProtocol: ClientProtocol;
  /** Reports go to `<exportPath>/reports`, the CSV to `<exportPath>/results`. */
  readonly exportPath: string;
  readonly outputModelRepositoryPath?: string;
  readonly overrideOutputModelRepository?: boolean;
  readonly space: SearchSpace;
  readonly constraints: Constraints;
  /** Measurement window per trial, ms. */
  readonly perfWindowMs: number;
  readonly maxTrials: number;
  readonly stabilityPercentage: number;
  /** Recommended configs per model (and written to the output repository). */
  readonly numConfigsPerModel: number;
  /** Shapes of inputs with variable dimensions (perf's `--shape`). */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** perf's `--input-data`; default random. */
  readonly inputData?: string;
  readonly log?: (line: string) => void;
}

/** The files a profile run wrote. */
export interface ProfileOutputs {
  readonly reportPath: string;
  readonly csvPath: string;
  readonly outputFolders: readonly string[];
}

interface Target {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly memory: MemorySampler;
  readonly server?: LocalServer;
}

async function openTarget(options: ProfileOptions): Promise<Target> {
  if (options.launchMode === 'local') {
    if (options.modelRepository === undefined) throw new Error('--model-repository is required with --triton-launch-mode local');
    const server = await startLocalServer({
      modelRepository: resolve(options.modelRepository),
      serverPath: options.serverPath ?? defaultServerPath(),
      extraFlags: options.serverFlags ?? [],
      startTimeoutMs: 60_000,
    });
    return { httpUrl: server.httpUrl, grpcAddress: server.grpcAddress, memory: new ProcessRssSampler(server.pid), server };
  }
  const http = options.httpEndpoint ?? 'localhost:8000';
  const httpUrl = /^https?:\/\//.test(http) ? http : `http://${http}`;
  const host = new URL(httpUrl).hostname;
  const metricsUrl = options.metricsUrl ?? `http://${host}:8002/metrics`;
  return { httpUrl, grpcAddress: options.grpcEndpoint ?? `${host}:8001`, memory: await remoteMemorySampler(metricsUrl) };
}

/** Runs the sweep and writes the outputs. */
export async function profile(options: ProfileOptions): Promise<{ result: ProfileResult; outputs: ProfileOutputs }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  const target = await openTarget(options);
  const results: ConfigResult[] = [];
  const failures = new Map<string, string>();
  try {
    const client = new HttpClient(target.httpUrl);
    const measurer = new PerfMeasurer({
      url: options.clientProtocol === 'grpc' ? target.grpcAddress : target.httpUrl.replace(/^https?:\/\//, ''),
      protocol: options.clientProtocol,
      windowMs: options.perfWindowMs,
      maxTrials: options.maxTrials,
      stabilityPercentage: options.stabilityPercentage,
      shapes: options.shapes ?? {},
      inputData: options.inputData ?? 'random',
    });
    for (const model of options.profileModels) {
      log(`Profiling ${model}`);
      try {
        results.push(...(await profileModel(model, { client, measurer, memory: target.memory }, { space: options.space, constraints: options.constraints, log })));
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        log(`  ${model} failed: ${why}`);
        failures.set(model, why);
        await client.unloadModel(model).catch(() => undefined);
      }
    }
  } catch (error) {
    if (target.server !== undefined) log(target.server.output().split('\n').slice(-20).join('\n'));
    throw error;
  } finally {
    await target.server?.stop();
  }
  const recommendations = new Map<string, Recommendation[]>();
  for (const model of options.profileModels) {
    const mine = results.filter((r) => r.variant.model === model);
    recommendations.set(model, recommend(mine, options.constraints, options.numConfigsPerModel));
  }
  const result: ProfileResult = {
    models: options.profileModels,
    results,
    recommendations,
    constraints: options.constraints,
    memorySource: target.memory.info,
    failures,
    durationSec: (performance.now() - started) / 1000,
  };
  return { result, outputs: writeOutputs(result, options) };
}

function writeOutputs(result: ProfileResult, options: ProfileOptions): ProfileOutputs {
  const reports = join(options.exportPath, 'reports');
  const results = join(options.exportPath, 'results');
  mkdirSync(reports, { recursive: true });
  mkdirSync(results, { recursive: true });
  const reportPath = join(reports, 'summary.html');
  const csvPath = join(results, 'metrics-model-inference.csv');
  writeFileSync(reportPath, htmlReport(result));
  writeFileSync(csvPath, rowsCsv(result.results.flatMap((r) => r.rows)));
  let outputFolders: string[] = [];
  if (options.outputModelRepositoryPath !== undefined) {
    const chosen = chosenConfigs(result);
    outputFolders = writeOutputRepository(chosen, {
      path: options.outputModelRepositoryPath,
      override: options.overrideOutputModelRepository ?? false,
      ...(options.modelRepository === undefined ? {} : { sourceRepository: options.modelRepository }),
    });
  }
  return { reportPath, csvPath, outputFolders };
}

/** Per model: the default config and the recommended ones. */
export function chosenConfigs(result: ProfileResult): ConfigResult[] {
  const out: ConfigResult[] = [];
  for (const model of result.models) {
    const defaults = result.results.find((r) => r.variant.model === model && r.variant.isDefault);
    if (defaults !== undefined) out.push(defaults);
    for (const rec of result.recommendations.get(model) ?? []) if (!rec.result.variant.isDefault) out.push(rec.result);
  }
  return out;
}
