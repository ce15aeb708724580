import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelInferRequest_InferInputTensor } from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient, type GrpcCallError } from '../../helpers/grpc-client.js';
import { buildInferBody, httpCall, inferPath, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { request as httpRequest } from 'node:http';
import { EXAMPLE_MODELS, FIXTURE_MODELS } from '../../helpers/paths.js';

/**
 * The dynamic batcher behind real sockets and real ONNX Runtime runs: many concurrent clients over
 * HTTP and gRPC each get their own values back from shared batches, and the queue policies answer
 * with Triton's codes and texts. `slow_identity` runs ~20 ms, long enough for requests to queue.
 */
function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-batching-'));
  const variant = (source: string, from: string, name: string, extra: string): void => {
    cpSync(join(source, from), join(dir, name), { recursive: true });
    const config = readFileSync(join(dir, name, 'config.pbtxt'), 'utf8').replace(`name: "${from}"`, `name: "${name}"`);
    writeFileSync(join(dir, name, 'config.pbtxt'), `${config}\n${extra}\n`);
  };
  const one = 'instance_group [ { kind: KIND_CPU count: 1 } ]';
  variant(EXAMPLE_MODELS, 'simple', 'simple_batched', `${one}\ndynamic_batching { max_queue_delay_microseconds: 20000 }`);
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_limited', `${one}\ndynamic_batching { default_queue_policy { max_queue_size: 1 } }`);
  variant(
    FIXTURE_MODELS,
    'slow_identity',
    'slow_timeout',
    `${one}\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 5000 } }`,
  );
  variant(
    FIXTURE_MODELS,
    'slow_identity',
    'slow_priority',
    `${one}\ndynamic_batching { preferred_batch_size: [ 1 ] priority_levels: 2 default_priority_level: 2 }`,
  );
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_cancel', `${one}\ndynamic_batching { }`);
  return dir;
}

interface ModelStats {
  inference_count: number;
  execution_count: number;
  inference_stats: { success: { count: number }; queue: { count: number }; fail: { count: number } };
  batch_stats: Array<{ batch_size: number; compute_infer: { count: number } }>;
  batcher_stats?: { closed_by: Record<string, number>; rejected_queue_full: number; rejected_timeout: number; cancelled: number };
}

function randomInts(n: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(Math.random() * 2_000_000) - 1_000_000);
}

