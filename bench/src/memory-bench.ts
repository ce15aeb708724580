/**
 * Memory of instance groups (not part of the test suite): resident memory of a Nereid process serving
 * one model with a large weight, as 1 instance, 4 instances sharing one session (the default) and 4
 * instances with a session each (`share_session_between_instances: "false"`), beside a server with
 * no model. Needs Debian's python3-onnx to write the model (scripts/make_models.py --weights).
 * WEIGHTS_MB sets the weight size (default 256).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';

const WEIGHTS_MB = Number(process.env['WEIGHTS_MB'] ?? 256);

function config(count: number, shared: boolean): string {
  return [
    'name: "weights"',
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 8',
    `instance_group [ { kind: KIND_CPU count: ${count} } ]`,
    shared ? '' : 'parameters { key: "share_session_between_instances" value { string_value: "false" } }',
  ].join('\n');
}

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function measure(repository: string): Promise<number> {
  const port = await freePort();
  const child = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-port', String(port), '--allow-grpc', 'false'],
    /Started HTTPService/,
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rss = residentMiB(child.pid!);
  await stopChild(child);
  return rss;
}

async function main(): Promise<void> {
  const models = mkdtempSync(join(tmpdir(), 'nereid-weights-'));
  const made = spawnSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts', 'make_models.py'), '--weights', models, '--weights-mb', String(WEIGHTS_MB)], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make_models.py failed: ${made.stderr}`);
  const cases: [string, number, boolean][] = [
    ['1 instance', 1, true],
    ['4 instances, shared session (default)', 4, true],
    ['4 instances, a session each', 4, false],
  ];
  const empty = mkdtempSync(join(tmpdir(), 'nereid-empty-'));
  const baseline = await measure(empty);
  console.log(`Resident memory with a ${WEIGHTS_MB} MiB weight (MatMul), node ${process.version}\n`);
  console.log(`${'no model'.padEnd(40)} ${baseline.toFixed(0).padStart(6)} MiB`);
  let single = NaN;
  for (const [label, count, shared] of cases) {
    const repository = mkdtempSync(join(tmpdir(), 'nereid-memrepo-'));
    mkdirSync(join(repository, 'weights'));
    symlinkSync(join(models, 'weights', '1'), join(repository, 'weights', '1'));
    writeFileSync(join(repository, 'weights', 'config.pbtxt'), config(count, shared));
    const rss = await measure(repository);
    if (count === 1) single = rss;
    console.log(`${label.padEnd(40)} ${rss.toFixed(0).padStart(6)} MiB  (model: ${(rss - baseline).toFixed(0)} MiB, ${(rss / single).toFixed(2)}x one instance)`);
  }
}

await main();
