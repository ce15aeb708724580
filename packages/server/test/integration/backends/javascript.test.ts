import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { addJavaScriptModel } from '../../helpers/javascript-repository.js';
import { EXAMPLE_MODELS, FIXTURE_MODELS } from '../../helpers/paths.js';

const BEHAVIOURS_CONFIG = `backend: "javascript"
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 20000 }
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ -1 ] }, { name: "OUTPUT1" data_type: TYPE_STRING dims: [ 1 ] } ]
`;

interface JsonOutput {
  readonly name: string;
  readonly shape: number[];
  readonly data: unknown[];
}

/** The JavaScript backend end to end: a real server, models on worker threads, HTTP and gRPC clients. */
describe('javascript backend', () => {
  let repo: string;
  let server: RunningServer;
  let base: string;
  let grpc: InferenceGrpcClient;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-js-'));
    addJavaScriptModel(repo, 'behaviours', 'behaviours.ts', BEHAVIOURS_CONFIG, ['helper.ts']);
    // Two instances, no batcher: two requests run as two executions, one per worker.
    const twoInstances = `${BEHAVIOURS_CONFIG.replace(/dynamic_batching.*\n/, '')}instance_group [ { kind: KIND_CPU count: 2 } ]\n`;
    addJavaScriptModel(repo, 'behaviours_x2', 'behaviours.ts', twoInstances, ['helper.ts']);
    addJavaScriptModel(repo, 'raise_error', 'raise_error.js', 'backend: "javascript"\nmax_batch_size: 0\ninput [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 1 ] } ]\n');
    // No config.pbtxt: the backend is found by the model file, the configuration by autoCompleteConfig.
    addJavaScriptModel(repo, 'auto_complete', 'auto_complete.js', undefined);
    for (const name of ['simple', 'repeat_js', 'bls_simple_js']) symlinkSync(join(EXAMPLE_MODELS, name), join(repo, name));
    symlinkSync(join(FIXTURE_MODELS, 'identity_int32'), join(repo, 'identity_int32'));
    server = await startServer({
      modelRepositories: [repo],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http!.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
  });
  after(async () => {
    grpc.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  async function infer(model: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const reply = await fetch(`${base}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body) });
    return { status: reply.status, json: (await reply.json()) as Record<string, unknown> };
  }

  function behave(mode: string, values: number[][], extra: Record<string, unknown> = {}, id = ''): Promise<{ status: number; json: Record<string, unknown> }> {
    return infer('behaviours', {
      id,
      parameters: { mode, ...extra },
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [values.length, values[0]!.length], data: values.flat() }],
    });
  }

  const outputs = (json: Record<string, unknown>): Map<string, JsonOutput> => new Map((json['outputs'] as JsonOutput[]).map((o) => [o.name, o]));
  const facts = (json: Record<string, unknown>): Record<string, unknown> => JSON.parse(outputs(json).get('OUTPUT1')!.data[0] as string) as Record<string, unknown>;

  it('a model.ts with its own imports serves on a worker thread: id, parameters, requested outputs, initialize args, FP16 helpers', async () => {
    const { status, json } = await behave('echo', [[1, 2, 3]], { flag: true, n: 7 }, 'req-1');
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json['id'], 'req-1');
    assert.deepEqual(json['parameters'], { echoed_by: 'behaviours', rows: 1 }, 'response parameters reach the client');
    assert.deepEqual(outputs(json).get('OUTPUT0')!.data, [1, 2, 3]);
    const f = facts(json);
    assert.ok(typeof f['thread'] === 'number' && f['thread'] > 0, 'runs off the main thread');
    assert.equal(f['id'], 'req-1');
    assert.deepEqual(f['params'], { mode: 'echo', flag: true, n: 7 });
    assert.deepEqual(f['outputs'], ['OUTPUT0', 'OUTPUT1']);
    assert.deepEqual(f['half'], [1.5, -2, 65504]);
    const args = f['args'] as Record<string, string>;
    assert.equal(args['model_name'], 'behaviours');
    assert.equal(args['model_version'], '1');
    assert.equal(args['model_instance_name'], 'behaviours_0');
    assert.equal(args['model_instance_kind'], 'KIND_CPU');
    assert.equal(args['model_config'], 'behaviours');
    assert.equal(args['model_repository'], join(repo, 'behaviours'));
  });

  it('errors: a throwing execute fails its batch naming the model; an error response fails its request with its code', async () => {
    const thrown = await behave('throw', [[1]], {}, 'x1');
    assert.equal(thrown.status, 500);
    assert.equal(thrown.json['error'], "Failed to process the request(s) for model 'behaviours', message: Error: thrown for request x1");
    const refused = await behave('error', [[1]], { why: 'because' });
    assert.equal(refused.status, 400);
    assert.equal(refused.json['error'], 'refused: because');
    const raised = await infer('raise_error', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1], data: [1] }] });
    assert.equal(raised.status, 500);
    assert.equal(raised.json['error'], "Failed to process the request(s) for model 'raise_error', message: RangeError: this model always fails");
    const badShape = await behave('bad-shape', [[1]]);
    assert.equal(badShape.status, 500);
    assert.equal(badShape.json['error'], "Failed to process the request(s) for model 'behaviours', message: Error: output 'OUTPUT0': shape [2,3] holds 6 elements but the data has 4");
    assert.equal((await behave('echo', [[5]])).status, 200, 'the model keeps serving');
  });

  it('the dynamic batcher hands execute several requests at once; a busy model does not stall the server', async () => {
    // The health answer must come back while the model still spins (not after a time limit, which a
    // loaded CI machine can exceed without anything being stalled).
    let spinEndedAt = Number.POSITIVE_INFINITY;
    const busy = behave('spin', [[0]], { ms: 600 }).then((response) => {
      spinEndedAt = performance.now();
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const health = await fetch(`${base}/v2/health/ready`);
    const answeredAt = performance.now();
    assert.equal(health.status, 200);
    assert.ok(answeredAt < spinEndedAt, 'health answered while the model spins');
    const queued = await Promise.all([behave('echo', [[1]]), behave('echo', [[2], [3]]), behave('echo', [[4]])]);
    await busy;
    assert.deepEqual(queued.map((r) => outputs(r.json).get('OUTPUT0')!.data), [[1], [2, 3], [4]]);
    assert.ok(queued.some((r) => (facts(r.json)['batch'] as number) > 1), `batched: ${queued.map((r) => facts(r.json)['batch']).join(',')}`);
  });

  it('each instance has its own worker thread and they execute at the same time', async () => {
    const sleep = (model: string): Promise<Record<string, unknown>> =>
      infer(model, { parameters: { mode: 'sleep', ms: 1000 }, inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }).then((r) => facts(r.json));
    const started = performance.now();
    const [a, b] = await Promise.all([sleep('behaviours_x2'), sleep('behaviours_x2')]);
    const elapsed = performance.now() - started;
    assert.notEqual(a['thread'], b['thread']);
    assert.deepEqual([a['args'], b['args']].map((args) => (args as Record<string, string>)['model_instance_name']).sort(), ['behaviours_x2_0_0', 'behaviours_x2_0_1']);
    // One after the other they would take at least 2 s; the margin is for a loaded machine's overhead.
    assert.ok(elapsed < 1800, `two 1 s executions overlapped (${elapsed.toFixed(0)} ms)`);
  });

  it('BLS: a model calls other models through the server, one answer or a decoupled stream', async () => {
    const range = Array.from({ length: 16 }, (_, i) => i);
    const doubled = await infer('bls_simple_js', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range.map(() => 1) },
      ],
    });
    assert.equal(doubled.status, 200, JSON.stringify(doubled.json));
    assert.deepEqual(outputs(doubled.json).get('OUTPUT0')!.data, range.map((v) => (v + 1) * 2));
    const bls = await behave('bls', [[7, 8]], { target: 'identity_int32' });
    assert.deepEqual(outputs(bls.json).get('OUTPUT0')!.data, [7, 8]);
    assert.equal(facts(bls.json)['bls'], 'identity_int32');
    const missing = await behave('bls', [[1]], { target: 'no_such_model' });
    assert.equal(missing.status, 500);
    assert.match(String(missing.json['error']), /model 'behaviours', message: Request for unknown model: 'no_such_model' is not found/);
    const streamed = await behave('stream', [[3, 4, 5]]);
    assert.equal(streamed.status, 200, JSON.stringify(streamed.json));
    assert.deepEqual(outputs(streamed.json).get('OUTPUT0')!.data, [3, 4, 5]);
  });

  it('decoupled: repeat_js answers many times over ModelStreamInfer and generate_stream', async () => {
    const call = grpc.stream();
    const messages: ModelStreamInferResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (message: ModelStreamInferResponse) => messages.push(message));
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (const [id, values] of [['a', [10, 11, 12]], ['b', [20, 21]]] as const) {
      call.write(create(ModelInferRequestSchema, { modelName: 'repeat_js', id, inputs: [{ name: 'IN', datatype: 'INT32', shape: [BigInt(values.length)], contents: { intContents: [...values] } }] }));
    }
    call.end();
    await done;
    const valuesOf = (id: string): number[] =>
      messages.filter((m) => m.inferResponse?.id === id).map((m) => new Int32Array(Uint8Array.from(m.inferResponse!.rawOutputContents[0]!).buffer)[0]!);
    assert.deepEqual(valuesOf('a'), [10, 11, 12]);
    assert.deepEqual(valuesOf('b'), [20, 21]);
    const events = await fetch(`${base}/v2/models/repeat_js/generate_stream`, { method: 'POST', body: JSON.stringify({ IN: [4, 5] }) });
    assert.equal(
      await events.text(),
      ['{"IDX":0,"OUT":4,"model_name":"repeat_js","model_version":"1"}', '{"IDX":1,"OUT":5,"model_name":"repeat_js","model_version":"1"}'].map((e) => `data: ${e}\n\n`).join(''),
    );
  });

  it('isCancelled turns true once the client has gone', async () => {
    const abort = new AbortController();
    const gone = fetch(`${base}/v2/models/behaviours/infer`, {
      method: 'POST',
      signal: abort.signal,
      body: JSON.stringify({ parameters: { mode: 'wait-cancel' }, inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }),
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    abort.abort();
    await gone;
    const deadline = Date.now() + 3000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      seen = facts((await behave('echo', [[1]])).json)['cancelSeen'] === true;
      if (!seen) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(seen, 'the model saw its request cancelled (it waits up to 5 s otherwise)');
  });

  it('autoCompleteConfig completes a model that has no config.pbtxt', async () => {
    const config = (await (await fetch(`${base}/v2/models/auto_complete/config`)).json()) as Record<string, unknown>;
    assert.equal(config['backend'], 'javascript');
    assert.equal(config['max_batch_size'], 4);
    assert.deepEqual((config['input'] as Array<Record<string, unknown>>).map((i) => [i['name'], i['data_type'], i['dims']]), [['X', 'TYPE_FP32', [3]]]);
    assert.ok(config['dynamic_batching'] !== undefined);
    const { json } = await infer('auto_complete', { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    assert.deepEqual(outputs(json).get('Y')!.data, [10, 20, 30]);
  });

  for (const mode of ['exit', 'crash']) {
    it(`a worker that dies (${mode}) fails what it held, turns the model not ready, and is restarted`, async () => {
      const before = facts((await behave('echo', [[1]])).json)['thread'];
      const died = await behave(mode, [[1]]);
      if (mode === 'exit') {
        assert.equal(died.status, 500);
        assert.match(String(died.json['error']), /^the worker of model 'behaviours' instance 'behaviours_0' stopped unexpectedly \(exit code 3\)$/);
      }
      let sawNotReady = false;
      const deadline = Date.now() + 4000;
      let after: Record<string, unknown> | undefined;
      while (Date.now() < deadline) {
        const ready = await fetch(`${base}/v2/models/behaviours/ready`);
        if (ready.status !== 200) sawNotReady = true;
        else if (sawNotReady) {
          after = facts((await behave('echo', [[2]])).json);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(sawNotReady, 'not ready while restarting');
      assert.ok(after !== undefined, 'ready again and serving');
      assert.notEqual(after['thread'], before, 'a new worker thread');
      assert.equal(after['executions'], 1, 'a fresh module instance');
    });
  }
});

describe('javascript backend: load failures', () => {
  it('a model.ts that does not compile, or whose initialize throws, fails its load naming the model and the cause', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'nereid-js-bad-'));
    const config = 'backend: "javascript"\nmax_batch_size: 0\ninput [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "Y" data_type: TYPE_INT32 dims: [ 1 ] } ]\n';
    const broken = addJavaScriptModel(repo, 'broken', 'identity.js', config);
    rmSync(join(broken, '1', 'model.js'));
    writeFileSync(join(broken, '1', 'model.ts'), 'export function execute(: number) {}\n');
    const failing = addJavaScriptModel(repo, 'failing', 'identity.js', config);
    writeFileSync(join(failing, '1', 'model.js'), "export function initialize() { throw new TypeError('no weights'); }\nexport function execute() {}\n");
    const server = await startServer({ modelRepositories: [repo], http: { port: 0, address: '127.0.0.1' }, grpc: { allow: false }, exitOnError: false, logger: silentLogger });
    try {
      const index = (await (await fetch(`http://127.0.0.1:${server.http!.port}/v2/repository/index`, { method: 'POST' })).json()) as Array<Record<string, string>>;
      const reason = (name: string): string => index.find((entry) => entry.name === name)?.['reason'] ?? '';
      assert.match(reason('broken'), /^failed to compile '.*\/broken\/1\/model\.ts' of model 'broken': .*model\.ts:1:\d+: /);
      assert.equal(reason('failing'), "Failed to initialize model 'failing': TypeError: no weights");
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
