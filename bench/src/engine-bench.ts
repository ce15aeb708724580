/**
 * Engine benchmark (not part of the test suite): a compute-bound FP32 model (a chain of MatMuls with
 * 2048×2048 weights, engine-model.ts) served by Nereid with 1, 2 and 4 instances sharing one session,
 * beside the same model through onnxruntime-node. In one run it measures:
 *   - throughput and latency, closed loop with as many concurrent requests as instances, over HTTP
 *     (binary extension) to a Nereid child process; onnxruntime-node in a child process of its own
 *     (callers in that process: one session called by 1 or 2 callers, or one session per worker_thread);
 *   - resident memory (VmRSS of the serving process) once loaded and after the run, and its peak (VmHWM).
 * Targets: 2 shared instances ≥ 1.7× the throughput of 1 at the same threads per run (1 intra-op thread); RSS with 2 and 4 shared instances ≤ 1.1×
 * RSS of 1 (after the run). BENCH_SECONDS sets the window per case (default 5), ENGINE_REPEATS the runs
 * of each Nereid case (default 3, medians reported); ENGINE_LAYERS (4)
 * and ENGINE_BATCH (16), ENGINE_REPEAT (8) the model and request size.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { OrtCase, OrtCaseResult } from './engine-ort.js';
import { MIB, engineCall, engineConfig, matmulChainModel, removeTempRepositories, tempRepository, weightBytes, writeModel } from './engine-model.js';
import { runHttpLoad, type LoadResult } from './load.js';
import { measure } from './measure.js';
import { otherCpuDuring, peakResidentMiB, residentMiB } from './proc-stats.js';
import { REPO_ROOT, freePort, startChildWithOutput, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const LAYERS = Number(process.env['ENGINE_LAYERS'] ?? 4);
const BATCH = Number(process.env['ENGINE_BATCH'] ?? 16);
const REPEAT = Number(process.env['ENGINE_REPEAT'] ?? 8);
const CORES = availableParallelism();
/**
 * Each Nereid case runs this many times (a fresh server each time); the table shows the run with the
 * median throughput, and the median of each memory figure. One server's RSS after load varies by up
 * to ~30 MiB from start to start (allocator and ONNX Runtime layout), more than the targets' 10 %.
 */
const REPEATS = Math.max(1, Number(process.env['ENGINE_REPEATS'] ?? 3));
const MODEL = 'engine';

