import type { PerfResult, PerfRow, Protocol } from './types.js';

/** perf_analyzer's report text (its std::cout lines), line by line. */

/** A double as C++'s default ostream prints it: 6 significant digits, trailing zeros dropped. */
export function cppNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  if (value === 0) return '0';
  const exponent = Math.floor(Math.log10(Math.abs(value)));
  let text: string;
  if (exponent < -5 || exponent >= 6) {
    const [mantissa, exp] = value.toExponential(5).split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const e = Number(exp);
    text = `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  } else {
    text = value.toPrecision(6);
    if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  }
  return text;
}

export interface SettingsSummary {
  readonly batchSize: number;
  readonly countWindows: boolean;
  readonly requestCount: number;
  readonly windowMs: number;
  readonly percentile: number;
  readonly async: boolean;
  readonly latencyThresholdMs: number;
  readonly mode: 'concurrency' | 'request_rate';
  readonly rangeEnd: number;
  readonly rangeStart: number;
  readonly distribution: 'constant' | 'poisson';
  readonly decoupled: boolean;
  readonly warmupRequestCount: number;
}

/** "*** Measurement Settings ***" (PerfAnalyzer::PrerunReport). */
export function settingsLines(s: SettingsSummary): string[] {
  const out = ['*** Measurement Settings ***', `  Batch size: ${s.batchSize}`, '  Service Kind: TRITON'];
  if (s.warmupRequestCount > 0) out.push(`  Sending ${s.warmupRequestCount} warmup request${s.warmupRequestCount > 1 ? 's' : ''}`);
  out.push(s.countWindows ? '  Using "count_windows" mode for stabilization' : '  Using "time_windows" mode for stabilization');
  const metric = s.async ? 'throughput' : 'latency and throughput';
  out.push(s.percentile === -1 ? `  Stabilizing using average ${metric}` : `  Stabilizing using p${s.percentile}${metric}`);
  out.push(s.countWindows ? `  Minimum number of samples in each window: ${s.requestCount}` : `  Measurement window: ${s.windowMs} msec`);
  if (s.mode === 'concurrency' && s.rangeEnd !== 1) {
    out.push(`  Latency limit: ${s.latencyThresholdMs} msec`);
    if (s.rangeEnd !== 0) out.push(`  Concurrency limit: ${Math.max(s.rangeStart, s.rangeEnd)} concurrent requests`);
  }
  if (s.mode === 'request_rate') {
    if (s.rangeEnd !== 1) {
      out.push(`  Latency limit: ${s.latencyThresholdMs} msec`);
      if (s.rangeEnd !== 0) out.push(`  Request Rate limit: ${cppNumber(Math.max(s.rangeStart, s.rangeEnd))} requests per seconds`);
    }
    out.push(s.distribution === 'poisson' ? '  Using poisson distribution on request generation' : '  Using uniform distribution on request generation');
  }
  out.push(s.async ? '  Using asynchronous calls for inference' : '  Using synchronous calls for inference');
  if (s.decoupled) out.push('  Detected decoupled model, using the first response for measuring latency');
  out.push('');
  return out;
}

/** The header line of a level: "Request concurrency: N" or "Request Rate: R inference requests per second". */
export function levelLine(mode: 'concurrency' | 'request_rate', load: number): string {
  return mode === 'concurrency' ? `Request concurrency: ${load}` : `Request Rate: ${cppNumber(load)} inference requests per second`;
}

/** "  Pass [n] throughput: ..." (-v). */
export function passLine(trial: number, throughput: number, avgLatencyUs: number, stdUs: number, percentile: number, percentileUs: number): string {
  const latency = percentile === -1 ? `Avg latency: ${avgLatencyUs} usec (std ${stdUs} usec). ` : `p${percentile} latency: ${percentileUs} usec`;
  return `  Pass [${trial}] throughput: ${cppNumber(throughput)} infer/sec. ${latency}`;
}

/** The client and server blocks of one stable level (Report in inference_profiler.cc). */
export function levelReport(row: PerfRow, protocol: Protocol, percentile: number, decoupled: boolean, cacheEnabled: boolean): string[] {
  const out = ['  Client: ', `    Request count: ${row.requestCount}`];
  const delayPct = row.requestCount === 0 ? 0 : (row.delayedRequestCount / row.requestCount) * 100;
  if (row.mode === 'request_rate' && delayPct > 1.0) {
    out.push(`    Avg send request rate: ${row.sendRequestRate.toFixed(2)} infer/sec`);
    out.push(`    [WARNING] Perf Analyzer was not able to keep up with the desired request rate. ${delayPct.toFixed(2)}% of the requests were delayed. `);
  }
  out.push(`    Throughput: ${cppNumber(row.throughput)} infer/sec`);
  if (decoupled) out.push(`    Response Throughput: ${cppNumber(row.responseCount / (row.durationNs / 1e9))} infer/sec`);
  if (percentile === -1) out.push(`    Avg latency: ${row.avgLatencyUs} usec (standard deviation ${row.stdLatencyUs} usec)`);
  for (const [p, us] of Object.entries(row.percentilesUs)) out.push(`    p${p} latency: ${us} usec`);
  const wait = Math.max(0, row.avgRequestUs - row.avgSendUs - row.avgReceiveUs);
  out.push(
    protocol === 'grpc'
      ? `    Avg gRPC time: ${row.avgRequestUs} usec ((un)marshal request/response ${row.avgSendUs + row.avgReceiveUs} usec + response wait ${wait} usec)`
      : `    Avg HTTP time: ${row.avgRequestUs} usec (send/recv ${row.avgSendUs + row.avgReceiveUs} usec + response wait ${wait} usec)`,
  );
  const s = row.server;
  if (s !== undefined) {
    out.push('  Server: ');
    if (s.successCount === 0) {
      out.push('    Request count: 0');
    } else {
      out.push(`    Inference count: ${s.inferenceCount}`, `    Execution count: ${s.executionCount}`);
      if (cacheEnabled) out.push(`    Cache hit count: ${s.cacheHitCount}`, `    Cache miss count: ${s.cacheMissCount}`);
      out.push(`    Successful request count: ${s.successCount}`);
      if (cacheEnabled) {
        const combined = s.raw.computeInputCount + s.cacheHitCount === 0 ? 0 : Math.floor((s.raw.cacheHitTimeNs + s.raw.cacheMissTimeNs + s.raw.computeInputTimeNs + s.raw.computeInferTimeNs + s.raw.computeOutputTimeNs) / ((s.raw.computeInputCount + s.cacheHitCount) * 1000));
        const compute = s.computeInputUs + s.computeInferUs + s.computeOutputUs;
        out.push(`    Avg request latency: ${s.avgRequestUs} usec (overhead ${s.overheadUs} usec + queue ${s.queueUs} usec + cache hit/miss ${combined} usec)`);
        out.push(`      Average Cache Hit Latency: ${s.cacheHitUs} usec`);
        out.push(`      Average Cache Miss Latency: ${s.cacheMissUs + compute} usec (cache lookup/insertion ${s.cacheMissUs} usec + compute input ${s.computeInputUs} usec + compute infer ${s.computeInferUs} usec + compute output ${s.computeOutputUs} usec)`);
      } else {
        out.push(`    Avg request latency: ${s.avgRequestUs} usec (overhead ${s.overheadUs} usec + queue ${s.queueUs} usec + compute input ${s.computeInputUs} usec + compute infer ${s.computeInferUs} usec + compute output ${s.computeOutputUs} usec)`);
      }
    }
  }
  return out;
}

/** The closing summary (PerfAnalyzer::WriteReport). */
export function summaryLines(result: PerfResult, percentile: number): string[] {
  if (result.rows.length === 0) return [];
  const out = [`Inferences/Second vs. Client ${percentile === -1 ? 'Average' : `p${percentile}`} Batch Latency`];
  for (const row of result.rows) {
    const load = row.mode === 'concurrency' ? `Concurrency: ${row.load}` : `Request Rate: ${cppNumber(row.load)}`;
    out.push(`${load}, throughput: ${cppNumber(row.throughput)} infer/sec, latency ${row.stabilizingLatencyUs} usec`);
  }
  return out;
}
