/**
 * Python backend benchmark (not part of the test suite; `npm run bench:python`). One Nereid child
 * process serves, in the same run:
 *   - `identity_fp32` (ONNX Runtime) and `py_identity` (the same behaviour in a model.py), batch-1
 *     FP32 [1, 16] requests over HTTP with the binary extension, at concurrency 1 and 16, alternating
 *     windows: the Python backend's added latency (p50, p99) over the ONNX identity;
 *   - throughput of 1 instance vs 2 instances at concurrency 16, for the identity and for a model
 *     that spends ~1 ms of CPU in Python per request (`py_busy`), on whatever cores the machine has.
 * Target (issue 14): ≤ 0.3 ms p50 added at concurrency 1; throughput that scales with instances.
 *
 * BENCH_SECONDS: window per case and round (default 2); BENCH_ROUNDS (default 3).
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alternatingWindows } from './alternating-windows.js';
import type { WindowSummary } from './drivers.js';
import { removeTempRepositories, tempRepository } from './engine-model.js';
import { binaryCall, binaryOutputs, httpOk } from './infer-calls.js';
import { processCpuSeconds } from './proc-stats.js';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3));
const WARMUP_MS = 300;

const IDENTITY_PY = `import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())])
                for r in requests]
`;

const BUSY_PY = `import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            data = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            end = time.thread_time() + 0.001
            while time.thread_time() < end:
                pass
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", data)]))
        return responses
`;

function pythonModel(repository: string, name: string, source: string, instances: number): void {
  mkdirSync(join(repository, name, '1'), { recursive: true });
  writeFileSync(join(repository, name, '1', 'model.py'), source);
  writeFileSync(
    join(repository, name, 'config.pbtxt'),
    `backend: "python"\nmax_batch_size: 8\n` +
      `input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n` +
      `instance_group [ { kind: KIND_CPU count: ${instances} } ]\n`,
  );
}

function writeRepository(repository: string): void {
  symlinkSync(join(REPO_ROOT, 'examples', 'models', 'identity_fp32'), join(repository, 'identity_fp32'));
  pythonModel(repository, 'py_identity', IDENTITY_PY, 1);
  pythonModel(repository, 'py_identity_x2', IDENTITY_PY, 2);
  pythonModel(repository, 'py_busy', BUSY_PY, 1);
  pythonModel(repository, 'py_busy_x2', BUSY_PY, 2);
}

const call = (model: string) => {
  const data = Buffer.from(Float32Array.from({ length: 16 }, (_, i) => i * 0.5 - 3).buffer);
  return binaryCall(model, [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }], ['OUTPUT0']);
};

interface Result {
  readonly model: string;
  readonly concurrency: number;
  readonly summary: WindowSummary;
  readonly errors: number;
  /** CPU µs per request of the server and of its Python stubs. */
  readonly serverUs: number;
  readonly stubUs: number;
}

/** `models` at `concurrency` in alternating windows, the server's CPU and its Python stubs' charged to each. */
async function compare(port: number, pids: () => { server: number; stubs: number[] }, models: readonly string[], concurrency: number): Promise<Result[]> {
  const merged = await alternatingWindows({
    port, models, concurrency, call, rounds: ROUNDS, seconds: SECONDS, warmupMs: WARMUP_MS,
    cpuSeconds: () => {
      const { server, stubs } = pids();
      return [processCpuSeconds(server), stubs.reduce((sum, pid) => sum + processCpuSeconds(pid), 0)];
    },
  });
  return merged.map(({ cpuUs, ...windows }) => ({ ...windows, serverUs: cpuUs[0] ?? 0, stubUs: cpuUs[1] ?? 0 }));
}

const COLUMNS = ['c', 'req/s', 'p50 µs', 'p99 µs', 'srv µs/rq', 'stub µs/rq', 'err'];
const WIDTHS = [3, 8, 8, 8, 10, 11, 4];
const line = (label: string, cells: readonly string[]): string => label.padEnd(22) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');

