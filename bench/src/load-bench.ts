/**
 * Model-load benchmark (not part of the test suite): while Nereid (in this process, startServer over
 * examples/models) serves `simple` to 4 closed-loop HTTP clients in a child process (http-driver.ts),
 * a 128 MiB model (8 MatMuls with 2048×2048 fp32 weights, engine-model.ts) is loaded again and again
 * through the server's internals, the way the repository manager loads a version: read config.pbtxt,
 * resolveBackend, ModelVersion.load with the ONNX Runtime backend (model control over the API is not
 * implemented yet). ONNX Runtime creates the session on libuv's thread pool, so serving should go on.
 * In one run it measures:
 *   - time to ready of each load (ModelVersion.load resolving: session created, config completed,
 *     instances made), alone and beside the traffic;
 *   - the event loop's longest stall while loading (monitorEventLoopDelay max and a 1 ms timer's worst
 *     lateness, loop-lag.ts), against the same with traffic only;
 *   - `simple`'s throughput and latency during the loads against before them.
 * Each load is unloaded before the next, outside the measured windows (an unload takes a few ms).
 * BENCH_SECONDS sets the windows (default 5): traffic only, then loads until their time adds up to it.
 */
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultBackends, silentLogger, startServer } from 'nereid';
import { readModelConfigFile } from '../../packages/server/dist/src/config/read-config.js';
import { ModelVersion } from '../../packages/server/dist/src/model/model-version.js';
import { resolveBackend } from '../../packages/server/dist/src/repository/resolve-backend.js';
import { Driver, epochMs, loadConfig, quantile, summarize, type WindowSummary } from './drivers.js';
import { MIB, engineConfig, matmulChainModel, removeTempRepositories, tempRepository, weightBytes, writeModel } from './engine-model.js';
import { binaryCall } from './infer-calls.js';
import { LoopLag, type LagSummary } from './loop-lag.js';
import { otherCpuDuring } from './proc-stats.js';
import { REPO_ROOT, freePort } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const LAYERS = 8;
const CLIENTS = 4;
/** Loads beside the traffic: at least this many, and more until their time adds up to SECONDS. */
const MIN_LOADS = 3;
const MAX_LOADS = 20;
/** Loads with nothing else running, after the first. */
const IDLE_LOADS = 3;
const MODEL = 'big';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Loads the big model's version 1 as RepositoryManager does; resolves once it is ready to serve. */
async function loadVersion(repository: string): Promise<ModelVersion> {
  const modelDir = join(repository, MODEL);
  const config = await readModelConfigFile(join(modelDir, 'config.pbtxt'));
  const backend = resolveBackend(config, MODEL, await readdir(join(modelDir, '1')), defaultBackends());
  return ModelVersion.load({
    modelName: MODEL,
    version: 1n,
    modelDir,
    config,
    backend,
    backendConfig: new Map(),
    autoCompleteConfig: true,
    logger: silentLogger,
  });
}

interface TimedLoad {
  readonly from: number;
  readonly to: number;
  readonly unloadMs: number;
}

/** One timed load under the loop monitor, then its unload (not monitored: it takes a few ms). */
async function timedLoad(repository: string, lag: LoopLag): Promise<TimedLoad> {
  lag.start();
  const from = epochMs();
  const version = await loadVersion(repository);
  const to = epochMs();
  lag.stop();
  const unloadFrom = epochMs();
  await version.unload();
  return { from, to, unloadMs: epochMs() - unloadFrom };
}

/** Loads `count` times, or until the loads' time adds up to `untilMs` (at least `count`, at most MAX_LOADS). */
async function loadRepeatedly(repository: string, lag: LoopLag, count: number, untilMs = 0): Promise<TimedLoad[]> {
  const done: TimedLoad[] = [];
  let loadMs = 0;
  while (done.length < MAX_LOADS && (done.length < count || loadMs < untilMs)) {
    const one = await timedLoad(repository, lag);
    done.push(one);
    loadMs += one.to - one.from;
  }
  return done;
}

const readyTimes = (loads: readonly TimedLoad[]): number[] => loads.map((l) => l.to - l.from).sort((a, b) => a - b);

const COLUMNS = ['simple req/s', 'p50 µs', 'p99 µs', 'max µs', 'lag p50', 'lag p99', 'lag max', 'timer max', 'GC max', 'other'];
const WIDTHS = [12, 7, 7, 7, 8, 8, 8, 9, 7, 6];
const LABEL_WIDTH = 34;
const line = (label: string, cells: readonly string[]): string =>
  label.padEnd(LABEL_WIDTH) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');
const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');

function row(label: string, traffic: WindowSummary | undefined, lag: LagSummary, otherCpu: number): string {
  return line(`  ${label}`, [
    traffic ? traffic.throughput.toFixed(0) : '-',
    int(traffic?.p50Us ?? NaN),
    int(traffic?.p99Us ?? NaN),
    int(traffic?.maxUs ?? NaN),
    ms(lag.p50Ms),
    ms(lag.p99Ms),
    ms(lag.maxMs),
    ms(lag.worstTimerMs),
    ms(lag.gcMaxMs),
    `${(otherCpu * 100).toFixed(0)}%`,
  ]);
}