interface CaseResult {
  readonly label: string;
  /** Intra-op threads per run, and where the count came from. */
  readonly intra: string;
  readonly concurrency: number;
  readonly load: LoadResult;
  /** Mean compute time per run (server's compute_infer) in ms, when known. */
  readonly inferMs: number;
  /** CPU of the serving process over the case, as a share of one core. */
  readonly cpu: number;
  /** CPU used meanwhile by processes outside the benchmark (share of one core). */
  readonly otherCpu: number;
  readonly loadedMiB: number;
  readonly afterMiB: number;
  readonly peakMiB: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A repository holding the engine model (a link to the version folder) with this config. */
function repositoryWith(versionDir: string, config: string): string {
  const repository = tempRepository('nereid-engine-repo-');
  mkdirSync(join(repository, MODEL));
  symlinkSync(versionDir, join(repository, MODEL, '1'));
  writeFileSync(join(repository, MODEL, 'config.pbtxt'), config);
  return repository;
}

async function startNereid(repository: string): Promise<{ child: import('node:child_process').ChildProcess; port: number; output: string }> {
  const port = await freePort();
  const started = await startChildWithOutput(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-address', '127.0.0.1', '--http-port', String(port), '--allow-grpc', 'false'],
    /Started HTTPService/,
  );
  return { ...started, port };
}

/** RSS of a Nereid server with nothing loaded. */
async function nereidBaseline(): Promise<number> {
  const { child } = await startNereid(tempRepository('nereid-empty-'));
  await sleep(500);
  const rss = residentMiB(child.pid!);
  await stopChild(child);
  return rss;
}

const parameter = (key: string, value: string): string => `parameters { key: "${key}" value { string_value: "${value}" } }`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** REPEATS runs of a Nereid case, summarised as REPEATS says. */
async function nereidCase(label: string, versionDir: string, count: number, shared: boolean, intra?: number): Promise<CaseResult> {
  const runs: CaseResult[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await nereidRun(label, versionDir, count, shared, intra));
  const byThroughput = [...runs].sort((a, b) => a.load.throughput - b.load.throughput);
  const typical = byThroughput[Math.floor(byThroughput.length / 2)] ?? runs[0]!;
  return {
    ...typical,
    label: REPEATS > 1 ? `${label} (median of ${REPEATS})` : label,
    loadedMiB: median(runs.map((run) => run.loadedMiB)),
    afterMiB: median(runs.map((run) => run.afterMiB)),
    peakMiB: median(runs.map((run) => run.peakMiB)),
  };
}

async function nereidRun(label: string, versionDir: string, count: number, shared: boolean, intra?: number): Promise<CaseResult> {
  const extra = [
    ...(shared ? [] : [parameter('share_session_between_instances', 'false')]),
    ...(intra === undefined ? [] : [parameter('intra_op_thread_count', String(intra))]),
  ];
  const { child, port, output } = await startNereid(repositoryWith(versionDir, engineConfig(MODEL, count, extra)));
  try {
    const pid = child.pid!;
    const plan = /threads per run: (\d+) intra-op/.exec(output)?.[1] ?? '?';
    const source = intra === undefined ? 'plan' : 'config';
    await sleep(500);
    const loadedMiB = residentMiB(pid);
    const call = engineCall(MODEL, BATCH);
    const { result: measured, otherCpu } = await otherCpuDuring([pid, process.pid], () =>
      measure(pid, port, MODEL, () => runHttpLoad(port, call, count, SECONDS)),
    );
    return {
      label,
      intra: `${plan} (${source})`,
      concurrency: count,
      load: measured.load,
      inferMs: measured.server.computeInferUs / 1000,
      cpu: measured.serverCpu,
      otherCpu,
      loadedMiB,
      afterMiB: residentMiB(pid),
      peakMiB: peakResidentMiB(pid),
    };
  } finally {
    await stopChild(child);
  }
}

/** Runs one onnxruntime-node case in its own child process. */
function ortCase(label: string, c: OrtCase): Promise<CaseResult & { baseMiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join('bench', 'dist', 'engine-ort.js'), JSON.stringify(c)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) return reject(new Error(`engine-ort ${label} exited with ${code}:\n${output}`));
      const r = JSON.parse(line.slice('RESULT '.length)) as OrtCaseResult;
      resolve({
        label,
        intra: `${c.intra} (set)`,
        concurrency: c.callers,
        load: r.load,
        inferMs: NaN,
        cpu: r.cpu,
        otherCpu: r.otherCpu,
        loadedMiB: r.loadedMiB,
        afterMiB: r.afterMiB,
        peakMiB: r.peakMiB,
        baseMiB: r.baseMiB,
      });
    });
  });
}

const COLUMNS = ['intra', 'c', 'runs/s', 'p50 ms', 'p99 ms', 'infer ms', 'CPU', 'other', 'RSS load', 'RSS run', 'peak', 'err'];
const WIDTHS = [9, 3, 7, 7, 7, 8, 5, 5, 9, 8, 6, 4];
const LABEL_WIDTH = 70;
const line = (label: string, cells: readonly string[]): string =>
  label.padEnd(LABEL_WIDTH) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const fixed = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function row(r: CaseResult): string {
  return line(`  ${r.label}`, [
    r.intra,
    String(r.concurrency),
    fixed(r.load.throughput, 1),
    fixed(r.load.p50Us / 1000),
    fixed(r.load.p99Us / 1000),
    fixed(r.inferMs),
    `${(r.cpu * 100).toFixed(0)}%`,
    `${(r.otherCpu * 100).toFixed(0)}%`,
    fixed(r.loadedMiB, 0),
    fixed(r.afterMiB, 0),
    fixed(r.peakMiB, 0),
    String(r.load.errors),
  ]);
}

