import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeBytesElements } from '@nereid/protocol';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { bytesTensor, httpCall, postInfer, replyJson, tensorBytes, type InferReply } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';
import { addPythonModel } from '../../helpers/python-repository.js';

const BEHAVIOURS_CONFIG = (extra: string): string =>
  'backend: "python"\nmax_batch_size: 8\n' +
  'input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ -1 ] } ]\n' +
  'output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ -1 ] }, { name: "OUTPUT1" data_type: TYPE_STRING dims: [ 1 ] } ]\n' +
  extra;

const SIMPLE_IO =
  'max_batch_size: 8\n' +
  'input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]\n' +
  'output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]\n';

interface Facts {
  pid: number;
  batch: number;
  executions: number;
  params: Record<string, unknown>;
  id: string;
  outputs: string[];
  args: Record<string, string> | null;
  cancelled: boolean;
}

function facts(reply: InferReply): Facts {
  const output = reply.outputs.get('OUTPUT1')!;
  const element = output.data !== undefined ? String(output.data[0]) : Buffer.from(decodeBytesElements(output.binary!)[0]!).toString();
  return JSON.parse(element) as Facts;
}

function ask(base: string, model: string, parameters: Record<string, unknown> = {}, id?: string): Promise<InferReply> {
  return postInfer(base, model, {
    ...(id === undefined ? {} : { id }),
    parameters,
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 3], data: [7, 8, 9] }],
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** CPU ticks (user + system) a process has used, from /proc. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return performance.now() - start;
}

