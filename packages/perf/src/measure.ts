import { performance } from 'node:perf_hooks';
import { serverStats, statsDelta, statsSum, type Connection } from './connection.js';
import type { RequestLog, RunningLoad } from './load.js';
import type { PerfRow, RawServerStats, ServerStats } from './types.js';

/**
 * perf_analyzer's measurement: windows of -p ms (or of a request count) over a running load, each
 * bracketed by two reads of the server's statistics; a level is stable when the last three windows'
 * throughput and stabilizing latency (average, or --percentile) are within -s % (max / min). The
 * level's figures merge those three windows: their requests' latencies pooled, their durations summed.
 */

/** Requests counted in a window: those whose response arrived inside it. */
export interface Window {
  readonly durationNs: number;
  /** Latencies of the window's requests, ns, sorted. */
  readonly latenciesNs: Float64Array;
  readonly responseCount: number;
  readonly delayedCount: number;
  readonly sendMsSum: number;
  readonly sentCount: number;
  readonly server: RawServerStats | undefined;
  readonly throughput: number;
  readonly stabilizingLatencyNs: number;
  readonly avgLatencyNs: number;
  /** Sample standard deviation of the window's latencies, µs (perf_analyzer's -v pass line). */
  readonly stdUs: number;
}

export interface MeasureSettings {
  readonly windowMs: number;
  readonly countWindows: boolean;
  readonly requestCount: number;
  readonly batchSize: number;
  /** -1: average latency. */
  readonly percentile: number;
  readonly stabilityThreshold: number;
  readonly maxTrials: number;
  readonly latencyThresholdMs: number;
  readonly async: boolean;
}

export const STABILITY_WINDOW = 3;

/** perf_analyzer's percentile pick: index (p / 100) · (n − 1) + 0.5, truncated. */
export function percentileOf(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.floor((p / 100) * (sorted.length - 1) + 0.5)]!;
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length === 0 ? 0 : sum / values.length;
}

function stdDevUs(latencies: Float64Array, avgNs: number): number {
  let sq = 0;
  for (let i = 0; i < latencies.length; i++) sq += (latencies[i]! - avgNs) ** 2;
  return latencies.length > 1 ? Math.floor(Math.sqrt(sq / (latencies.length - 1)) / 1000) : 0;
}