/** `a/b` with a verdict against a target (`atLeast` or `atMost`). */
function ratio(label: string, a: number, b: number, target?: { readonly atLeast?: number; readonly atMost?: number }): string {
  const value = a / b;
  let verdict = '';
  if (target?.atLeast !== undefined) {
    verdict = value >= target.atLeast ? `  target ≥ ${target.atLeast.toFixed(2)}x: met` : `  target ≥ ${target.atLeast.toFixed(2)}x: MISSED by ${(target.atLeast - value).toFixed(2)}x (${((1 - value / target.atLeast) * 100).toFixed(0)}%)`;
  }
  if (target?.atMost !== undefined) {
    verdict = value <= target.atMost ? `  target ≤ ${target.atMost.toFixed(2)}x: met` : `  target ≤ ${target.atMost.toFixed(2)}x: MISSED by ${(value - target.atMost).toFixed(2)}x`;
  }
  return `  ${label.padEnd(62)} ${value.toFixed(2).padStart(6)}x${verdict}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const models = tempRepository('nereid-engine-model-');
  const modelFile = writeModel(models, MODEL, matmulChainModel(LAYERS, REPEAT), engineConfig(MODEL, 1));
  const versionDir = join(models, MODEL, '1');
  console.log(
    `Engine benchmark: ${LAYERS * REPEAT} MatMuls (${LAYERS} 2048x2048 fp32 weights, each applied ${REPEAT}x) (${(weightBytes(LAYERS) / MIB).toFixed(0)} MiB), ` +
      `input [${BATCH}, 2048] fp32; ${SECONDS} s per case after 1 s warm-up; ${CORES} cores; node ${process.version}`,
  );
  console.log(
    'Nereid: HTTP (binary extension) to a child process, closed loop with c = instance count; onnxruntime-node: its own\n' +
      'child process, callers in it (no HTTP). Every process shares the cores with the load generator.\n',
  );

  const baseline = await nereidBaseline();
  const nereid: CaseResult[] = [];
  for (const count of [1, 2, 4]) nereid.push(await nereidCase(`nereid, ${count} instance${count > 1 ? 's' : ''}, 1 shared session`, versionDir, count, true));
  const unshared = await nereidCase('nereid, 2 instances, a session each', versionDir, 2, false);
  const oneThread = await nereidCase('nereid, 1 instance, intra_op_thread_count 1', versionDir, 1, true, 1);

  const ort = (intra: number, callers: number, workers: number): OrtCase => ({ model: modelFile, intra, callers, workers, seconds: SECONDS, batch: BATCH });
  const ort1 = await ortCase('onnxruntime-node, 1 session, 1 caller', ort(2, 1, 0));
  const ort2 = await ortCase('onnxruntime-node, 1 session, 2 callers', ort(2, 2, 0));
  const ort2one = await ortCase('onnxruntime-node, 1 session, 2 callers', ort(1, 2, 0));
  const workers = await ortCase('onnxruntime-node, 2 worker_threads, a session each', ort(1, 2, 2));

  const [one, two, four] = nereid as [CaseResult, CaseResult, CaseResult];
  console.log(line('case', COLUMNS));
  const rssOnly = (label: string, mib: number): string => line(`  ${label}`, ['', '', '', '', '', '', '', '', fixed(mib, 0), '', '', '']);
  console.log(rssOnly('nereid, no model', baseline));
  for (const r of nereid) console.log(row(r));
  console.log(row(unshared));
  console.log(row(oneThread));
  console.log(rssOnly('onnxruntime-node, no session yet', ort1.baseMiB));
  for (const r of [ort1, ort2, ort2one, workers]) console.log(row(r));

  console.log('\nRatios (same run):');
  // The target compares runs with the same threads each: planned, 1 instance already computes on
  // every core (2 intra-op threads on 2 cores), so more instances cannot add cores, only share them.
  console.log(ratio('nereid throughput, 2 shared instances / 1 instance at 1 thread', two.load.throughput, oneThread.load.throughput, { atLeast: 1.7 }));
  console.log(ratio('nereid throughput, 2 shared instances / 1 instance (planned: 2 threads)', two.load.throughput, one.load.throughput));
  console.log(ratio('nereid throughput, 4 shared instances / 1 instance (planned: 2 threads)', four.load.throughput, one.load.throughput));
  console.log(ratio('nereid RSS after the run, 2 shared instances / 1 instance', two.afterMiB, one.afterMiB, { atMost: 1.1 }));
  console.log(ratio('nereid RSS after the run, 4 shared instances / 1 instance', four.afterMiB, one.afterMiB, { atMost: 1.1 }));
  console.log(ratio('nereid RSS once loaded, 2 shared instances / 1 instance', two.loadedMiB, one.loadedMiB, { atMost: 1.1 }));
  console.log(ratio('nereid RSS once loaded, 4 shared instances / 1 instance', four.loadedMiB, one.loadedMiB, { atMost: 1.1 }));
  console.log(ratio('nereid RSS after the run, 2 instances: a session each / shared', unshared.afterMiB, two.afterMiB));
  console.log(ratio('nereid throughput, 2 instances: a session each / shared', unshared.load.throughput, two.load.throughput));
  console.log(ratio('nereid 1 instance / onnxruntime-node 1 caller (throughput)', one.load.throughput, ort1.load.throughput));
  console.log(ratio('nereid 2 shared instances / ORT-node 2 workers (throughput)', two.load.throughput, workers.load.throughput));
  console.log(ratio('nereid 2 shared instances / ORT-node 2 workers (RSS after run)', two.afterMiB, workers.afterMiB));
  console.log(ratio('ORT-node throughput, 2 workers / 1 session 1 caller', workers.load.throughput, ort1.load.throughput));
  console.log(ratio('ORT-node throughput, 1 session: 2 callers (intra 2) / 1 caller', ort2.load.throughput, ort1.load.throughput));
  console.log(ratio('ORT-node throughput, 2 workers / 1 session at 1 thread, 2 callers', workers.load.throughput, ort2one.load.throughput));
  const model = (r: CaseResult): string => fixed(r.afterMiB - baseline, 0);
  console.log(
    `\n  model's share of nereid RSS after the run (minus the no-model server): 1 instance ${model(one)} MiB, ` +
      `2 shared ${model(two)} MiB, 4 shared ${model(four)} MiB, 2 unshared ${model(unshared)} MiB ` +
      `(weights: ${(weightBytes(LAYERS) / MIB).toFixed(0)} MiB)`,
  );
  console.log(
    [
      '',
      'intra: intra-op threads per run. nereid: as planned (max(1, floor(cores / instances)), read from its log), or set',
      '  with intra_op_thread_count (control case: 1 instance with the per-run threads 2 instances get);',
      '  onnxruntime-node: set to match: 2 with 1 caller (= nereid 1 instance), 1 per worker (= nereid 2 instances).',
      '  One onnxruntime-node session runs synchronously on the main thread, so 2 callers take turns: shown with',
      '  2 threads (uses both cores) and with 1 (nereid\'s per-run count for 2 instances). inter-op: 1 everywhere.',
      'runs/s: completed requests per second; p50/p99: latency seen by the caller (nereid: includes HTTP);',
      "infer ms: nereid's compute_infer mean (statistics extension); CPU: serving process, share of one core;",
      'other: CPU that processes outside the benchmark used meanwhile (share of one core; they compete for the cores);',
      'RSS load: VmRSS 0.5 s after the model loaded (before any run); RSS run: after the case; peak: VmHWM (MiB).',
      `total time ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ].join('\n'),
  );
}

try {
  await main();
} finally {
  removeTempRepositories();
}
