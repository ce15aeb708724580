import { cppNumber } from './report.js';
import type { PerfResult, PerfRow } from './types.js';

/**
 * perf_analyzer's CSV (-f), as its ReportWriter writes it: one row per stable level, sorted by
 * throughput; latencies in µs; server columns from the statistics extension.
 */
export function csvReport(result: PerfResult, verbose: boolean, percentile: number): string {
  const rows = [...result.rows].sort((a, b) => a.throughput - b.throughput);
  const withServer = rows.length > 0 && rows.every((r) => r.server !== undefined);
  const cache = result.responseCacheEnabled;
  const percentiles = rows.length === 0 ? [50, 90, 95, 99] : Object.keys(rows[0]!.percentilesUs).map(Number);
  const header: string[] = [result.mode === 'concurrency' ? 'Concurrency' : 'Request Rate', 'Inferences/Second'];
  if (result.decoupled) header.push('Response Throughput');
  header.push('Client Send');
  if (withServer) {
    header.push('Network+Server Send/Recv', 'Server Queue', 'Server Compute Input', 'Server Compute Infer', 'Server Compute Output');
    if (cache) header.push('Server Cache Hit', 'Server Cache Miss');
  }
  header.push('Client Recv', ...percentiles.map((p) => `p${p} latency`));
  if (verbose) {
    if (percentile === -1) header.push('Avg latency');
    header.push('request/response', 'response wait');
  }
  const lines = [header.join(',')];
  for (const row of rows) lines.push(csvRow(row, result, withServer, cache, percentiles, verbose, percentile).join(','));
  return lines.join('\n') + '\n';
}

function csvRow(row: PerfRow, result: PerfResult, withServer: boolean, cache: boolean, percentiles: number[], verbose: boolean, percentile: number): string[] {
  const out: string[] = [result.mode === 'concurrency' ? String(row.load) : cppNumber(row.load), cppNumber(row.throughput)];
  if (result.decoupled) out.push(cppNumber(row.responseCount / (row.durationNs / 1e9)));
  out.push(String(row.avgSendUs));
  if (withServer) {
    const s = row.server!;
    const computeCount = s.raw.computeInputCount;
    const computeUs = computeCount === 0 ? 0 : Math.floor((s.raw.computeInputTimeNs + s.raw.computeInferTimeNs + s.raw.computeOutputTimeNs) / (computeCount * 1000));
    const wait = row.avgLatencyUs - row.avgSendUs - row.avgReceiveUs;
    const accounted = s.queueUs + computeUs + s.cacheHitUs + s.cacheMissUs;
    const network = wait > accounted ? wait - accounted : 0;
    out.push(String(network), String(s.queueUs), String(s.computeInputUs), String(s.computeInferUs), String(s.computeOutputUs));
    if (cache) out.push(String(s.cacheHitUs), String(s.cacheMissUs));
  }
  out.push(String(row.avgReceiveUs), ...percentiles.map((p) => String(row.percentilesUs[p] ?? 0)));
  if (verbose) {
    if (percentile === -1) out.push(String(row.avgLatencyUs));
    out.push(String(row.avgSendUs + row.avgReceiveUs), String(row.avgRequestUs - row.avgSendUs - row.avgReceiveUs));
  }
  return out;
}