export interface WindowProgress {
  (fraction: number, completed: number): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Measures one window over `load` (which keeps running); `from` is where the previous window's requests ended in the log. */
export async function measureWindow(
  connection: Connection,
  model: string,
  version: string,
  load: RunningLoad,
  settings: MeasureSettings,
  onProgress: WindowProgress | undefined,
): Promise<Window> {
  const before = await serverStats(connection, model, version);
  const log = load.log;
  const sentBefore = load.sent();
  const start = performance.now();
  const first = log.firstEndingAtOrAfter(start);
  for (;;) {
    const now = performance.now();
    const completed = log.length - first;
    if (load.failure() !== undefined) break;
    if (settings.countWindows) {
      // count_windows: the window ends once this many requests have completed in it.
      if (completed >= settings.requestCount) break;
      onProgress?.(Math.min(1, completed / settings.requestCount), completed);
    } else {
      const elapsed = now - start;
      if (elapsed >= settings.windowMs) break;
      onProgress?.(elapsed / settings.windowMs, completed);
      await sleep(Math.min(100, settings.windowMs - elapsed));
      continue;
    }
    await sleep(10);
  }
  const end = performance.now();
  const sentCount = load.sent() - sentBefore;
  const after = await serverStats(connection, model, version);
  return summarize(log, first, log.firstEndingAtOrAfter(end, first), end - start, sentCount, before && after ? statsDelta(before, after) : undefined, settings);
}

function summarize(log: RequestLog, from: number, to: number, durationMs: number, sentCount: number, server: RawServerStats | undefined, settings: MeasureSettings): Window {
  const n = to - from;
  const latencies = new Float64Array(n);
  let responses = 0;
  let delayed = 0;
  let sendSum = 0;
  for (let i = 0; i < n; i++) {
    const k = from + i;
    latencies[i] = Math.round((log.end[k]! - log.start[k]!) * 1e6);
    responses += log.responses[k]!;
    delayed += log.delayed[k]!;
    sendSum += log.send[k]!;
  }
  latencies.sort();
  const durationNs = Math.round(durationMs * 1e6);
  const avg = Math.floor(mean(latencies));
  return {
    stdUs: stdDevUs(latencies, avg),
    durationNs,
    latenciesNs: latencies,
    responseCount: responses,
    delayedCount: delayed,
    sendMsSum: sendSum,
    sentCount,
    server,
    throughput: (n * settings.batchSize) / (durationNs / 1e9),
    avgLatencyNs: avg,
    stabilizingLatencyNs: settings.percentile === -1 ? avg : percentileOf(latencies, settings.percentile),
  };
}

/** The last three windows' throughput and latency within the threshold (and no empty window). */
export function isStable(windows: readonly Window[], threshold: number, checkLatency = true): boolean {
  if (windows.length < STABILITY_WINDOW) return false;
  const last = windows.slice(-STABILITY_WINDOW);
  if (last.some((w) => w.throughput === 0)) return false;
  const ips = last.map((w) => w.throughput);
  if (Math.max(...ips) / Math.min(...ips) > 1 + threshold) return false;
  if (!checkLatency) return true;
  const lat = last.map((w) => w.stabilizingLatencyNs);
  return Math.max(...lat) / Math.min(...lat) <= 1 + threshold;
}

/** perf_analyzer's average in µs: total / (count · 1000), integer. */
function avgUs(totalNs: number, count: number): number {
  return count === 0 ? 0 : Math.floor(totalNs / (count * 1000));
}

export function serverSplit(raw: RawServerStats, cacheEnabled: boolean): ServerStats {
  const cnt = raw.successCount;
  const avgRequestUs = avgUs(raw.cummTimeNs, cnt);
  const queueUs = avgUs(raw.queueTimeNs, raw.queueCount);
  const computeInputUs = avgUs(raw.computeInputTimeNs, raw.computeInputCount);
  const computeInferUs = avgUs(raw.computeInferTimeNs, raw.computeInferCount);
  const computeOutputUs = avgUs(raw.computeOutputTimeNs, raw.computeOutputCount);
  const computeNs = raw.computeInputTimeNs + raw.computeInferTimeNs + raw.computeOutputTimeNs;
  const computeAvgUs = avgUs(computeNs, raw.computeInputCount);
  const cacheHitUs = avgUs(raw.cacheHitTimeNs, raw.cacheHitCount);
  const cacheMissUs = avgUs(raw.cacheMissTimeNs, raw.cacheMissCount);
  const accounted = cacheEnabled ? avgUs(raw.cacheHitTimeNs + raw.cacheMissTimeNs + computeNs, raw.computeInputCount + raw.cacheHitCount) : computeAvgUs;
  const overheadUs = avgRequestUs > queueUs + accounted ? avgRequestUs - queueUs - accounted : 0;
  return {
    inferenceCount: raw.inferenceCount,
    executionCount: raw.executionCount,
    successCount: cnt,
    avgRequestUs,
    overheadUs,
    queueUs,
    computeInputUs,
    computeInferUs,
    computeOutputUs,
    cacheHitCount: raw.cacheHitCount,
    cacheMissCount: raw.cacheMissCount,
    cacheHitUs,
    cacheMissUs,
    raw,
  };
}

export interface LevelIdentity {
  readonly mode: 'concurrency' | 'request_rate';
  readonly load: number;
  readonly batchSize: number;
  readonly percentile: number;
  readonly cacheEnabled: boolean;
}

/** Merges windows as perf_analyzer's MergePerfStatusReports does. */
export function mergeWindows(windows: readonly Window[], id: LevelIdentity, stable: boolean, windowCount: number): PerfRow {
  const total = windows.reduce((a, w) => a + w.latenciesNs.length, 0);
  const latencies = new Float64Array(total);
  let at = 0;
  for (const w of windows) {
    latencies.set(w.latenciesNs, at);
    at += w.latenciesNs.length;
  }
  latencies.sort();
  const durationNs = windows.reduce((a, w) => a + w.durationNs, 0);
  const seconds = durationNs / 1e9;
  const avgNs = Math.floor(mean(latencies));
  const stdUs = stdDevUs(latencies, avgNs);
  const percentiles = new Set([50, 90, 95, 99]);
  if (id.percentile !== -1) percentiles.add(id.percentile);
  const percentilesUs: Record<number, number> = {};
  for (const p of [...percentiles].sort((a, b) => a - b)) percentilesUs[p] = Math.floor(percentileOf(latencies, p) / 1000);
  const sendSum = windows.reduce((a, w) => a + w.sendMsSum, 0);
  const servers = windows.map((w) => w.server);
  const server = servers.every((s) => s !== undefined) && servers.length > 0 ? serverSplit(statsSum(servers as RawServerStats[]), id.cacheEnabled) : undefined;
  const sendRates = windows.map((w) => w.sentCount / (w.durationNs / 1e9));
  const avgLatencyUs = Math.floor(avgNs / 1000);
  return {
    mode: id.mode,
    load: id.load,
    concurrency: id.mode === 'concurrency' ? id.load : 0,
    requestRate: id.mode === 'request_rate' ? id.load : 0,
    batchSize: id.batchSize,
    requestCount: total,
    responseCount: windows.reduce((a, w) => a + w.responseCount, 0),
    delayedRequestCount: windows.reduce((a, w) => a + w.delayedCount, 0),
    durationNs,
    throughput: seconds > 0 ? (total * id.batchSize) / seconds : 0,
    sendRequestRate: sendRates.length === 0 ? 0 : sendRates.reduce((a, b) => a + b, 0) / sendRates.length,
    avgLatencyUs,
    stdLatencyUs: stdUs,
    p50Us: percentilesUs[50]!,
    p90Us: percentilesUs[90]!,
    p95Us: percentilesUs[95]!,
    p99Us: percentilesUs[99]!,
    percentilesUs,
    stabilizingLatencyUs: id.percentile === -1 ? avgLatencyUs : percentilesUs[id.percentile]!,
    avgRequestUs: avgLatencyUs,
    avgSendUs: total === 0 ? 0 : Math.floor((sendSum * 1000) / total),
    avgReceiveUs: 0,
    windows: windowCount,
    stable,
    server,
  };
}