async function main(): Promise<void> {
  const started = Date.now();
  const repository = tempRepository('nereid-load-');
  writeModel(repository, MODEL, matmulChainModel(LAYERS), engineConfig(MODEL, undefined));
  const port = await freePort();
  const server = await startServer({
    modelRepositories: [join(REPO_ROOT, 'examples', 'models')],
    http: { port, address: '127.0.0.1' },
    grpc: { allow: false },
    logger: silentLogger,
  });
  console.log(
    `Model load beside traffic, Nereid in-process: '${MODEL}' = ${LAYERS} MatMuls with 2048x2048 fp32 weights ` +
      `(${(weightBytes(LAYERS) / MIB).toFixed(0)} MiB, default config: 2 instances, 1 shared session) loaded with ` +
      `ModelVersion.load + the ONNX Runtime backend while 'simple' serves ${CLIENTS} closed-loop HTTP clients ` +
      `(child process); ${SECONDS} s windows; ${availableParallelism()} cores; node ${process.version}\n`,
  );
  try {
    // Alone: the first load pays one-time costs (ONNX Runtime's environment, the engine's self-test,
    // reading the file from disk); then a few more with nothing else running.
    const firstLag = new LoopLag();
    const first = await otherCpuDuring([process.pid], () => loadRepeatedly(repository, firstLag, 1));
    const aloneLag = new LoopLag();
    const alone = await otherCpuDuring([process.pid], () => loadRepeatedly(repository, aloneLag, IDLE_LOADS));

    const int32 = new Int32Array(16).map((_, i) => i);
    const data = Buffer.from(int32.buffer);
    const call = binaryCall('simple', [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data },
    ], ['OUTPUT0', 'OUTPUT1']);
    const traffic = await Driver.start(loadConfig(port, call, CLIENTS));
    traffic.go();

    const beforeLag = new LoopLag();
    const before = await otherCpuDuring([process.pid, traffic.pid], async () => {
      const from = epochMs();
      beforeLag.start();
      await sleep(SECONDS * 1000);
      beforeLag.stop();
      return [from, epochMs()] as const;
    });

    const besideLag = new LoopLag();
    const beside = await otherCpuDuring([process.pid, traffic.pid], () => loadRepeatedly(repository, besideLag, MIN_LOADS, SECONDS * 1000));
    const samples = await traffic.stop();

    const firstMs = readyTimes(first.result)[0] ?? NaN;
    const aloneMs = quantile(readyTimes(alone.result), 0.5);
    const readyMs = readyTimes(beside.result);
    const unloadMs = beside.result.map((l) => l.unloadMs).sort((a, b) => a - b);
    const trafficBefore = summarize(samples, [before.result]);
    const trafficDuring = summarize(samples, beside.result.map((l) => [l.from, l.to] as const));

    console.log(
      `time to ready: first load ${firstMs.toFixed(0)} ms (one-time costs); alone, median of ${IDLE_LOADS}: ${aloneMs.toFixed(0)} ms; ` +
        `beside traffic, median of ${readyMs.length}: ${quantile(readyMs, 0.5).toFixed(0)} ms (min ${readyMs[0]?.toFixed(0)}, ` +
        `max ${readyMs[readyMs.length - 1]?.toFixed(0)}); unload beside traffic: median ${quantile(unloadMs, 0.5).toFixed(1)} ms, ` +
        `max ${unloadMs[unloadMs.length - 1]?.toFixed(1)} ms\n`,
    );
    console.log(line('window', COLUMNS));
    console.log(row('first load, alone', undefined, firstLag.summary(), first.otherCpu));
    console.log(row(`${IDLE_LOADS} more loads, alone`, undefined, aloneLag.summary(), alone.otherCpu));
    console.log(row('traffic only (before)', trafficBefore, beforeLag.summary(), before.otherCpu));
    console.log(row(`traffic during ${readyMs.length} loads`, trafficDuring, besideLag.summary(), beside.otherCpu));

    const stall = (lag: LagSummary): number => Math.max(lag.maxMs, lag.worstTimerMs);
    console.log('\nRatios (same run):');
    console.log(`  simple throughput during loads / before: ${(trafficDuring.throughput / trafficBefore.throughput).toFixed(2)}x`);
    console.log(`  simple p50 during loads / before:        ${(trafficDuring.p50Us / trafficBefore.p50Us).toFixed(2)}x`);
    console.log(`  simple p99 during loads / before:        ${(trafficDuring.p99Us / trafficBefore.p99Us).toFixed(2)}x`);
    console.log(`  time to ready beside traffic / alone:    ${(quantile(readyMs, 0.5) / aloneMs).toFixed(2)}x`);
    console.log(
      `  longest event-loop stall: during loads beside traffic ${ms(stall(besideLag.summary()))} ms, traffic only ` +
        `${ms(stall(beforeLag.summary()))} ms (${(stall(besideLag.summary()) / stall(beforeLag.summary())).toFixed(2)}x); ` +
        `loads alone ${ms(stall(aloneLag.summary()))} ms; first load ${ms(stall(firstLag.summary()))} ms`,
    );
    console.log(`  failed requests: ${samples.errors}`);
    console.log(
      [
        '',
        "simple req/s, p50/p99/max µs: requests of the 4 clients that completed inside the window (during loads: inside",
        '  the loads, from the call to ModelVersion.load until it resolved), latency seen by the client.',
        'lag p50/p99/max: monitorEventLoopDelay at 1 ms resolution minus the 1 ms (ms); timer max: worst lateness of',
        '  a 1 ms setTimeout chain (ms); longest stall = the larger of lag max and timer max; GC max: longest GC pause (ms).',
        'other: CPU used meanwhile by processes outside the benchmark (share of one core).',
        `total time ${((Date.now() - started) / 1000).toFixed(0)} s`,
      ].join('\n'),
    );
  } finally {
    await server.close();
  }
}

try {
  await main();
} finally {
  removeTempRepositories();
}
