import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { EXAMPLE_MODELS, REPO_ROOT } from '../helpers/paths.js';

const BIN = join(REPO_ROOT, 'packages', 'server', 'bin', 'nereid.js');

test('nereid serves a repository over HTTP, gRPC and metrics and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [BIN, '--model-repository', EXAMPLE_MODELS, '--http-port=0', '--grpc-port', '0', '--http-address', '127.0.0.1', '--grpc-address=127.0.0.1', '--metrics-port=0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const ports = await new Promise<{ http: number; grpc: number; metrics: number }>((resolve, reject) => {
    // As in Triton, info lines go to stdout, warnings and errors to stderr.
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      const http = /Started HTTPService at [\d.]+:(\d+)/.exec(log);
      const grpc = /Started GRPCInferenceService at [\d.]+:(\d+)/.exec(log);
      // Without --metrics-address the endpoint binds to the HTTP address.
      const metrics = /Started Metrics Service at 127\.0\.0\.1:(\d+)/.exec(log);
      if (http && grpc && metrics) resolve({ http: Number(http[1]), grpc: Number(grpc[1]), metrics: Number(metrics[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${log}`)));
  });
  assert.ok(ports.grpc > 0);
  const ready = await fetch(`http://127.0.0.1:${ports.http}/v2/health/ready`);
  assert.equal(ready.status, 200);
  const metadata = (await (await fetch(`http://127.0.0.1:${ports.http}/v2`)).json()) as { name: string };
  assert.equal(metadata.name, 'triton');
  const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  assert.match(metrics, /^nv_inference_request_success\{model="simple",version="1"\} 0$/m);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(log, /successfully loaded 'simple' version 1/);
});

test('an unknown or malformed flag is an error naming it', () => {
  const unknown = spawnSync(process.execPath, [BIN, '--model-repository', EXAMPLE_MODELS, '--http-prot=8000'], { encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /--http-prot/);
  const malformed = spawnSync(process.execPath, [BIN, '--model-repository', EXAMPLE_MODELS, '--http-port=abc'], { encoding: 'utf8' });
  assert.equal(malformed.status, 1);
  assert.match(malformed.stderr, /--http-port: expected an integer 0-65535, got 'abc'/);
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--model-repository/);
});

test('a model that fails to load stops start-up unless --exit-on-error=false', () => {
  const missing = spawnSync(process.execPath, [BIN, '--model-repository', '/nonexistent/repo', '--http-port=0', '--allow-grpc=false'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /failed to open model repository '\/nonexistent\/repo'/);
});
