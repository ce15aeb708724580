import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { httpCall, keepAliveAgent, postInfer, replyJson, type InferReply } from '../../helpers/http-client.js';
import { Harness, addModel, simpleConfig } from '../../helpers/model-control-harness.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';

/** A step of an ensemble config: `model` with its input and output maps. */
function step(model: string, inputs: Record<string, string>, outputs: Record<string, string>, version = -1): string {
  const maps = [
    ...Object.entries(inputs).map(([key, value]) => `input_map { key: "${key}" value: "${value}" }`),
    ...Object.entries(outputs).map(([key, value]) => `output_map { key: "${key}" value: "${value}" }`),
  ];
  return `{ model_name: "${model}" model_version: ${version} ${maps.join(' ')} }`;
}

const INT16 = (name: string): string => `{ name: "${name}" data_type: TYPE_INT32 dims: [ 16 ] }`;

function addEnsemble(repo: string, name: string, inputs: string[], outputs: string[], steps: string[], maxBatchSize = 8): void {
  mkdirSync(join(repo, name, '1'), { recursive: true });
  writeFileSync(
    join(repo, name, 'config.pbtxt'),
    `name: "${name}"\nplatform: "ensemble"\nmax_batch_size: ${maxBatchSize}\n` +
      `input [ ${inputs.map(INT16).join(', ')} ]\noutput [ ${outputs.map(INT16).join(', ')} ]\n` +
      `ensemble_scheduling { step [ ${steps.join(',\n')} ] }\n`,
  );
}

/** A = [k, k+1, ...], B = all `b`. */
function rows(k: number, b: number): { a: number[]; b: number[] } {
  return { a: Array.from({ length: 16 }, (_, i) => k + i), b: Array.from({ length: 16 }, () => b) };
}

function inferAB(harness: Harness, model: string, k: number, b: number, parameters?: Record<string, unknown>): Promise<InferReply> {
  const { a, b: bs } = rows(k, b);
  return postInfer(harness.base, model, {
    ...(parameters === undefined ? {} : { parameters }),
    inputs: [
      { name: 'A', datatype: 'INT32', shape: [1, 16], data: a },
      { name: 'B', datatype: 'INT32', shape: [1, 16], data: bs },
    ],
  });
}

async function inferenceCount(harness: Harness, model: string): Promise<number> {
  const reply = await httpCall(harness.base, 'GET', `/v2/models/${model}/stats`);
  return (replyJson(reply) as { model_stats: { inference_count: number }[] }).model_stats[0]!.inference_count;
}

/**
 * pipe: simple(A, B) -> SUM, DIFF; then in parallel simple(SUM, DIFF) -> TWICE_A, TWICE_B and
 * batched(DIFF, SUM) -> ... ; nested: pipe, then simple on its outputs.
 */
function buildRepository(repo: string): void {
  addModel(repo, 'simple', simpleConfig('simple'));
  // One instance and a queue delay: concurrent requests, from the ensemble or not, are batched.
  addModel(repo, 'batched', simpleConfig('batched', 'instance_group [ { kind: KIND_CPU count: 1 } ]\ndynamic_batching { max_queue_delay_microseconds: 20000 }\n'));
  addEnsemble(
    repo,
    'pipe',
    ['A', 'B'],
    ['TWICE_A', 'TWICE_B', 'SUM', 'X', 'Y'],
    [
      step('simple', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 'SUM', OUTPUT1: 'DIFF' }),
      step('simple', { INPUT0: 'SUM', INPUT1: 'DIFF' }, { OUTPUT0: 'TWICE_A', OUTPUT1: 'TWICE_B' }),
      step('batched', { INPUT0: 'DIFF', INPUT1: 'SUM' }, { OUTPUT0: 'X', OUTPUT1: 'Y' }),
    ],
  );
  addEnsemble(
    repo,
    'nested',
    ['A', 'B'],
    ['FOUR_A'],
    [
      // A step maps only the outputs it needs.
      step('pipe', { A: 'A', B: 'B' }, { TWICE_A: 'TA', TWICE_B: 'TB' }),
      step('simple', { INPUT0: 'TA', INPUT1: 'TB' }, { OUTPUT0: 'T_SUM', OUTPUT1: 'T_DIFF' }),
      step('simple', { INPUT0: 'T_SUM', INPUT1: 'T_DIFF' }, { OUTPUT0: 'FOUR_A' }),
    ],
  );
  // A failing member: runtime_error reshapes its input to [-1, 3].
  cpSync(join(FIXTURE_MODELS, 'runtime_error'), join(repo, 'runtime_error'), { recursive: true });
  mkdirSync(join(repo, 'failing', '1'), { recursive: true });
  writeFileSync(
    join(repo, 'failing', 'config.pbtxt'),
    // runtime_error's auto-completed max_batch_size is 4 (the ONNX Runtime backend's default).
    'name: "failing"\nplatform: "ensemble"\nmax_batch_size: 4\n' +
      'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]\n' +
      `ensemble_scheduling { step [ ${step('runtime_error', { INPUT0: 'IN' }, { OUTPUT0: 'OUT' })} ] }\n`,
  );
  // A stateful member: the sequence id and flags of the ensemble request reach it.
  cpSync(join(FIXTURE_MODELS, 'sequence_accumulator'), join(repo, 'sequence_accumulator'), { recursive: true });
  mkdirSync(join(repo, 'stateful', '1'), { recursive: true });
  writeFileSync(
    join(repo, 'stateful', 'config.pbtxt'),
    'name: "stateful"\nplatform: "ensemble"\nmax_batch_size: 4\n' +
      'input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "TOTAL" data_type: TYPE_INT32 dims: [ 1 ] } ]\n' +
      `ensemble_scheduling { step [ ${step('sequence_accumulator', { INPUT: 'IN' }, { OUTPUT: 'TOTAL', CORRID_OUT: 'corrid', FLAGS: 'flags' })} ] }\n`,
  );
}

