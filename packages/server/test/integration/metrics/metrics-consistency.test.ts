import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelInferRequest_InferInputTensor } from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient, type GrpcCallError } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS, FIXTURE_CONFIGS, FIXTURE_MODELS } from '../../helpers/paths.js';
import { parsePrometheus, type PrometheusSamples } from './prometheus-text.js';

/**
 * One scripted workload against a real server (real sockets, real ONNX Runtime), then the
 * Prometheus metrics and the statistics extension are compared with what was sent and with each
 * other: successes, each failure reason Triton counts (REJECTED, CANCELED, BACKEND, OTHER), a
 * queue-full refusal Triton does not count, a batched request, a cache miss and hit, an ensemble.
 */
const ONE = 'instance_group [ { kind: KIND_CPU count: 1 } ]';

function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-metrics-'));
  const variant = (source: string, from: string, name: string, extra: string): void => {
    cpSync(join(source, from), join(dir, name), { recursive: true });
    const config = readFileSync(join(dir, name, 'config.pbtxt'), 'utf8').replace(`name: "${from}"`, `name: "${name}"`);
    writeFileSync(join(dir, name, 'config.pbtxt'), `${config}\n${extra}\n`);
  };
  symlinkSync(join(EXAMPLE_MODELS, 'simple'), join(dir, 'simple'));
  symlinkSync(join(FIXTURE_MODELS, 'runtime_error'), join(dir, 'runtime_error'));
  variant(EXAMPLE_MODELS, 'simple', 'simple_cached', 'response_cache { enable: true }');
  variant(EXAMPLE_MODELS, 'simple', 'simple_buckets', readFileSync(join(FIXTURE_CONFIGS, 'metrics-histogram.pbtxt'), 'utf8'));
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_timeout', `${ONE}\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 5000 } }`);
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_cancel', `${ONE}\ndynamic_batching { }`);
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_limited', `${ONE}\ndynamic_batching { default_queue_policy { max_queue_size: 1 } }`);
  variant(FIXTURE_MODELS, 'slow_identity', 'slow_single', ONE);
  const ensemble = (name: string, member: string, datatype: string, dims: string, inputs: string[], outputs: string[], maxBatchSize: number): void => {
    mkdirSync(join(dir, name, '1'), { recursive: true });
    const tensor = (tensorName: string): string => `{ name: "${tensorName}" data_type: ${datatype} dims: [ ${dims} ] }`;
    const maps = [...inputs.map((n) => `input_map { key: "${n}" value: "${n}" }`), ...outputs.map((n) => `output_map { key: "${n}" value: "${n}" }`)];
    writeFileSync(
      join(dir, name, 'config.pbtxt'),
      `name: "${name}"\nplatform: "ensemble"\nmax_batch_size: ${maxBatchSize}\n` +
        `input [ ${inputs.map(tensor).join(', ')} ]\noutput [ ${outputs.map(tensor).join(', ')} ]\n` +
        `ensemble_scheduling { step [ { model_name: "${member}" model_version: -1 ${maps.join(' ')} } ] }\n`,
    );
  };
  ensemble('ensemble_simple', 'simple', 'TYPE_INT32', '16', ['INPUT0', 'INPUT1'], ['OUTPUT0', 'OUTPUT1'], 8);
  ensemble('ensemble_error', 'runtime_error', 'TYPE_FP32', '-1', ['INPUT0'], ['OUTPUT0'], 4);
  return dir;
}

interface Duration {
  count: number;
  ns: number;
}
interface ModelStats {
  name: string;
  version: string;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output' | 'cache_hit' | 'cache_miss', Duration>;
  memory_usage: { type: string; id: number; byte_size: number }[];
}

const ints = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => i + k);

