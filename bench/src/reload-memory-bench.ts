/**
 * Memory released on unload (not part of the test suite): a Nereid process in explicit mode loads,
 * runs and unloads a model with a large weight CYCLES times (default 200, weight WEIGHTS_MB, default
 * 64 MiB). It prints the resident memory after each tenth unload and checks that, after the last
 * cycle, it is within 10 % of its level after the first (Triton issues 2023, 4764, 6836, 7020: memory
 * that grows with every reload). Needs Debian's python3-onnx to write the model.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';

const WEIGHTS_MB = Number(process.env['WEIGHTS_MB'] ?? 64);
const CYCLES = Number(process.env['CYCLES'] ?? 200);
const TOLERANCE = 0.1;

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

function post(port: number, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The weights model (`scripts/make_models.py --weights`): OUTPUT0 = INPUT0 [batch, 1024] @ W. */
const CONFIG = 'name: "weights"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n';
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1024], data: new Array(1024).fill(0.5) }] });

async function main(): Promise<void> {
  const models = mkdtempSync(join(tmpdir(), 'nereid-weights-'));
  const made = spawnSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts', 'make_models.py'), '--weights', models, '--weights-mb', String(WEIGHTS_MB)], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`make_models.py failed: ${made.stderr}`);
  const repository = mkdtempSync(join(tmpdir(), 'nereid-reload-'));
  mkdirSync(join(repository, 'weights'));
  symlinkSync(join(models, 'weights', '1'), join(repository, 'weights', '1'));
  writeFileSync(join(repository, 'weights', 'config.pbtxt'), CONFIG);

  const port = await freePort();
  const child = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-port', String(port), '--allow-grpc', 'false', '--allow-metrics', 'false', '--model-control-mode', 'explicit'],
    /Started HTTPService/,
  );
  const pid = child.pid!;
  console.log(`Load, infer, unload a ${WEIGHTS_MB} MiB model ${CYCLES} times; node ${process.version}`);
  console.log(`resident before the first load: ${residentMiB(pid).toFixed(0)} MiB\n`);
  console.log('cycle  loaded MiB  unloaded MiB');
  let afterFirst = NaN;
  let last = NaN;
  let peakLoaded = 0;
  try {
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const load = await post(port, '/v2/repository/models/weights/load', '');
      if (load.status !== 200) throw new Error(`load ${cycle}: ${load.status} ${load.text}`);
      const infer = await post(port, '/v2/models/weights/infer', INFER_BODY);
      if (infer.status !== 200) throw new Error(`infer ${cycle}: ${infer.status} ${infer.text}`);
      const loaded = residentMiB(pid);
      peakLoaded = Math.max(peakLoaded, loaded);
      const unload = await post(port, '/v2/repository/models/weights/unload', '');
      if (unload.status !== 200) throw new Error(`unload ${cycle}: ${unload.status} ${unload.text}`);
      // Unload returns once the model stops serving; the release follows the drain.
      await waitForRelease(port);
      // The server gives memory back (a full collection and malloc_trim) just after a release.
      await new Promise((resolve) => setTimeout(resolve, 100));
      last = residentMiB(pid);
      if (cycle === 1) afterFirst = last;
      if (cycle === 1 || cycle % 10 === 0) console.log(`${String(cycle).padStart(5)}  ${loaded.toFixed(0).padStart(10)}  ${last.toFixed(0).padStart(12)}`);
    }
  } finally {
    await stopChild(child);
  }
  const growth = last / afterFirst - 1;
  console.log(`\nafter cycle 1: ${afterFirst.toFixed(0)} MiB; after cycle ${CYCLES}: ${last.toFixed(0)} MiB (${(growth * 100).toFixed(1)} %); peak while loaded ${peakLoaded.toFixed(0)} MiB`);
  console.log(growth <= TOLERANCE ? `PASS: within ${TOLERANCE * 100} %` : `FAIL: grew more than ${TOLERANCE * 100} %`);
  if (growth > TOLERANCE) process.exitCode = 1;
}

/** The index says UNAVAILABLE "unloaded" once the version is freed. */
async function waitForRelease(port: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const index = await post(port, '/v2/repository/index', '{}');
    const entries = JSON.parse(index.text) as { name: string; state?: string; reason?: string }[];
    if (entries.every((entry) => entry.state === undefined || entry.reason === 'unloaded')) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the model was not released');
}

await main();