describe('ensembles over real models', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-ensemble-'));
    buildRepository(repo);
    // The stateful step leaves two outputs unused: that ensemble fails validation; see its own test.
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('runs the pipeline and returns every output, the members counting the ensemble\'s requests', async () => {
    const before = await inferenceCount(harness, 'simple');
    const reply = await inferAB(harness, 'pipe', 5, 2);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    const { a, b } = rows(5, 2);
    const sum = a.map((x) => x + 2);
    const diff = a.map((x) => x - 2);
    assert.deepEqual(reply.outputs.get('SUM')?.data, sum);
    assert.deepEqual(reply.outputs.get('TWICE_A')?.data, a.map((x) => 2 * x));
    assert.deepEqual(reply.outputs.get('TWICE_B')?.data, b.map((x) => 2 * x));
    assert.deepEqual(reply.outputs.get('X')?.data, diff.map((d, i) => d + sum[i]!));
    assert.deepEqual(reply.outputs.get('Y')?.data, diff.map((d, i) => d - sum[i]!));
    assert.equal(await inferenceCount(harness, 'simple'), before + 2);
    assert.equal(await inferenceCount(harness, 'pipe'), 1);
  });

  it('nests: an ensemble whose step is an ensemble', async () => {
    const reply = await inferAB(harness, 'nested', 3, 7);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.deepEqual(reply.outputs.get('FOUR_A')?.data, rows(3, 7).a.map((x) => 4 * x));
    assert.deepEqual([...reply.outputs.keys()], ['FOUR_A']);
  });

  it('a batching member batches ensemble and direct requests together under load; every value checked', async () => {
    const replies = await Promise.all(
      Array.from({ length: 24 }, (_, k) =>
        k % 3 === 0
          ? harness.inferSimple('batched').then((reply) => ({ k, direct: true, reply }))
          : inferAB(harness, 'pipe', k, k % 5).then((reply) => ({ k, direct: false, reply })),
      ),
    );
    for (const { k, direct, reply } of replies) {
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      if (direct) continue;
      const { a } = rows(k, k % 5);
      const sum = a.map((x) => x + (k % 5));
      const diff = a.map((x) => x - (k % 5));
      assert.deepEqual(reply.outputs.get('X')?.data, diff.map((d, i) => d + sum[i]!), `request ${k}`);
    }
    const stats = replyJson(await httpCall(harness.base, 'GET', '/v2/models/batched/stats')) as {
      model_stats: { inference_count: number; execution_count: number }[];
    };
    const { inference_count: inferences, execution_count: executions } = stats.model_stats[0]!;
    assert.ok(executions < inferences, `batched: ${inferences} inferences in ${executions} executions`);
  });

  it('gRPC serves the ensemble too', async () => {
    const { a, b } = rows(1, 1);
    const response = await harness.grpc.call(
      'modelInfer',
      create(ModelInferRequestSchema, {
        modelName: 'pipe',
        inputs: [
          { name: 'A', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: a } },
          { name: 'B', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: b } },
        ],
        outputs: [{ name: 'TWICE_A' }],
      }),
    );
    assert.deepEqual(response.outputs.map((output) => output.name), ['TWICE_A']);
    assert.deepEqual([...new Int32Array(new Uint8Array(response.rawOutputContents[0]!).slice().buffer)], a.map((x) => 2 * x));
  });

  it('loads what validates', async () => {
    const index = await harness.index();
    assert.equal(index.get('failing')?.[0]?.state, 'READY', JSON.stringify(index.get('failing')));
  });

  it('a failing step fails the request with the step\'s error prefixed; other requests go on', async () => {
    const direct = await postInfer(harness.base, 'runtime_error', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const reply = await postInfer(harness.base, 'failing', { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    assert.equal(reply.status, direct.status, 'the step\'s status');
    assert.notEqual(reply.status, 200);
    assert.equal(reply.json['error'], `in ensemble 'failing', ${String(direct.json['error'])}`);
    const ok = await postInfer(harness.base, 'failing', { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.outputs.get('OUT')?.data, [1, 2, 3]);
  });

  it('an ensemble that leaves member outputs unused fails to load with the tensor named', async () => {
    const index = await harness.index();
    const stateful = index.get('stateful')?.[0];
    assert.equal(stateful?.state, 'UNAVAILABLE');
    assert.match(stateful?.reason ?? '', /ensemble tensor '(corrid|flags)' is unused in ensemble 'stateful'/);
  });
});

describe('ensembles in explicit mode: members load with the ensemble, readiness follows them', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-ensemble-explicit-'));
    buildRepository(repo);
    addEnsemble(repo, 'orphan', ['A', 'B'], ['S'], [step('missing_member', { INPUT0: 'A', INPUT1: 'B' }, { OUTPUT0: 'S', OUTPUT1: 'D' })]);
    addEnsemble(repo, 'loop_a', ['A', 'B'], ['S', 'D'], [step('loop_b', { A: 'A', B: 'B' }, { S: 'S', D: 'D' })]);
    addEnsemble(repo, 'loop_b', ['A', 'B'], ['S', 'D'], [step('loop_a', { A: 'A', B: 'B' }, { S: 'S', D: 'D' })]);
    await harness.start({ modelRepositories: [repo], modelControlMode: 'explicit' });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('loading the nested ensemble loads every model under it', async () => {
    assert.deepEqual(await harness.load('nested'), { status: 200, error: undefined });
    const index = await harness.index();
    for (const name of ['nested', 'pipe', 'simple', 'batched']) assert.equal(index.get(name)?.[0]?.state, 'READY', name);
    assert.deepEqual(index.get('runtime_error'), [{ name: 'runtime_error' }], 'models outside the ensemble stay unloaded');
    assert.equal((await inferAB(harness, 'nested', 1, 1)).status, 200);
  });

  it('an ensemble is ready only while its members are', async () => {
    assert.equal(await harness.unload('batched'), 200);
    const ready = await httpCall(harness.base, 'GET', '/v2/models/pipe/ready');
    assert.equal(ready.status, 400);
    const index = await harness.index();
    assert.equal(index.get('pipe')?.[0]?.state, 'UNAVAILABLE');
    assert.equal(index.get('pipe')?.[0]?.reason, "ensemble 'pipe' depends on 'batched' which has no loaded version.");
    assert.equal(index.get('nested')?.[0]?.state, 'UNAVAILABLE', 'through the nested ensemble too');
    const refused = await inferAB(harness, 'pipe', 1, 1);
    assert.equal(refused.status, 503);
    assert.equal(refused.json['error'], "ensemble 'pipe' depends on 'batched' which has no loaded version.");
    assert.equal((await harness.load('batched')).status, 200);
    assert.equal((await httpCall(harness.base, 'GET', '/v2/models/nested/ready')).status, 200);
  });

  it('unload_dependents unloads the members with the ensemble', async () => {
    const reply = await httpCall(harness.base, 'POST', '/v2/repository/models/pipe/unload', { body: JSON.stringify({ parameters: { unload_dependents: true } }) });
    assert.equal(reply.status, 200);
    const index = await harness.index();
    for (const name of ['pipe', 'simple', 'batched']) assert.equal(index.get(name)?.[0]?.reason, 'unloaded', name);
  });

  it('a missing member and a circular dependency fail the load with Triton\'s texts', async () => {
    const orphan = await harness.load('orphan');
    assert.equal(orphan.status, 400);
    assert.match(
      orphan.error ?? '',
      /^ensemble 'orphan' depends on 'missing_member' which has no loaded version\. Model 'missing_member' loading failed with error: failed to load 'missing_member', failed to poll from model repository$/,
    );
    const loop = await harness.load('loop_a');
    assert.equal(loop.status, 400);
    assert.match(loop.error ?? '', /circular dependency between ensembles: loop_a -> \.\.\. -> loop_b -> loop_a/);
    assert.equal((await httpCall(harness.base, 'GET', '/v2/health/live')).status, 200);
  });
});

describe('a stateful member inside an ensemble keeps the request\'s sequence', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-ensemble-seq-'));
    cpSync(join(FIXTURE_MODELS, 'sequence_accumulator'), join(repo, 'sequence_accumulator'), { recursive: true });
    mkdirSync(join(repo, 'stateful', '1'), { recursive: true });
    writeFileSync(
      join(repo, 'stateful', 'config.pbtxt'),
      'name: "stateful"\nplatform: "ensemble"\nmax_batch_size: 4\n' +
        'input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]\n' +
        'output [ { name: "TOTAL" data_type: TYPE_INT32 dims: [ 1 ] }, { name: "ID" data_type: TYPE_INT64 dims: [ 1 ] }, { name: "F" data_type: TYPE_INT32 dims: [ 1 ] } ]\n' +
        `ensemble_scheduling { step [ ${step('sequence_accumulator', { INPUT: 'IN' }, { OUTPUT: 'TOTAL', CORRID_OUT: 'ID', FLAGS: 'F' })} ] }\n`,
    );
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('interleaved sequences through the ensemble accumulate per sequence id', async () => {
    const send = (id: number, value: number, flags: { start?: boolean; end?: boolean }) =>
      postInfer(harness.base, 'stateful', {
        parameters: { sequence_id: id, ...(flags.start ? { sequence_start: true } : {}), ...(flags.end ? { sequence_end: true } : {}) },
        inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 1], data: [value] }],
      });
    const totals = new Map<number, number>();
    for (let stepIndex = 0; stepIndex < 4; stepIndex++) {
      const replies = await Promise.all(
        [11, 12, 13].map((id) => send(id, id * 10 + stepIndex, { start: stepIndex === 0, end: stepIndex === 3 }).then((reply) => ({ id, reply }))),
      );
      for (const { id, reply } of replies) {
        assert.equal(reply.status, 200, JSON.stringify(reply.json));
        totals.set(id, (totals.get(id) ?? 0) + id * 10 + stepIndex);
        assert.deepEqual(reply.outputs.get('TOTAL')?.data, [totals.get(id)], `sequence ${id} step ${stepIndex}`);
        assert.deepEqual(reply.outputs.get('ID')?.data, [id]);
      }
    }
  });
});

