/**
 * Observability benchmark (not part of the test suite; `npm run bench:trace`). Two Nereid child
 * processes serve `simple`: one with metrics and tracing off, one with both on: metrics as Triton's
 * defaults (counters) with a scraper reading /metrics every second through the run, and tracing at
 * TIMESTAMPS, rate 1 (every request traced and written to the trace file). Windows alternate
 * between the two within each round, so both are measured in the same run. Closed-loop HTTP load
 * (binary tensor extension, batch-1 requests) from a forked driver (http-driver.ts), at concurrency
 * 1 and 16. Target (issue
 * 13): metrics and tracing on take ≤ 5 % off throughput, judged on the median over rounds of each
 * round's own ratio (a shared VM's speed drifts over minutes; a ratio within one round cancels it).
 *
 * After the run the trace file is read back: it must be one JSON array holding a trace per traced
 * request (Triton's format).
 *
 * BENCH_SECONDS: window per case and round (default 0.5); BENCH_ROUNDS (default 24; many short alternating
 * windows: single rounds swing by ±40 % on a drifting VM, and the median of 8 moved by several points
 * from run to run); BENCH_MODES: off,TIMESTAMPS (default both: 'off' is the server with everything
 * off, 'TIMESTAMPS' the one with metrics and tracing on); BENCH_CONCURRENCY (default 1,16);
 * BENCH_CPU_PROF=<dir>: the servers run with --cpu-prof.
 */
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Driver, epochMs, loadConfig, pairedMedian, summarize, type DriverSamples, type PerRound, type WindowSummary } from './drivers.js';
import { removeTempRepositories, tempRepository } from './engine-model.js';
import { benchCall } from './ensemble-models.js';
import { httpOk } from './infer-calls.js';
import { scraper } from './metrics-scraper.js';
import { processCpuSeconds } from './proc-stats.js';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';
import type { ChildProcess } from 'node:child_process';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 0.5);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 24));
const WARMUP_MS = 300;
const INITIAL_WARMUP_S = 3;
const CPU_PROF = process.env['BENCH_CPU_PROF'];
/** Tracing modes to run (default both; 'TIMESTAMPS' alone for a profile of the traced path). */
const MODES = (process.env['BENCH_MODES'] ?? 'off,TIMESTAMPS').split(',') as Mode[];
const CONCURRENCIES = (process.env['BENCH_CONCURRENCY'] ?? '1,16').split(',').map(Number);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Mode = 'off' | 'TIMESTAMPS';

interface Window {
  readonly samples: DriverSamples;
  readonly range: readonly [number, number];
  readonly serverCpu: number;
}

/** A server of one mode: its ports and process. */
interface Served {
  readonly mode: Mode;
  readonly child: ChildProcess;
  readonly port: number;
  /** Metrics port of the "on" server. */
  readonly metricsPort: number | undefined;
  readonly traceFile: string;
}

async function startServed(mode: Mode, repository: string): Promise<Served> {
  const port = await freePort();
  const metricsPort = mode === 'off' ? undefined : await freePort();
  const traceFile = join(repository, `trace-${mode}.json`);
  const child = await startChild(
    process.execPath,
    [
      ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []),
      'packages/server/bin/nereid.js', '--model-repository', repository, '--http-address', '127.0.0.1', '--http-port', String(port),
      '--allow-grpc', 'false', '--trace-config', `triton,file=${traceFile}`,
      ...(metricsPort === undefined ? ['--allow-metrics', 'false'] : ['--metrics-address', '127.0.0.1', '--metrics-port', String(metricsPort)]),
    ],
    /Started HTTPService/,
  );
  if (mode === 'TIMESTAMPS') {
    const body = Buffer.from(JSON.stringify({ trace_level: ['TIMESTAMPS'], trace_rate: '1' }));
    await httpOk(port, 'POST', '/v2/trace/setting', body, { 'Content-Type': 'application/json' });
  }
  return { mode, child, port, metricsPort, traceFile };
}

async function window(served: Served, concurrency: number, seconds = SECONDS): Promise<Window> {
  const driver = await Driver.start(loadConfig(served.port, benchCall('simple'), concurrency, WARMUP_MS));
  const pid = served.child.pid!;
  const cpu0 = processCpuSeconds(pid);
  driver.go();
  const from = epochMs();
  await sleep(seconds * 1000);
  const to = epochMs();
  const cpu1 = processCpuSeconds(pid);
  const samples = await driver.stop();
  return { samples, range: [from, to], serverCpu: cpu1 - cpu0 };
}

interface CaseResult extends PerRound {
  readonly mode: Mode;
  readonly concurrency: number;
  readonly summary: WindowSummary;
  readonly errors: number;
  readonly serverUsPerRequest: number;
}

function merge(mode: Mode, concurrency: number, windows: readonly Window[]): CaseResult {
  const samples: DriverSamples = { ends: [], latencies: [], errors: 0 };
  for (const w of windows) {
    samples.ends.push(...w.samples.ends);
    samples.latencies.push(...w.samples.latencies);
    samples.errors += w.samples.errors;
  }
  const summary = summarize(samples, windows.map((w) => w.range));
  const serverCpu = windows.reduce((sum, w) => sum + w.serverCpu, 0);
  const perRound = windows.map((w) => summarize(w.samples, [w.range]));
  return { mode, concurrency, summary, perRound, errors: samples.errors, serverUsPerRequest: (serverCpu * 1e6) / Math.max(1, summary.requests) };
}