describe('Python backend (real python3 stubs)', () => {
  let server: RunningServer;
  let base: string;
  let repo: string;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-python-'));
    for (const name of ['simple', 'add_sub', 'bls_simple']) symlinkSync(join(EXAMPLE_MODELS, name), join(repo, name));
    addPythonModel(repo, 'py_batching', 'behaviours', BEHAVIOURS_CONFIG('dynamic_batching { max_queue_delay_microseconds: 200000 }\n'));
    addPythonModel(repo, 'py_faults', 'behaviours', BEHAVIOURS_CONFIG(''));
    addPythonModel(repo, 'py_other', 'behaviours', BEHAVIOURS_CONFIG(''));
    addPythonModel(
      repo,
      'py_identity',
      'identity',
      'backend: "python"\nmax_batch_size: 0\n' +
        'input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] }, { name: "INPUT1" data_type: TYPE_FP16 dims: [ 2, 2 ] } ]\n' +
        'output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] }, { name: "OUTPUT1" data_type: TYPE_FP16 dims: [ 2, 2 ] } ]\n',
    );
    addPythonModel(repo, 'py_bls', 'bls', `backend: "python"\n${SIMPLE_IO}`);
    addPythonModel(repo, 'py_auto', 'auto_complete', undefined);
    server = await startServer({
      modelRepositories: [repo],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: silentLogger,
      // A stub that does not answer for a second while holding requests is taken as hung.
      backendConfig: new Map([['python', new Map([['stub-timeout-seconds', '1']])]]),
    });
    base = `http://127.0.0.1:${server.http!.port}`;
  });

  after(async () => {
    await server.close();
  });

  it('BYTES elements with NUL and non-UTF-8 bytes, and FP16, come back exactly', async () => {
    const elements = [Buffer.from('plain'), Buffer.from([0, 1, 0]), Buffer.from([0xff, 0xfe, 0x80]), Buffer.alloc(0), Buffer.from('é\0')];
    const half = tensorBytes(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0xc000]));
    const reply = await postInfer(base, 'py_identity', {
      inputs: [
        { name: 'INPUT0', datatype: 'BYTES', shape: [5], binary: bytesTensor(elements) },
        { name: 'INPUT1', datatype: 'FP16', shape: [2, 2], binary: half },
      ],
      outputs: [
        { name: 'OUTPUT0', parameters: { binary_data: true } },
        { name: 'OUTPUT1', parameters: { binary_data: true } },
      ],
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const out = reply.outputs.get('OUTPUT0')!;
    assert.equal(out.datatype, 'BYTES');
    assert.deepEqual(out.shape, [5]);
    assert.deepEqual(decodeBytesElements(out.binary!).map((e) => Buffer.from(e).toString('hex')), elements.map((e) => e.toString('hex')));
    assert.equal(reply.outputs.get('OUTPUT1')!.binary!.toString('hex'), half.toString('hex'));
  });

  it('initialize gets Triton\'s args; requests carry id, parameters and requested outputs', async () => {
    const reply = await ask(base, 'py_faults', { mode: 'args', x: 3, flag: true }, 'req-7');
    assert.equal(reply.status, 200, reply.body.toString());
    const seen = facts(reply);
    assert.equal(seen.id, 'req-7');
    assert.deepEqual(seen.params, { mode: 'args', x: 3, flag: true });
    assert.deepEqual(seen.outputs.sort(), ['OUTPUT0', 'OUTPUT1']);
    const args = seen.args!;
    assert.equal(args['model_name'], 'py_faults');
    assert.equal(args['model_version'], '1');
    assert.equal(args['model_instance_name'], 'py_faults_0');
    assert.equal(args['model_instance_kind'], 'KIND_CPU');
    assert.equal(args['model_instance_device_id'], '0');
    assert.equal(args['model_repository'], join(repo, 'py_faults'));
    assert.equal((JSON.parse(args['model_config']!) as { max_batch_size: number }).max_batch_size, 8);
    assert.deepEqual([...reply.outputs.get('OUTPUT0')!.data!], [7, 8, 9]);
    const parameters = reply.json['parameters'] as Record<string, unknown>;
    assert.deepEqual({ ...parameters, executions: 0 }, { executions: 0, mode: 'args', echoed: true }, 'the response\'s parameters reach the client');
  });

  it('the dynamic batcher hands the model several requests in one execute', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(base, 'py_batching', {}, `b${i}`)));
    const batches = replies.map((reply) => facts(reply));
    assert.ok(batches.every((seen, i) => seen.id === `b${i}`), 'each response answers its own request');
    assert.ok(Math.max(...batches.map((seen) => seen.batch)) > 1, `batches: ${batches.map((seen) => seen.batch)}`);
    const stats = replyJson(await httpCall(base, 'GET', '/v2/models/py_batching/stats')) as {
      model_stats: Array<{ execution_count: number; inference_count: number }>;
    };
    assert.equal(stats.model_stats[0]!.inference_count, 6);
    assert.ok(stats.model_stats[0]!.execution_count < 6);
  });

  it('an exception in execute fails the requests with Triton\'s text; a TritonError response keeps its code', async () => {
    const raised = await ask(base, 'py_faults', { mode: 'raise' }, 'r1');
    assert.equal(raised.status, 500);
    assert.match(
      String(raised.json['error']),
      /^Failed to process the request\(s\) for model 'py_faults_0', message: RuntimeError: raised for request r1\n\nAt:\n {2}.*model\.py\(\d+\): execute/,
    );
    const refused = await ask(base, 'py_faults', { mode: 'error', why: 'no' });
    assert.equal(refused.status, 400);
    assert.equal(refused.json['error'], 'refused: no');
    assert.equal((await ask(base, 'py_faults')).status, 200, 'the instance keeps serving');
  });

  it('BLS: exec() and async_exec() run `simple` through the core; a failed call comes back as an error', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, () => 2);
    const inputs = [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
    ];
    const before = replyJson(await httpCall(base, 'GET', '/v2/models/simple/stats')) as { model_stats: Array<{ inference_count: number }> };
    for (const asynchronous of [false, true]) {
      const reply = await postInfer(base, 'py_bls', { parameters: { async: asynchronous }, inputs });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual([...reply.outputs.get('OUTPUT0')!.data!], a.map((x) => x + 2));
      assert.deepEqual([...reply.outputs.get('OUTPUT1')!.data!], a.map((x) => x - 2));
    }
    const later = replyJson(await httpCall(base, 'GET', '/v2/models/simple/stats')) as { model_stats: Array<{ inference_count: number }> };
    assert.equal(later.model_stats[0]!.inference_count - before.model_stats[0]!.inference_count, 3, 'one sync call and two async calls reached simple');
    const missing = await postInfer(base, 'py_bls', { parameters: { target: 'no_such_model' }, inputs });
    assert.equal(missing.status, 404);
    assert.equal(missing.json['error'], "Request for unknown model: 'no_such_model' is not found");
  });

  it('the example models: add_sub (Triton\'s example behaviour) and bls_simple (simple through BLS, sync and 3 async calls)', async () => {
    const sums = await postInfer(base, 'add_sub', {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2.5, -3, 4] },
        { name: 'INPUT1', datatype: 'FP32', shape: [4], data: [0.5, 0.5, 1, -4] },
      ],
    });
    assert.deepEqual([...sums.outputs.get('OUTPUT0')!.data!], [1.5, 3, -2, 0]);
    assert.deepEqual([...sums.outputs.get('OUTPUT1')!.data!], [0.5, 2, -4, 8]);
    const a = Array.from({ length: 16 }, (_, i) => i * 3);
    const b = Array.from({ length: 16 }, (_, i) => i);
    for (const calls of [1, 3]) {
      const reply = await postInfer(base, 'bls_simple', {
        parameters: { calls },
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
        ],
      });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual([...reply.outputs.get('OUTPUT0')!.data!], a.map((x, i) => x + b[i]!));
      assert.deepEqual([...reply.outputs.get('OUTPUT1')!.data!], a.map((x, i) => x - b[i]!));
    }
  });

  it('a model folder without config.pbtxt is completed by auto_complete_config', async () => {
    const config = replyJson(await httpCall(base, 'GET', '/v2/models/py_auto/config')) as Record<string, unknown>;
    assert.equal(config['backend'], 'python');
    assert.equal(config['max_batch_size'], 4);
    assert.deepEqual((config['input'] as Array<Record<string, unknown>>).map((i) => [i['name'], i['data_type'], i['dims']]), [['IN', 'TYPE_FP32', [2]]]);
    assert.ok(config['dynamic_batching'] !== undefined, 'set_dynamic_batching()');
    const reply = await postInfer(base, 'py_auto', { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [1.5, -2] }] });
    assert.deepEqual([...reply.outputs.get('OUT')!.data!], [3, -4]);
  });

  it('the model\'s is_ready() decides its readiness (asked in the background, at most once a second)', async () => {
    const ready = async (): Promise<number> => (await httpCall(base, 'GET', '/v2/models/py_other/ready')).status;
    await until(async () => (await ready()) === 200, 3_000);
    writeFileSync(join(repo, 'py_other', 'not_ready'), '');
    await until(async () => (await ready()) === 400, 3_000);
    assert.equal((await ask(base, 'py_other')).status, 200, 'a model that says it is not ready still serves, as in Triton');
    unlinkSync(join(repo, 'py_other', 'not_ready'));
    await until(async () => (await ready()) === 200, 3_000);
  });

  it('request.is_cancelled() turns True once the client has gone', async () => {
    const body = JSON.stringify({
      id: 'gone-1',
      parameters: { mode: 'until_cancelled' },
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }],
    });
    const url = new URL('/v2/models/py_other/infer', base);
    const abandoned = httpRequest(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
    abandoned.on('error', () => undefined);
    abandoned.end(body);
    await new Promise((resolve) => setTimeout(resolve, 300));
    abandoned.destroy();
    await until(async () => existsSync(join(repo, 'py_other', 'cancelled-gone-1')), 4_000);
    const seen = facts(await ask(base, 'py_other', {}, 'still-here'));
    assert.equal(seen.cancelled, false, 'a request whose client waits is not cancelled');
  });

  it('an idle stub uses no CPU', async () => {
    const pid = facts(await ask(base, 'py_other')).pid;
    const first = cpuTicks(pid);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal(cpuTicks(pid), first);
  });

  it('a stub killed with SIGKILL fails its request, the model is not ready until a new stub serves, others never notice', async () => {
    const pid = facts(await ask(base, 'py_faults')).pid;
    const slow = ask(base, 'py_faults', { mode: 'sleep', ms: 3000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(pid, 'SIGKILL');
    const failed = await slow;
    assert.equal(failed.status, 500);
    assert.equal(
      failed.json['error'],
      "Failed to process the request(s) for model instance 'py_faults_0', message: Stub process 'py_faults_0' is not healthy.",
    );
    assert.equal((await httpCall(base, 'GET', '/v2/models/py_faults/ready')).status, 400, 'not ready while the stub restarts');
    assert.equal((await ask(base, 'py_other')).status, 200, 'another model keeps serving');
    const tookMs = await until(async () => (await httpCall(base, 'GET', '/v2/models/py_faults/ready')).status === 200, 5_000);
    const again = await ask(base, 'py_faults');
    assert.equal(again.status, 200);
    assert.notEqual(facts(again).pid, pid);
    assert.ok(tookMs < 5_000);
  });

  it('a stub that stops answering (SIGSTOP) is killed after stub-timeout-seconds and replaced', async () => {
    const pid = facts(await ask(base, 'py_faults')).pid;
    process.kill(pid, 'SIGSTOP');
    const start = performance.now();
    const failed = await ask(base, 'py_faults');
    assert.equal(failed.status, 500);
    assert.match(String(failed.json['error']), /Stub process 'py_faults_0' is not healthy: stopped for 1000 ms/);
    assert.ok(performance.now() - start < 3_000);
    await until(async () => (await ask(base, 'py_faults')).status === 200, 5_000);
    assert.equal(pidAlive(pid), false, 'the hung stub was killed and reaped');
  });

  it('the interpreter: EXECUTION_ENV_PATH (a folder with bin/python3, $$TRITON_MODEL_DIRECTORY) and its errors', async () => {
    const dir = addPythonModel(
      repo,
      'py_env',
      'behaviours',
      BEHAVIOURS_CONFIG('parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "$$TRITON_MODEL_DIRECTORY/env" } }\n'),
    );
    mkdirSync(join(dir, 'env', 'bin'), { recursive: true });
    symlinkSync('/usr/bin/python3', join(dir, 'env', 'bin', 'python3'));
    const control = await startServer({
      modelRepositories: [repo],
      modelControlMode: 'explicit',
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: silentLogger,
      backendConfig: new Map([['python', new Map([['python-executable', '/no/such/python3']])]]),
    });
    try {
      const url = `http://127.0.0.1:${control.http!.port}`;
      assert.equal((await httpCall(url, 'POST', '/v2/repository/models/py_env/load')).status, 200);
      assert.equal((await ask(url, 'py_env')).status, 200, 'the model\'s environment wins over the server-wide setting');
      const failed = await httpCall(url, 'POST', '/v2/repository/models/py_other/load');
      assert.equal(failed.status, 400);
      assert.match(String((replyJson(failed) as { error: string }).error), /failed to start the Python stub with '\/no\/such\/python3': spawn \/no\/such\/python3 ENOENT/);
    } finally {
      await control.close();
    }
  });

  it('stopping the server ends every stub', async () => {
    const pids = [facts(await ask(base, 'py_other')).pid, facts(await ask(base, 'py_faults')).pid];
    await server.close();
    assert.deepEqual(pids.map(pidAlive), [false, false]);
  });
});