describe('a client that goes away stops the ensemble between steps', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-ensemble-cancel-'));
    for (const name of ['slow_identity', 'identity_fp32']) cpSync(join(FIXTURE_MODELS, name), join(repo, name), { recursive: true });
    mkdirSync(join(repo, 'slow_then_fast', '1'), { recursive: true });
    writeFileSync(
      join(repo, 'slow_then_fast', 'config.pbtxt'),
      'name: "slow_then_fast"\nplatform: "ensemble"\nmax_batch_size: 8\n' +
        'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]\n' +
        `ensemble_scheduling { step [ ${step('slow_identity', { INPUT0: 'IN' }, { OUTPUT0: 'mid' })}, ${step('identity_fp32', { INPUT0: 'mid' }, { OUTPUT0: 'OUT' })} ] }\n`,
    );
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('the step after the one running when the socket closed never runs', async () => {
    const ok = await postInfer(harness.base, 'slow_then_fast', { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.outputs.get('OUT')?.data, [1, 2]);
    const body = JSON.stringify({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    const { request } = await import('node:http');
    // The socket closes while slow_identity (~20 ms) computes; on a busy machine the request may not
    // have arrived by then, so the attempt is repeated with a later close until it had.
    let arrived = false;
    for (const closeAfterMs of [5, 8, 12]) {
      const fastBefore = await inferenceCount(harness, 'identity_fp32');
      const slowBefore = await inferenceCount(harness, 'slow_identity');
      await new Promise<void>((resolve) => {
        const req = request(`${harness.base}/v2/models/slow_then_fast/infer`, { method: 'POST', headers: { 'Content-Length': Buffer.byteLength(body) } });
        req.on('error', () => resolve());
        req.end(body);
        setTimeout(() => {
          req.destroy();
          resolve();
        }, closeAfterMs);
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      if ((await inferenceCount(harness, 'slow_identity')) === slowBefore) continue;
      arrived = true;
      assert.equal(await inferenceCount(harness, 'identity_fp32'), fastBefore, 'the next step never started');
      break;
    }
    assert.ok(arrived, 'the request reached the first step');
    const stats = replyJson(await httpCall(harness.base, 'GET', '/v2/models/slow_then_fast/stats')) as {
      model_stats: { inference_stats: { fail: { count: number } } }[];
    };
    assert.equal(stats.model_stats[0]!.inference_stats.fail.count, 1);
  });
});