const COLUMNS = ['c', 'req/s', 'p50 µs', 'p99 µs', 'srv µs/rq', 'err'];
const WIDTHS = [3, 8, 8, 8, 10, 4];
const line = (label: string, cells: readonly string[]): string => label.padEnd(24) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');

function printRow(r: CaseResult): void {
  console.log(line(r.mode === 'off' ? '  simple, all off' : '  simple, metrics+tracing', [String(r.concurrency), int(r.summary.throughput), int(r.summary.p50Us), int(r.summary.p99Us), int(r.serverUsPerRequest), String(r.errors)]));
}

async function main(): Promise<void> {
  const started = Date.now();
  const repository = tempRepository('nereid-trace-');
  cpSync(join(REPO_ROOT, 'examples', 'models', 'simple'), join(repository, 'simple'), { recursive: true });
  const servers = new Map<Mode, Served>();
  console.log(`Observability benchmark: ${ROUNDS} alternating rounds of ${SECONDS} s windows per case, node ${process.version}\n`);
  console.log(line('case', COLUMNS));
  const verdicts: string[] = [];
  let traced = 0;
  let scraping: ReturnType<typeof scraper> | undefined;
  let scraped = 0;
  try {
    for (const mode of MODES) servers.set(mode, await startServed(mode, repository));
    // One scraper for the whole run, as Prometheus would: a window of 0.5 s would rarely see a
    // per-window scraper's first tick.
    scraping = scraper(servers.get('TIMESTAMPS')?.metricsPort);
    // Both servers first serve a few seconds unmeasured: the traced path's first thousands of
    // requests run before V8 has optimised it, which a 300 ms window warm-up does not cover.
    for (const served of servers.values()) await window(served, 16, INITIAL_WARMUP_S);
    for (const concurrency of CONCURRENCIES) {
      const windows: Record<Mode, Window[]> = { off: [], TIMESTAMPS: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order: Mode[] = round % 2 === 0 ? ['off', 'TIMESTAMPS'] : ['TIMESTAMPS', 'off'];
        for (const mode of order) {
          const served = servers.get(mode);
          if (served !== undefined) windows[mode].push(await window(served, concurrency));
        }
      }
      if (windows.off.length === 0 || windows.TIMESTAMPS.length === 0) {
        for (const mode of MODES) printRow(merge(mode, concurrency, windows[mode]));
        continue;
      }
      const off = merge('off', concurrency, windows.off);
      const on = merge('TIMESTAMPS', concurrency, windows.TIMESTAMPS);
      printRow(off);
      printRow(on);
      traced += on.summary.requests;
      const pooledLoss = 1 - on.summary.throughput / off.summary.throughput;
      const { median: loss, each: losses } = pairedMedian(off, on, (a, b) => 1 - b.throughput / a.throughput);
      const p50 = on.summary.p50Us - off.summary.p50Us;
      verdicts.push(
        `${loss <= 0.05 ? 'PASS' : 'MISS'} c=${concurrency}: metrics and tracing every request take ${(loss * 100).toFixed(1)} % off throughput ` +
          `(median of ${losses.length} rounds, target ≤ 5 %; all windows pooled ${(pooledLoss * 100).toFixed(1)} %), add ${p50.toFixed(0)} µs to p50 and ` +
          `${(on.serverUsPerRequest - off.serverUsPerRequest).toFixed(0)} µs of server CPU a request\n      rounds: ${losses.map((l) => `${(l * 100).toFixed(1)} %`).join(' ')}`,
      );
    }
  } finally {
    scraped = (await scraping?.stop())?.scrapes ?? 0;
    for (const served of servers.values()) await stopChild(served.child);
  }
  // Written as the server stopped: one JSON array, the requests of the traced windows (and their warm-ups) in it.
  const tracedServer = servers.get('TIMESTAMPS');
  const traces = tracedServer === undefined ? 0 : (JSON.parse(readFileSync(tracedServer.traceFile, 'utf8')) as { model_name?: string }[]).filter((entry) => entry.model_name === 'simple').length;
  removeTempRepositories();
  console.log('\nTargets (issue 13):');
  for (const verdict of verdicts) console.log(`  ${verdict}`);
  if (tracedServer !== undefined) {
    console.log(`  metrics: /metrics scraped ${scraped} times, every second through the run`);
    console.log(`  trace file: ${traces} traces read back (≥ ${traced} requests completed in the traced windows): ${traces >= traced ? 'ok' : 'MISSING'}`);
  }
  console.log(
    '\nall off: --allow-metrics false, tracing OFF; metrics+tracing: metrics on (counters, /metrics scraped every second) and\n' +
      'tracing at TIMESTAMPS, rate 1 (every request traced and written).\n' +
      'req/s: completed batch-1 requests per second (closed loop); p50/p99: latency the client saw (all rounds merged);\n' +
      'srv µs/rq: CPU time of the server process per completed request' +
      `\n(run took ${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
}

await main();