describe('dynamic batching over HTTP and gRPC', () => {
  let repository = '';
  let server: RunningServer;
  let base = '';
  let grpc: InferenceGrpcClient;

  before(async () => {
    repository = buildRepository();
    server = await startServer({
      modelRepositories: [repository],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc?.port}`);
  });
  after(async () => {
    grpc.close();
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  const stats = async (model: string): Promise<ModelStats> => {
    const reply = await httpCall(base, 'GET', `/v2/models/${model}/stats`);
    return (replyJson(reply) as { model_stats: ModelStats[] }).model_stats[0]!;
  };

  const slowInfer = (model: string, values: number[], parameters: Record<string, number> = {}) =>
    postInfer(base, model, {
      parameters,
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, values.length], data: values }],
    });

  it('HTTP: concurrent clients share batches and each gets its own sums and differences', async () => {
    const clients = 24;
    const inputs = Array.from({ length: clients }, () => [randomInts(16), randomInts(16)] as const);
    const replies = await Promise.all(
      inputs.map(([a, b]) =>
        postInfer(base, 'simple_batched', {
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [...a] },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: [...b] },
          ],
        }),
      ),
    );
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200, reply.body.toString());
      const [a, b] = inputs[i]!;
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, [...a].map((x, k) => x + b[k]!));
      assert.deepEqual(reply.outputs.get('OUTPUT1')?.data, [...a].map((x, k) => x - b[k]!));
    });
    const after = await stats('simple_batched');
    assert.equal(after.inference_count, clients);
    assert.equal(after.inference_stats.success.count, clients);
    assert.equal(after.inference_stats.queue.count, clients);
    assert.ok(after.execution_count < clients, `batched: ${after.execution_count} executions for ${clients} requests`);
    const rows = after.batch_stats.reduce((sum, batch) => sum + batch.batch_size * batch.compute_infer.count, 0);
    assert.equal(rows, clients, 'batch_stats account for every request once');
    assert.equal(
      after.batch_stats.reduce((sum, batch) => sum + batch.compute_infer.count, 0),
      after.execution_count,
    );
    assert.ok(after.batch_stats.some((batch) => batch.batch_size > 1));
  });

  it('gRPC: concurrent clients share batches and each gets its own values', async () => {
    const before = await stats('simple_batched');
    const clients = 24;
    const inputs = Array.from({ length: clients }, () => [randomInts(16), randomInts(16)] as const);
    const tensor = (name: string): ModelInferRequest_InferInputTensor =>
      ({ name, datatype: 'INT32', shape: [1n, 16n] }) as ModelInferRequest_InferInputTensor;
    const responses = await Promise.all(
      inputs.map(([a, b], i) =>
        grpc.call('modelInfer', {
          modelName: 'simple_batched',
          id: `req-${i}`,
          inputs: [tensor('INPUT0'), tensor('INPUT1')],
          rawInputContents: [new Uint8Array(a.buffer), new Uint8Array(b.buffer)],
        }),
      ),
    );
    responses.forEach((response, i) => {
      assert.equal(response.id, `req-${i}`);
      const [a, b] = inputs[i]!;
      const raw = response.rawOutputContents;
      const sum = new Int32Array(raw[0]!.buffer.slice(raw[0]!.byteOffset, raw[0]!.byteOffset + 64));
      const diff = new Int32Array(raw[1]!.buffer.slice(raw[1]!.byteOffset, raw[1]!.byteOffset + 64));
      assert.deepEqual([...sum], [...a].map((x, k) => x + b[k]!));
      assert.deepEqual([...diff], [...a].map((x, k) => x - b[k]!));
    });
    const after = await stats('simple_batched');
    assert.equal(after.inference_count - before.inference_count, clients);
    assert.ok(after.execution_count - before.execution_count < clients);
  });

  it('a full queue answers at once with 503 / UNAVAILABLE "Exceeds maximum queue size"', async () => {
    const replies = await Promise.all([1, 2, 3, 4].map((i) => slowInfer('slow_limited', [i, i, i])));
    const refused = replies.filter((reply) => reply.status === 503);
    assert.ok(refused.length >= 1, `statuses ${replies.map((r) => r.status).join(',')}`);
    assert.ok(replies.some((reply) => reply.status === 200));
    for (const reply of refused) assert.deepEqual(reply.json, { error: 'Exceeds maximum queue size' });

    const calls = await Promise.allSettled(
      [1, 2, 3, 4].map((i) =>
        grpc.call('modelInfer', {
          modelName: 'slow_limited',
          id: `g${i}`,
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 2n] } as ModelInferRequest_InferInputTensor],
          rawInputContents: [new Uint8Array(new Float32Array([i, i]).buffer)],
        }),
      ),
    );
    const failures = calls.filter((call) => call.status === 'rejected').map((call) => call.reason as GrpcCallError);
    assert.ok(failures.length >= 1);
    for (const failure of failures) {
      assert.equal(failure.code, 14, 'UNAVAILABLE');
      assert.match(failure.details, /^\[request id: g\d\] Exceeds maximum queue size$/);
    }
    assert.ok((await stats('slow_limited')).batcher_stats!.rejected_queue_full >= 2);
  });

  it('a request that waits past its queue timeout is rejected with 503 "Request timeout expired"', async () => {
    // Shapes differ, so the late request never joins the blocker's batch: it waits out the
    // blocker's ~20 ms run, past its 5 ms timeout.
    const blocker = slowInfer('slow_timeout', [1, 2]);
    await sleep(3);
    const late = await slowInfer('slow_timeout', [3, 4, 5]);
    assert.equal(late.status, 503);
    assert.deepEqual(late.json, { error: 'Request timeout expired' });
    assert.equal((await blocker).status, 200);
  });

  it('the priority parameter: a higher-priority request queued later runs first (HTTP and gRPC)', async () => {
    const finished: string[] = [];
    const track = <T>(name: string, call: Promise<T>) => call.then((value) => (finished.push(name), value));
    const blocker = track('blocker', slowInfer('slow_priority', [0]));
    await sleep(3);
    const low = track('low', slowInfer('slow_priority', [1], { priority: 2 }));
    await sleep(3);
    const high = track(
      'high',
      grpc.call('modelInfer', {
        modelName: 'slow_priority',
        parameters: { priority: { parameterChoice: { case: 'uint64Param', value: 1n } } },
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 1n] } as ModelInferRequest_InferInputTensor],
        rawInputContents: [new Uint8Array(new Float32Array([2]).buffer)],
      }),
    );
    await Promise.all([blocker, low, high]);
    assert.deepEqual(finished, ['blocker', 'high', 'low']);
  });

  it('a queued request whose client went away (HTTP socket closed, gRPC deadline) is dropped, counted and never executed', async () => {
    // Warm first (the session's first run, the gRPC connection): a cold start would outlast the waits below.
    const grpcRequest = (value: number, deadlineMs?: number) =>
      grpc.call(
        'modelInfer',
        {
          modelName: 'slow_cancel',
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 1n] } as ModelInferRequest_InferInputTensor],
          rawInputContents: [new Uint8Array(new Float32Array([value]).buffer)],
        },
        undefined,
        deadlineMs === undefined ? undefined : { deadline: Date.now() + deadlineMs },
      );
    assert.equal((await slowInfer('slow_cancel', [0])).status, 200);
    await grpcRequest(0);
    const before = await stats('slow_cancel');
    // Two blockers (~20 ms each on one instance) of shapes that never batch together nor with the
    // requests below: the queue stays busy for ~40 ms, so those two are queued before they go away.
    const blockers = [[1, 1], [1, 1, 1]].map((values) => slowInfer('slow_cancel', values));
    await sleep(5);
    // HTTP: the client closes its socket while its request waits behind the blocker.
    const built = buildInferBody({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: [2] }] });
    const gone = httpRequest(`${base}${inferPath('slow_cancel')}`, {
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': 'application/json', ...built.headers },
    });
    gone.on('error', () => {});
    gone.end(built.body);
    await sleep(5);
    gone.destroy();
    // gRPC: an 8 ms deadline expires while the request waits.
    const expired = grpcRequest(3, 8)
      .then(
        () => assert.fail('the call should not succeed'),
        (error: GrpcCallError) => assert.equal(error.code, 4, 'DEADLINE_EXCEEDED'),
      );
    for (const blocker of blockers) assert.equal((await blocker).status, 200);
    await expired;
    await sleep(30); // had either request run, it would have finished by now
    const after = await stats('slow_cancel');
    assert.equal((after.batcher_stats?.cancelled ?? 0) - (before.batcher_stats?.cancelled ?? 0), 2);
    assert.equal(after.execution_count - before.execution_count, 2, 'only the blockers ran');
    assert.equal(after.inference_stats.fail.count - before.inference_stats.fail.count, 2);
  });
});