describe('metrics and statistics after one known workload', () => {
  let repository = '';
  let server: RunningServer;
  let base = '';
  let metricsBase = '';
  let grpc: InferenceGrpcClient;

  before(async () => {
    repository = buildRepository();
    server = await startServer({
      modelRepositories: [repository],
      modelControlMode: 'explicit',
      startupModels: ['*'],
      cacheConfig: new Map([['local', new Map([['size', String(1 << 20)]])]]),
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      metrics: { port: 0, config: new Map([['histogram_latencies', 'true'], ['summary_latencies', 'true']]) },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
    metricsBase = `http://127.0.0.1:${server.metrics?.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc?.port}`);
    await grpc.call('serverReady', {}); // the channel is up before a 5 ms deadline is relied on
  });
  after(async () => {
    grpc.close();
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  const scrape = async (): Promise<PrometheusSamples> => {
    const reply = await httpCall(metricsBase, 'GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    return parsePrometheus(reply.body.toString());
  };
  const stats = async (model: string): Promise<ModelStats> =>
    (replyJson(await httpCall(base, 'GET', `/v2/models/${model}/stats`)) as { model_stats: ModelStats[] }).model_stats[0]!;
  const simple = (model: string, k: number, batch = 1) =>
    postInfer(base, model, {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [batch, 16], data: ints(16 * batch, k) },
        { name: 'INPUT1', datatype: 'INT32', shape: [batch, 16], data: ints(16 * batch, 1) },
      ],
    });
  const fp32 = (model: string, values: number[]) =>
    postInfer(base, model, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, values.length], data: values }] });

  it('runs the workload and every counter agrees with what was sent and with the statistics', async () => {
    // Successes, one of them a batch of 2, and a malformed request (refused before the model: not counted).
    for (let k = 0; k < 3; k++) assert.equal((await simple('simple', k)).status, 200);
    assert.equal((await simple('simple', 5, 2)).status, 200);
    assert.equal((await postInfer(base, 'simple', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] })).status, 400);
    // BACKEND: ONNX Runtime fails four elements (three work).
    assert.equal((await fp32('runtime_error', [1, 2, 3, 4])).status, 500);
    assert.equal((await fp32('runtime_error', [1, 2, 3])).status, 200);
    // REJECTED: the late request waits past its 5 ms queue timeout behind the ~20 ms blocker.
    const blocker = fp32('slow_timeout', [1, 2]);
    await sleep(3);
    const late = await fp32('slow_timeout', [3, 4, 5]);
    assert.equal(late.status, 503);
    assert.deepEqual(late.json, { error: 'Request timeout expired' });
    assert.equal((await blocker).status, 200);
    // CANCELED: a gRPC deadline expires while the request waits behind another.
    const running = fp32('slow_cancel', [1]);
    await sleep(3);
    const expired = await grpc
      .call(
        'modelInfer',
        {
          modelName: 'slow_cancel',
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 1n] } as ModelInferRequest_InferInputTensor],
          rawInputContents: [new Uint8Array(new Float32Array([3]).buffer)],
        },
        undefined,
        { deadline: Date.now() + 5 },
      )
      .then(() => 0, (error: GrpcCallError) => error.code);
    assert.equal(expired, 4, 'DEADLINE_EXCEEDED');
    assert.equal((await running).status, 200);
    // A full queue: refused at once, and (as in Triton) never counted as a failure.
    const limited = await Promise.all([1, 2, 3, 4].map((i) => fp32('slow_limited', [i, i])));
    const refused = limited.filter((reply) => reply.status === 503).length;
    assert.ok(refused >= 1, `statuses ${limited.map((r) => r.status).join(',')}`);
    // The response cache: a miss, then a hit.
    assert.equal((await simple('simple_cached', 7)).status, 200);
    assert.equal((await simple('simple_cached', 7)).status, 200);
    // Ensembles: a success, and a member's backend failure (OTHER for the ensemble).
    assert.equal((await simple('ensemble_simple', 9)).status, 200);
    assert.equal((await fp32('ensemble_error', [1, 2, 3, 4])).status, 500);
    assert.equal((await simple('simple_buckets', 1)).status, 200);
    await sleep(30); // a cancelled request would have finished by now had it run

    const m = await scrape();
    const expected: Record<string, { success: number; fail: Partial<Record<string, number>>; inferences: number; executions?: number }> = {
      simple: { success: 5, fail: {}, inferences: 6, executions: 5 }, // 3 + 1 batch of 2 + the ensemble's step
      runtime_error: { success: 1, fail: { BACKEND: 2 }, inferences: 1 }, // + the ensemble's failing step
      slow_timeout: { success: 1, fail: { REJECTED: 1 }, inferences: 1 },
      slow_cancel: { success: 1, fail: { CANCELED: 1 }, inferences: 1, executions: 1 },
      slow_limited: { success: 4 - refused, fail: {}, inferences: 4 - refused },
      simple_cached: { success: 2, fail: {}, inferences: 1, executions: 1 },
      ensemble_simple: { success: 1, fail: {}, inferences: 1 },
      ensemble_error: { success: 0, fail: { OTHER: 1 }, inferences: 0 },
      simple_buckets: { success: 1, fail: {}, inferences: 1 },
    };
    for (const [model, want] of Object.entries(expected)) {
      const labels = { model, version: '1' };
      const s = await stats(model);
      const i = s.inference_stats;
      assert.equal(m.value('nv_inference_request_success', labels), want.success, `${model} success`);
      assert.equal(i.success.count, want.success, `${model} statistics success`);
      for (const reason of ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']) {
        assert.equal(m.value('nv_inference_request_failure', { ...labels, reason }), want.fail[reason] ?? 0, `${model} ${reason}`);
      }
      assert.equal(i.fail.count, Object.values(want.fail).reduce<number>((a, b) => a + (b ?? 0), 0), `${model} statistics fail`);
      assert.equal(m.value('nv_inference_count', labels), want.inferences, `${model} inferences`);
      assert.equal(s.inference_count, want.inferences);
      assert.equal(m.value('nv_inference_exec_count', labels), s.execution_count, `${model} executions`);
      if (want.executions !== undefined) assert.equal(s.execution_count, want.executions, `${model} executions sent`);
      const us = (d: Duration): number => Math.trunc(d.ns / 1000);
      assert.equal(m.value('nv_inference_request_duration_us', labels), us(i.success));
      assert.equal(m.value('nv_inference_queue_duration_us', labels), us(i.queue));
      assert.equal(m.value('nv_inference_compute_input_duration_us', labels), us(i.compute_input));
      assert.equal(m.value('nv_inference_compute_infer_duration_us', labels), us(i.compute_infer));
      assert.equal(m.value('nv_inference_compute_output_duration_us', labels), us(i.compute_output));
      assert.equal(m.value('nv_inference_pending_request_count', labels), 0);
      assert.ok(m.value('nv_model_load_duration_secs', labels)! > 0, `${model} load duration`);
      // Every counted request got one first response; summaries observe successes only.
      assert.equal(m.value('nv_inference_first_response_histogram_ms_count', labels), i.success.count + i.fail.count, `${model} histogram`);
      // (a summary series appears with its first observation)
      assert.equal(m.value('nv_inference_queue_summary_us_count', labels) ?? 0, i.success.count, `${model} queue summary`);
    }

    // Cache metrics exist only for the model that caches, and match its statistics.
    const cached = (await stats('simple_cached')).inference_stats;
    const c = { model: 'simple_cached', version: '1' };
    assert.equal(m.value('nv_cache_num_hits_per_model', c), 1);
    assert.equal(m.value('nv_cache_num_misses_per_model', c), 1);
    assert.equal(m.value('nv_cache_hit_duration_per_model', c), Math.trunc(cached.cache_hit.ns / 1000));
    assert.equal(m.value('nv_cache_miss_duration_per_model', c), Math.trunc(cached.cache_miss.ns / 1000));
    assert.equal(m.value('nv_cache_hit_summary_per_model_count', c), 1);
    assert.equal(m.value('nv_inference_request_summary_us_count', c), undefined, 'no request summary with the cache (Triton)');
    assert.equal(m.value('nv_cache_num_hits_per_model', { model: 'simple', version: '1' }), undefined);

    // model_metrics buckets for one model, Triton's defaults for the others.
    assert.deepEqual(m.buckets('nv_inference_first_response_histogram_ms', { model: 'simple_buckets', version: '1' }), ['0.5', '2', '10', '50.25', '+Inf']);
    assert.deepEqual(m.buckets('nv_inference_first_response_histogram_ms', { model: 'simple', version: '1' }), ['100', '500', '2000', '5000', '+Inf']);

    // CPU metrics from /proc.
    const utilization = m.value('nv_cpu_utilization', {})!;
    assert.ok(utilization >= 0 && utilization <= 1);
    assert.ok(m.value('nv_cpu_memory_total_bytes', {})! >= m.value('nv_cpu_memory_used_bytes', {})!);
    assert.ok(m.value('nv_cpu_memory_used_bytes', {})! > 0);
    assert.equal(m.help('nv_inference_request_failure'), 'Number of failed inference requests, all batch sizes');
    assert.equal(m.type('nv_inference_pending_request_count'), 'gauge');
  });

  it('the pending count is the requests waiting, not the one executing', async () => {
    // One instance, ~20 ms a run, no batching: 8 requests take ~160 ms, one at a time.
    let done = false;
    const calls = Promise.all(Array.from({ length: 8 }, (_, i) => fp32('slow_single', [i]))).finally(() => (done = true));
    const seen: number[] = [];
    while (!done) {
      seen.push((await scrape()).value('nv_inference_pending_request_count', { model: 'slow_single', version: '1' })!);
      await sleep(2);
    }
    await calls;
    // Some were seen waiting; never all eight, since one of them is always executing.
    assert.ok(Math.max(...seen) >= 1 && Math.max(...seen) <= 7, `pending seen: ${seen.join(',')}`);
    assert.equal((await scrape()).value('nv_inference_pending_request_count', { model: 'slow_single', version: '1' }), 0);
  });

  it('memory_usage reports the weights in CPU memory over HTTP and gRPC', async () => {
    const bytes = statSync(join(EXAMPLE_MODELS, 'simple', '1', 'model.onnx')).size;
    assert.deepEqual((await stats('simple')).memory_usage, [{ type: 'CPU', id: 0, byte_size: bytes }]);
    const reply = await grpc.call('modelStatistics', { name: 'simple', version: '' });
    assert.deepEqual(
      reply.modelStats[0]!.memoryUsage.map((usage) => [usage.type, usage.id, usage.byteSize]),
      [['CPU', 0n, BigInt(bytes)]],
    );
    assert.deepEqual((await stats('ensemble_simple')).memory_usage, []);
  });

  it("an unloaded model's series disappear, histograms included", async () => {
    assert.notEqual((await scrape()).value('nv_inference_request_success', { model: 'simple_buckets', version: '1' }), undefined);
    assert.equal((await httpCall(base, 'POST', '/v2/repository/models/simple_buckets/unload')).status, 200);
    const text = (await httpCall(metricsBase, 'GET', '/metrics')).body.toString();
    assert.doesNotMatch(text, /model="simple_buckets"/);
    assert.match(text, /model="simple"/);
  });

  it('a metrics port in use fails start-up with Triton\'s text', async () => {
    const taken = server.metrics!.port;
    await assert.rejects(
      startServer({
        modelRepositories: [repository],
        modelControlMode: 'explicit',
        http: { port: 0, address: '127.0.0.1' },
        grpc: { allow: false },
        metrics: { port: taken, address: '127.0.0.1' },
        logger: silentLogger,
      }),
      { code: 'UNAVAILABLE', message: `Socket '127.0.0.1:${taken}' already in use ` },
    );
  });

  it('the endpoint answers only GET (405 otherwise, as Triton), and an empty 200 off /metrics', async () => {
    const post = await httpCall(metricsBase, 'POST', '/metrics');
    assert.equal(post.status, 405);
    assert.deepEqual(replyJson(post), { error: 'Method Not Allowed' });
    const other = await httpCall(metricsBase, 'GET', '/v2/health/ready');
    assert.equal(other.status, 200);
    assert.equal(other.body.length, 0);
    assert.equal((await httpCall(metricsBase, 'GET', '/metrics/')).status, 200);
  });
});
