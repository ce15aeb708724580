/**
 * JavaScript backend benchmark (not part of the test suite; `npm run bench:js`). One Nereid child
 * process serves, in the same run, `identity_fp32` (ONNX Runtime) and `js_identity` (the same
 * behaviour in a model.js on a worker thread): batch-1 FP32 [1, 16] requests over HTTP with the
 * binary extension, at concurrency 1 and 16, in alternating windows. Reports the JavaScript
 * backend's added latency (p50, p99) over the ONNX identity, and the server's CPU per request
 * (the model's worker threads included: they are threads of the server process).
 * Target (issue 15): ≤ 0.1 ms p50 added at concurrency 1.
 *
 * The verdict uses the median over rounds of the per-round difference: on a shared VM the host's
 * load drifts over minutes, and a difference taken within one round cancels it.
 *
 * BENCH_SECONDS: window per case and round (default 1); BENCH_ROUNDS (default 8).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alternatingWindows, type MergedWindows } from './alternating-windows.js';
import { pairedMedian } from './drivers.js';
import { removeTempRepositories, tempRepository } from './engine-model.js';
import { binaryCall, binaryOutputs, httpOk } from './infer-calls.js';
import { processCpuSeconds } from './proc-stats.js';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 1);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 8));
const WARMUP_MS = 300;
const TARGET_US = 100;

const IDENTITY_JS = `export function execute(requests) {
  return requests.map((request) => ({ outputs: [{ name: 'OUTPUT0', shape: request.inputs[0].shape, data: request.inputs[0].data }] }));
}
`;

function writeRepository(repository: string): void {
  symlinkSync(join(REPO_ROOT, 'examples', 'models', 'identity_fp32'), join(repository, 'identity_fp32'));
  mkdirSync(join(repository, 'js_identity', '1'), { recursive: true });
  writeFileSync(join(repository, 'js_identity', '1', 'model.js'), IDENTITY_JS);
  writeFileSync(
    join(repository, 'js_identity', 'config.pbtxt'),
    'backend: "javascript"\nmax_batch_size: 8\n' +
      'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n',
  );
}

const call = (model: string) => {
  const data = Buffer.from(Float32Array.from({ length: 16 }, (_, i) => i * 0.5 - 3).buffer);
  return binaryCall(model, [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }], ['OUTPUT0']);
};

interface Result extends MergedWindows {
  /** CPU µs per request of the server process (its worker threads included). */
  readonly serverUs: number;
}

/** `models` at `concurrency` in alternating windows, the server's CPU charged to each. */
async function compare(port: number, pid: number, models: readonly string[], concurrency: number): Promise<Result[]> {
  const merged = await alternatingWindows({
    port, models, concurrency, call, rounds: ROUNDS, seconds: SECONDS, warmupMs: WARMUP_MS,
    cpuSeconds: () => [processCpuSeconds(pid)],
  });
  return merged.map((windows) => ({ ...windows, serverUs: windows.cpuUs[0] ?? 0 }));
}

const COLUMNS = ['c', 'req/s', 'p50 µs', 'p99 µs', 'srv µs/rq', 'err'];
const WIDTHS = [3, 8, 8, 8, 10, 4];
const line = (label: string, cells: readonly string[]): string => label.padEnd(18) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');
const signed = (value: number): string => `${value >= 0 ? '+' : ''}${int(value)}`;

async function main(): Promise<void> {
  const started = Date.now();
  const repository = tempRepository('nereid-js-bench-');
  writeRepository(repository);
  const port = await freePort();
  const server = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-address', '127.0.0.1', '--http-port', String(port), '--allow-grpc', 'false', '--allow-metrics', 'false'],
    /Started HTTPService/,
  );
  const pid = server.pid!;
  const results: Result[] = [];
  console.log(`JavaScript backend benchmark: ${ROUNDS} alternating rounds of ${SECONDS} s windows per case, node ${process.version}\n`);
  console.log(line('case', COLUMNS));
  try {
    const [a, b] = await Promise.all(['identity_fp32', 'js_identity'].map(async (model) => binaryOutputs(await httpOk(port, 'POST', call(model).path, call(model).body, call(model).headers))));
    if (!a!.get('OUTPUT0')?.equals(b!.get('OUTPUT0')!)) throw new Error('js_identity answers differently from identity_fp32');
    for (const concurrency of [1, 16]) {
      for (const r of await compare(port, pid, ['identity_fp32', 'js_identity'], concurrency)) {
        console.log(line(`  ${r.model}`, [String(r.concurrency), int(r.summary.throughput), int(r.summary.p50Us), int(r.summary.p99Us), int(r.serverUs), String(r.errors)]));
        results.push(r);
      }
    }
  } finally {
    await stopChild(server);
    removeTempRepositories();
  }
  const find = (model: string, c: number): Result => results.find((r) => r.model === model && r.concurrency === c)!;
  console.log('\nAdded by the JavaScript backend (js_identity - identity_fp32):');
  for (const c of [1, 16]) {
    const onnx = find('identity_fp32', c);
    const js = find('js_identity', c);
    const paired = pairedMedian(onnx, js, (a, b) => b.p50Us - a.p50Us);
    console.log(
      `  c=${c}: all windows pooled: p50 ${signed(js.summary.p50Us - onnx.summary.p50Us)} µs, p99 ${signed(js.summary.p99Us - onnx.summary.p99Us)} µs, ` +
        `throughput ${(js.summary.throughput / onnx.summary.throughput).toFixed(2)}x`,
    );
    console.log(
      `        paired by round (median of ${paired.each.length}): p50 ${signed(paired.median)} µs` +
        (c === 1 ? `  ${paired.median <= TARGET_US ? 'PASS' : 'MISS'} (target ≤ ${TARGET_US} µs p50 at c=1)` : '') +
        `  [rounds: ${paired.each.map(signed).join(' ')}]`,
    );
  }
  console.log('\nsrv µs/rq: CPU of the server process (the model\'s worker thread included) per request');
  console.log(`(run took ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
