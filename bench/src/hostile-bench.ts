/**
 * Health under hostile-but-legal requests (not part of the test suite). Nereid runs in this process
 * on the example models; a child process sends requests that once held the event loop for seconds
 * (millions of JSON strings, millions of binary BYTES elements, a gzip'd JSON of millions of numbers,
 * two concurrent ~50 MB JSON BYTES bodies), in a closed loop, while a second child sends
 * GET /v2/health/live every 10 ms. Reported: the probe's latency p50/p99/max, this process's
 * event-loop lag, and the hostile requests completed. Target: health p99 ≤ 50 ms.
 * BENCH_SECONDS sets the window per case (default 8).
 */
import { gzipSync } from 'node:zlib';
import { silentLogger, startServer } from 'nereid';
import { Driver, loadConfig, summarize, epochMs, type WindowSummary } from './drivers.js';
import type { HttpCall } from './load.js';
import { LoopLag, type LagSummary } from './loop-lag.js';
import { join } from 'node:path';
import { REPO_ROOT } from './servers.js';

const EXAMPLE_MODELS = join(REPO_ROOT, 'examples', 'models');

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const TARGET_P99_MS = 50;

interface HostileCase {
  readonly label: string;
  readonly call: HttpCall | undefined;
  readonly clients: number;
}

function jsonBytesCall(count: number, element: string): HttpCall {
  const data = `${JSON.stringify(element)},`.repeat(count - 1) + JSON.stringify(element);
  const body = Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,${count}],"data":[${data}]}]}`);
  return { path: '/v2/models/simple_identity/infer', headers: { 'Content-Type': 'application/json' }, body };
}

function binaryEmptyBytesCall(count: number): HttpCall {
  const tail = Buffer.alloc(4 * count);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, count], parameters: { binary_data_size: tail.length } }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    }),
  );
  return {
    path: '/v2/models/simple_identity/infer',
    headers: { 'Inference-Header-Content-Length': String(header.length) },
    body: Buffer.concat([header, tail]),
  };
}

function gzipJsonFloatsCall(count: number): HttpCall {
  const data = Array.from({ length: count }, (_, i) => (i % 1000) / 7).join(',');
  const json = Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,${count}],"data":[${data}]}]}`);
  return { path: '/v2/models/identity_fp32/infer', headers: { 'Content-Encoding': 'gzip' }, body: gzipSync(json) };
}

interface Result {
  readonly label: string;
  readonly bodyMiB: number;
  readonly live: WindowSummary;
  readonly load: WindowSummary | undefined;
  readonly lag: LagSummary;
  readonly errors: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function runCase(port: number, hostile: HostileCase): Promise<Result> {
  const probe = await Driver.start({ mode: 'probe', port, path: '/v2/health/live', intervalMs: 10 });
  const load = hostile.call ? await Driver.start(loadConfig(port, hostile.call, hostile.clients, 0)) : undefined;
  const lag = new LoopLag();
  const from = epochMs();
  probe.go();
  load?.go();
  lag.start();
  await sleep(SECONDS * 1000);
  lag.stop();
  const to = epochMs();
  const [probeSamples, loadSamples] = await Promise.all([probe.stop(), load?.stop()]);
  const window = [[from, to]] as const;
  return {
    label: hostile.label,
    bodyMiB: (hostile.call?.body.length ?? 0) / 2 ** 20,
    live: summarize(probeSamples, window),
    load: loadSamples ? summarize(loadSamples, [[from, Number.POSITIVE_INFINITY]]) : undefined,
    lag: lag.summary(),
    errors: probeSamples.errors + (loadSamples?.errors ?? 0),
  };
}

async function main(): Promise<void> {
  const cases: HostileCase[] = [
    { label: 'no load (baseline)', call: undefined, clients: 0 },
    { label: 'JSON, 4M one-character strings', call: jsonBytesCall(4_000_000, 'a'), clients: 1 },
    { label: 'JSON, 3.3M 12-char strings, 2 at once', call: jsonBytesCall(3_300_000, 'abcdefghijkl'), clients: 2 },
    { label: 'binary, 4M empty BYTES elements', call: binaryEmptyBytesCall(4_000_000), clients: 1 },
    { label: 'gzip JSON, 2M FP32 numbers', call: gzipJsonFloatsCall(2_000_000), clients: 1 },
  ];
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = await startServer({
    modelRepositories: [EXAMPLE_MODELS],
    http: { port, address: '127.0.0.1', maxInputSize: 256 * 1024 * 1024 },
    grpc: { allow: false },
    logger: silentLogger,
  });
  console.log(`Health under hostile requests: ${SECONDS} s per case, probe every 10 ms from its own process\n`);
  const results: Result[] = [];
  try {
    for (const hostile of cases) results.push(await runCase(port, hostile));
  } finally {
    await server.close();
  }
  const head = ['case'.padEnd(40), 'body MiB', 'done', 'req s', 'live p50', 'live p99', 'live max', 'lag p99', 'lag max', 'errors'];
  console.log(head.map((h, i) => (i === 0 ? h : h.padStart(9))).join(''));
  for (const r of results) {
    const cells = [
      r.bodyMiB.toFixed(1),
      String(r.load?.requests ?? '-'),
      r.load ? (r.load.p50Us / 1e6).toFixed(2) : '-',
      (r.live.p50Us / 1000).toFixed(1),
      (r.live.p99Us / 1000).toFixed(1),
      (r.live.maxUs / 1000).toFixed(1),
      r.lag.p99Ms.toFixed(1),
      r.lag.maxMs.toFixed(1),
      String(r.errors),
    ];
    console.log(r.label.padEnd(40) + cells.map((c) => c.padStart(9)).join(''));
  }
  console.log('\nTarget: /v2/health/live p99 ≤ 50 ms while each case runs');
  for (const r of results.slice(1)) {
    const p99 = r.live.p99Us / 1000;
    console.log(`  ${r.label}: ${p99.toFixed(1)} ms: ${p99 <= TARGET_P99_MS ? 'met' : `MISSED by ${(p99 - TARGET_P99_MS).toFixed(1)} ms`}`);
  }
  console.log('\ndone: hostile requests completed in the window; req s: their median latency (s); lag: this process\'s event loop (ms)');
}

await main();