function print(r: Result): void {
  console.log(line(`  ${r.model}`, [String(r.concurrency), int(r.summary.throughput), int(r.summary.p50Us), int(r.summary.p99Us), int(r.serverUs), int(r.stubUs), String(r.errors)]));
}

/** The stub processes of the server (its children running nereid_python_stub.py) of one model. */
function stubPids(server: number, model: string): number[] {
  let children: number[] = [];
  try {
    const text = readFileSync(`/proc/${server}/task/${server}/children`, 'utf8').trim();
    children = text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
  return children.filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return cmdline.includes('nereid_python_stub.py') && cmdline.includes(`/${model}/1/model.py`);
    } catch {
      return false;
    }
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const repository = tempRepository('nereid-python-bench-');
  writeRepository(repository);
  const port = await freePort();
  const server = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-address', '127.0.0.1', '--http-port', String(port), '--allow-grpc', 'false', '--allow-metrics', 'false'],
    /Started HTTPService/,
  );
  const pid = server.pid!;
  const results: Result[] = [];
  console.log(`Python backend benchmark: ${ROUNDS} alternating rounds of ${SECONDS} s windows per case, node ${process.version}\n`);
  console.log(line('case', COLUMNS));
  try {
    const [a, b] = await Promise.all(['identity_fp32', 'py_identity'].map(async (model) => binaryOutputs(await httpOk(port, 'POST', call(model).path, call(model).body, call(model).headers))));
    if (!a!.get('OUTPUT0')?.equals(b!.get('OUTPUT0')!)) throw new Error('py_identity answers differently from identity_fp32');
    for (const concurrency of [1, 16]) {
      for (const r of await compare(port, () => ({ server: pid, stubs: stubPids(pid, 'py_identity') }), ['identity_fp32', 'py_identity'], concurrency)) {
        print(r);
        results.push(r);
      }
    }
    for (const [one, two] of [
      ['py_identity', 'py_identity_x2'],
      ['py_busy', 'py_busy_x2'],
    ] as const) {
      const pair = await compare(port, () => ({ server: pid, stubs: [...stubPids(pid, one), ...stubPids(pid, two)] }), [one, two], 16);
      pair.forEach(print);
      results.push(...pair.map((r) => ({ ...r, model: `${r.model}@16` })));
    }
  } finally {
    await stopChild(server);
    removeTempRepositories();
  }
  const find = (model: string, c: number): Result => results.find((r) => r.model === model && r.concurrency === c)!;
  console.log('\nAdded by the Python backend (py_identity - identity_fp32, same windows):');
  for (const c of [1, 16]) {
    const onnx = find('identity_fp32', c).summary;
    const py = find('py_identity', c).summary;
    const added = py.p50Us - onnx.p50Us;
    console.log(`  c=${c}: p50 ${added >= 0 ? '+' : ''}${int(added)} µs, p99 ${py.p99Us - onnx.p99Us >= 0 ? '+' : ''}${int(py.p99Us - onnx.p99Us)} µs, throughput ${(py.throughput / onnx.throughput).toFixed(2)}x` +
      (c === 1 ? `  ${added <= 300 ? 'PASS' : 'MISS'} (target ≤ 300 µs p50 at c=1)` : ''));
  }
  for (const [one, two] of [
    ['py_identity', 'py_identity_x2'],
    ['py_busy', 'py_busy_x2'],
  ] as const) {
    const x1 = find(`${one}@16`, 16).summary.throughput;
    const x2 = find(`${two}@16`, 16).summary.throughput;
    console.log(`  ${one}: 2 instances / 1 instance at c=16 = ${(x2 / x1).toFixed(2)}x throughput`);
  }
  console.log('\nsrv µs/rq: CPU of the server process per request; stub µs/rq: CPU of the model\'s stub processes per request');
  console.log(`(run took ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
