import { GrpcClient, HttpClient, InferenceServerError, type InferenceClient, type ModelMetadata } from '@nereid/client';
import { GENERIC_ERROR, PerfError, type Protocol, type RawServerStats } from './types.js';

/** The model facts a run needs, from the metadata and configuration endpoints. */
export interface ModelInfo {
  readonly name: string;
  readonly version: string;
  readonly metadata: ModelMetadata;
  readonly maxBatchSize: number;
  readonly decoupled: boolean;
  readonly responseCacheEnabled: boolean;
}

/** A client of either protocol, plus the protocol-specific bits perf needs (statistics, model config). */
export interface Connection {
  readonly protocol: Protocol;
  readonly client: InferenceClient;
  readonly http?: HttpClient;
  readonly grpc?: GrpcClient;
  readonly target: string;
  close(): void;
}

/** perf_analyzer's -u defaults; a scheme is accepted and dropped for gRPC, added for HTTP. */
export function connect(protocol: Protocol, url: string | undefined, headers: Readonly<Record<string, string>> | undefined): Connection {
  const hdrs = { ...headers };
  if (protocol === 'http') {
    const raw = url ?? 'localhost:8000';
    const target = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
    const http = new HttpClient(target, { headers: hdrs });
    return { protocol, client: http, http, target, close: () => http.close() };
  }
  const target = (url ?? 'localhost:8001').replace(/^(grpc|https?):\/\//, '');
  const grpc = new GrpcClient(target, { headers: hdrs });
  return { protocol, client: grpc, grpc, target, close: () => grpc.close() };
}

/** Turns a transport failure into perf_analyzer's "failed to ..." error text (exit 99). */
function failure(what: string, error: unknown, target: string): PerfError {
  if (error instanceof InferenceServerError) return new PerfError(`error: ${what}: ${error.message}`, GENERIC_ERROR);
  const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  return new PerfError(`error: ${what}: unable to reach the server at ${target} (${message})`, GENERIC_ERROR);
}

export async function modelInfo(connection: Connection, model: string, version: string): Promise<ModelInfo> {
  let metadata: ModelMetadata;
  try {
    metadata = await connection.client.modelMetadata(model, version, { signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw failure('failed to get model metadata', error, connection.target);
  }
  let config: unknown;
  try {
    const options = { signal: AbortSignal.timeout(30_000) };
    config = connection.http !== undefined ? await connection.http.modelConfig(model, version, options) : await connection.grpc!.modelConfig(model, version, options);
  } catch (error) {
    throw failure('failed to get model config', error, connection.target);
  }
  const chosenVersion = version !== '' ? version : (metadata.versions.map(Number).filter(Number.isFinite).sort((a, b) => b - a)[0]?.toString() ?? '');
  return { name: model, version: chosenVersion, metadata, ...configFacts(connection.protocol, config) };
}

function configFacts(protocol: Protocol, config: unknown): { maxBatchSize: number; decoupled: boolean; responseCacheEnabled: boolean } {
  const c = (config ?? {}) as Record<string, unknown>;
  if (protocol === 'http') {
    const policy = c['model_transaction_policy'] as { decoupled?: boolean } | undefined;
    const cache = c['response_cache'] as { enable?: boolean } | undefined;
    return { maxBatchSize: Number(c['max_batch_size'] ?? 0), decoupled: policy?.decoupled === true, responseCacheEnabled: cache?.enable === true };
  }
  const policy = c['modelTransactionPolicy'] as { decoupled?: boolean } | undefined;
  const cache = c['responseCache'] as { enable?: boolean } | undefined;
  return { maxBatchSize: Number(c['maxBatchSize'] ?? 0), decoupled: policy?.decoupled === true, responseCacheEnabled: cache?.enable === true };
}

export function emptyStats(): RawServerStats {
  return {
    inferenceCount: 0,
    executionCount: 0,
    successCount: 0,
    cummTimeNs: 0,
    queueCount: 0,
    queueTimeNs: 0,
    computeInputCount: 0,
    computeInputTimeNs: 0,
    computeInferCount: 0,
    computeInferTimeNs: 0,
    computeOutputCount: 0,
    computeOutputTimeNs: 0,
    cacheHitCount: 0,
    cacheHitTimeNs: 0,
    cacheMissCount: 0,
    cacheMissTimeNs: 0,
  };
}

interface Duration {
  count: number;
  ns: number;
}

/** The model's cumulative statistics (summed over the versions returned), or undefined when unavailable. */
export async function serverStats(connection: Connection, model: string, version: string): Promise<RawServerStats | undefined> {
  try {
    const entries: Array<{ name: string; inferenceCount: number; executionCount: number; stats: Record<string, Duration | undefined> }> = [];
    if (connection.http !== undefined) {
      const json = await connection.http.modelStatistics(model, version);
      for (const s of json.model_stats) entries.push({ name: s.name, inferenceCount: Number(s.inference_count), executionCount: Number(s.execution_count), stats: s.inference_stats });
    } else {
      const response = await connection.grpc!.modelStatistics(model, version);
      for (const s of response.modelStats) {
        const d = (x: { count: bigint; ns: bigint } | undefined): Duration | undefined => (x === undefined ? undefined : { count: Number(x.count), ns: Number(x.ns) });
        const i = s.inferenceStats;
        entries.push({
          name: s.name,
          inferenceCount: Number(s.inferenceCount),
          executionCount: Number(s.executionCount),
          stats: {
            success: d(i?.success),
            queue: d(i?.queue),
            compute_input: d(i?.computeInput),
            compute_infer: d(i?.computeInfer),
            compute_output: d(i?.computeOutput),
            cache_hit: d(i?.cacheHit),
            cache_miss: d(i?.cacheMiss),
          },
        });
      }
    }
    const out = emptyStats();
    for (const e of entries) {
      if (e.name !== model) continue;
      const get = (key: string): Duration => e.stats[key] ?? { count: 0, ns: 0 };
      out.inferenceCount += e.inferenceCount;
      out.executionCount += e.executionCount;
      out.successCount += get('success').count;
      out.cummTimeNs += get('success').ns;
      out.queueCount += get('queue').count;
      out.queueTimeNs += get('queue').ns;
      out.computeInputCount += get('compute_input').count;
      out.computeInputTimeNs += get('compute_input').ns;
      out.computeInferCount += get('compute_infer').count;
      out.computeInferTimeNs += get('compute_infer').ns;
      out.computeOutputCount += get('compute_output').count;
      out.computeOutputTimeNs += get('compute_output').ns;
      out.cacheHitCount += get('cache_hit').count;
      out.cacheHitTimeNs += get('cache_hit').ns;
      out.cacheMissCount += get('cache_miss').count;
      out.cacheMissTimeNs += get('cache_miss').ns;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** end − start, field by field. */
export function statsDelta(start: RawServerStats, end: RawServerStats): RawServerStats {
  const out = emptyStats();
  for (const key of Object.keys(out) as Array<keyof RawServerStats>) out[key] = end[key] - start[key];
  return out;
}

export function statsSum(list: readonly RawServerStats[]): RawServerStats {
  const out = emptyStats();
  for (const s of list) for (const key of Object.keys(out) as Array<keyof RawServerStats>) out[key] += s[key];
  return out;
}
