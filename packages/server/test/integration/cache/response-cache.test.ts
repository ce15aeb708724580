import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import type { ModelStatistics } from '../../../src/metrics/statistics-types.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { GrpcTransport } from '../../conformance/grpc-transport.js';
import { HttpTransport } from '../../conformance/http-transport.js';
import { TransportError, type InferCall, type Transport, type WireTensor } from '../../conformance/transport.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS, FIXTURE_MODELS, REPO_ROOT } from '../../helpers/paths.js';

const ENABLE = '\nresponse_cache { enable: true }\n';

/**
 * A repository of real ONNX models with the response cache on: `simple_cached` (simple),
 * `identity_fp32_cached`, `identity_bytes_cached`, `runtime_error_cached` (fails inside ONNX Runtime
 * when INPUT0's element count is not a multiple of 3); plus `simple`, which does not enable it.
 */
function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-cache-'));
  const cached = (source: string, name: string, from: string) => {
    cpSync(join(source, from), join(dir, name), { recursive: true });
    const config = readFileSync(join(dir, name, 'config.pbtxt'), 'utf8').replace(`name: "${from}"`, `name: "${name}"`);
    writeFileSync(join(dir, name, 'config.pbtxt'), config + ENABLE);
  };
  cached(EXAMPLE_MODELS, 'simple_cached', 'simple');
  cached(FIXTURE_MODELS, 'identity_fp32_cached', 'identity_fp32');
  cached(FIXTURE_MODELS, 'identity_bytes_cached', 'identity_bytes');
  symlinkSync(join(EXAMPLE_MODELS, 'simple'), join(dir, 'simple'));
  mkdirSync(join(dir, 'runtime_error_cached'));
  symlinkSync(join(FIXTURE_MODELS, 'runtime_error', '1'), join(dir, 'runtime_error_cached', '1'));
  // Auto-complete fills in the tensors; the config only names the model and turns the cache on.
  writeFileSync(join(dir, 'runtime_error_cached', 'config.pbtxt'), `name: "runtime_error_cached"\nplatform: "onnxruntime_onnx"${ENABLE}`);
  return dir;
}

async function start(repository: string, cacheBytes: number): Promise<RunningServer> {
  return startServer({
    modelRepositories: [repository],
    http: { port: 0, address: '127.0.0.1' },
    grpc: { port: 0, address: '127.0.0.1' },
    cacheConfig: new Map([['local', new Map([['size', String(cacheBytes)]])]]),
    allowClientShm: true,
    logger: silentLogger,
  });
}

async function statistics(server: RunningServer, model: string): Promise<ModelStatistics> {
  const reply = await httpCall(`http://127.0.0.1:${server.http!.port}`, 'GET', `/v2/models/${model}/stats`);
  assert.equal(reply.status, 200, reply.body.toString());
  return (replyJson(reply) as { model_stats: ModelStatistics[] }).model_stats[0]!;
}

/** What changed in the counters the cache touches between two snapshots. */
function counted(before: ModelStatistics, after: ModelStatistics) {
  const delta = (pick: (s: ModelStatistics) => number) => pick(after) - pick(before);
  return {
    hits: delta((s) => s.inference_stats.cache_hit.count),
    misses: delta((s) => s.inference_stats.cache_miss.count),
    success: delta((s) => s.inference_stats.success.count),
    fail: delta((s) => s.inference_stats.fail.count),
    queue: delta((s) => s.inference_stats.queue.count),
    computeInfer: delta((s) => s.inference_stats.compute_infer.count),
    inferences: delta((s) => s.inference_count),
    executions: delta((s) => s.execution_count),
  };
}

const int32 = (values: readonly number[]): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
const fp32 = (values: readonly number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
const readInt32 = (data: Uint8Array): number[] => Array.from(new Int32Array(Uint8Array.from(data).buffer));
const readFp32 = (data: Uint8Array): number[] => Array.from(new Float32Array(Uint8Array.from(data).buffer));
const series = (start: number, length = 16): number[] => Array.from({ length }, (_, i) => start + i);

function simpleCall(model: string, a: readonly number[], b: readonly number[], outputs?: InferCall['outputs']): InferCall {
  return {
    model,
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(a) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(b) },
    ],
    ...(outputs === undefined ? {} : { outputs }),
  };
}

/** The outputs by name, as plain values, for comparing two responses. */
function outputsOf(result: { outputs: readonly WireTensor[] }): Record<string, { datatype: string; shape: readonly number[]; bytes: number[] }> {
  return Object.fromEntries(result.outputs.map((o) => [o.name, { datatype: o.datatype, shape: o.shape, bytes: [...o.data] }]));
}

describe('response cache over HTTP and gRPC (1 MiB local cache)', () => {
  let repository: string;
  let server: RunningServer;
  let transports: Transport[];

  before(async () => {
    repository = buildRepository();
    server = await start(repository, 1024 * 1024);
    transports = [new HttpTransport(server.http!.port), new GrpcTransport(server.grpc!.port)];
  });

  after(async () => {
    for (const transport of transports) await transport.close();
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  test('a repeated request is a hit: identical outputs, no execution, counted as cache_hit and success', async () => {
    for (const [i, t] of transports.entries()) {
      const call = simpleCall('simple_cached', series(100 * i), series(1000 + 100 * i));
      const before = await statistics(server, 'simple_cached');
      const first = await t.infer(call);
      const mid = await statistics(server, 'simple_cached');
      const second = await t.infer({ ...call, id: 'again' });
      const after = await statistics(server, 'simple_cached');
      assert.deepEqual(readInt32(first.outputs.find((o) => o.name === 'OUTPUT0')!.data), series(100 * i).map((v, k) => v + 1000 + 100 * i + k));
      assert.deepEqual(outputsOf(second), outputsOf(first), t.name);
      assert.equal(second.id, 'again', 'a hit answers with its own request id');
      assert.deepEqual(counted(before, mid), { hits: 0, misses: 1, success: 1, fail: 0, queue: 1, computeInfer: 1, inferences: 1, executions: 1 });
      assert.deepEqual(counted(mid, after), { hits: 1, misses: 0, success: 1, fail: 0, queue: 1, computeInfer: 0, inferences: 0, executions: 0 });
      assert.ok(after.inference_stats.cache_hit.ns > mid.inference_stats.cache_hit.ns, 'lookup time is recorded');
      assert.ok(mid.inference_stats.cache_miss.ns > before.inference_stats.cache_miss.ns, 'lookup + insert time is recorded');
    }
  });

  test('the same bytes hit across transports; gRPC statistics carry cache_hit and cache_miss', async () => {
    const [http, grpc] = transports as [Transport, Transport];
    const call = simpleCall('simple_cached', series(5000), series(6000));
    const before = await statistics(server, 'simple_cached');
    const first = await http.infer(call);
    const second = await grpc.infer(call);
    assert.deepEqual(outputsOf(second), outputsOf(first));
    assert.deepEqual(counted(before, await statistics(server, 'simple_cached')).hits, 1);
    const client = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
    try {
      const reply = await client.call('modelStatistics', { name: 'simple_cached', version: '1' });
      const stats = reply.modelStats[0]!.inferenceStats!;
      const http = await statistics(server, 'simple_cached');
      assert.equal(Number(stats.cacheHit!.count), http.inference_stats.cache_hit.count);
      assert.equal(Number(stats.cacheMiss!.count), http.inference_stats.cache_miss.count);
      assert.ok(Number(stats.cacheHit!.count) >= 3);
    } finally {
      client.close();
    }
  });

  test('which outputs were asked for is part of the key; output parameters apply per request', async () => {
    const t = transports[0]!;
    const a = series(7000);
    const b = series(8000);
    const before = await statistics(server, 'simple_cached');
    const only0 = await t.infer(simpleCall('simple_cached', a, b, [{ name: 'OUTPUT0' }]));
    assert.deepEqual(only0.outputs.map((o) => o.name), ['OUTPUT0']);
    // Both outputs: a miss, not OUTPUT0 alone from the entry above.
    const both = await t.infer(simpleCall('simple_cached', a, b));
    assert.deepEqual(both.outputs.map((o) => o.name).sort(), ['OUTPUT0', 'OUTPUT1']);
    assert.deepEqual(readInt32(both.outputs.find((o) => o.name === 'OUTPUT1')!.data), a.map((v, k) => v - b[k]!));
    const only1 = await t.infer(simpleCall('simple_cached', a, b, [{ name: 'OUTPUT1' }]));
    assert.deepEqual(only1.outputs.map((o) => o.name), ['OUTPUT1']);
    // The same set in another order, and OUTPUT0 classified: hits, shaped for this request.
    const reordered = await t.infer(simpleCall('simple_cached', a, b, [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }]));
    assert.deepEqual(reordered.outputs.map((o) => o.name), ['OUTPUT1', 'OUTPUT0']);
    const classified = await t.infer(simpleCall('simple_cached', a, b, [{ name: 'OUTPUT0', parameters: { classification: 2 } }]));
    const top = decodeBytesElements(classified.outputs[0]!.data, 2).map((e) => Buffer.from(e).toString());
    assert.equal(classified.outputs[0]!.datatype, 'BYTES');
    assert.deepEqual(top, [`${a[15]! + b[15]!}:15`, `${a[14]! + b[14]!}:14`]);
    const c = counted(before, await statistics(server, 'simple_cached'));
    assert.deepEqual([c.misses, c.hits, c.executions], [3, 2, 3]);
  });

  test('a model that does not enable response_cache is never cached, on a server with a cache', async () => {
    const t = transports[1]!;
    const call = simpleCall('simple', series(1), series(2));
    const before = await statistics(server, 'simple');
    await t.infer(call);
    await t.infer(call);
    const c = counted(before, await statistics(server, 'simple'));
    assert.deepEqual([c.hits, c.misses, c.executions, c.success], [0, 0, 2, 2]);
  });

  test('a failed request is not cached: the same request runs (and fails) again', async () => {
    for (const [i, t] of transports.entries()) {
      const failing: InferCall = { model: 'runtime_error_cached', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: fp32([1, 2, 3, 4]) }] };
      const before = await statistics(server, 'runtime_error_cached');
      for (let i = 0; i < 2; i++) {
        await assert.rejects(t.infer(failing), (error: unknown) => error instanceof TransportError && error.code === 'INTERNAL');
      }
      const mid = await statistics(server, 'runtime_error_cached');
      // Both ran in the backend (two executions), neither became an entry.
      assert.deepEqual(counted(before, mid), { hits: 0, misses: 0, success: 0, fail: 2, queue: 0, computeInfer: 0, inferences: 0, executions: 2 });
      // The same model succeeds for three elements, and that answer is cached.
      const working: InferCall = { model: 'runtime_error_cached', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: fp32([i, 2, 3]) }] };
      const first = await t.infer(working);
      const second = await t.infer(working);
      assert.deepEqual(outputsOf(second), outputsOf(first));
      assert.deepEqual(readFp32(second.outputs[0]!.data), [i, 2, 3]);
      const c = counted(mid, await statistics(server, 'runtime_error_cached'));
      assert.deepEqual([c.misses, c.hits, c.fail], [1, 1, 0]);
    }
  });

  test('BYTES inputs: the same strings hit, other strings (even the same bytes split otherwise) miss', async () => {
    for (const t of transports) {
      const strings = (elements: string[]): InferCall => ({
        model: 'identity_bytes_cached',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, elements.length], data: encodeBytesElements(elements.map((e) => Buffer.from(e))) }],
      });
      const words = [`${t.name}-alpha`, 'béta', ''];
      const before = await statistics(server, 'identity_bytes_cached');
      const first = await t.infer(strings(words));
      const second = await t.infer(strings(words));
      const decoded = decodeBytesElements(second.outputs[0]!.data, 3).map((e) => Buffer.from(e).toString());
      assert.deepEqual(decoded, words);
      assert.deepEqual(outputsOf(second), outputsOf(first));
      const split = await t.infer(strings([`${t.name}-alph`, 'abéta', '']));
      assert.deepEqual(decodeBytesElements(split.outputs[0]!.data, 3).map((e) => Buffer.from(e).toString()), [`${t.name}-alph`, 'abéta', '']);
      const c = counted(before, await statistics(server, 'identity_bytes_cached'));
      assert.deepEqual([c.misses, c.hits, c.executions], [2, 1, 2]);
    }
  });

  test('shared-memory inputs key by the region\'s current bytes; a hit writes its output to shared memory', async () => {
    for (const [i, t] of transports.entries()) {
      // Other values per transport: the cache is server-wide, so the same bytes would hit.
      const [in0, in1, changed0] = [series(300 + 10_000 * i), series(400 + 10_000 * i), series(900 + 10_000 * i)];
      const key = `/nereid-cache-${t.name}-${process.pid}`;
      const path = `/dev/shm${key}`;
      const region = Buffer.alloc(256);
      Buffer.from(int32(in0)).copy(region, 0);
      Buffer.from(int32(in1)).copy(region, 64);
      writeFileSync(path, region);
      try {
        await t.registerSystemShm('cache_region', key, 0, 256);
        const call: InferCall = {
          model: 'simple_cached',
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'cache_region', shared_memory_byte_size: 64 } },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'cache_region', shared_memory_offset: 64, shared_memory_byte_size: 64 } },
          ],
          outputs: [
            { name: 'OUTPUT0', parameters: { shared_memory_region: 'cache_region', shared_memory_offset: 128, shared_memory_byte_size: 64 } },
            { name: 'OUTPUT1' },
          ],
        };
        const before = await statistics(server, 'simple_cached');
        await t.infer(call);
        assert.deepEqual(readInt32(readFileSync(path).subarray(128, 192)), in0.map((v, k) => v + in1[k]!));
        // Clear the output area: the hit must write it again.
        writeFileSync(path, readFileSync(path).fill(0, 128, 192));
        const hit = await t.infer(call);
        assert.deepEqual(readInt32(readFileSync(path).subarray(128, 192)), in0.map((v, k) => v + in1[k]!));
        assert.deepEqual(readInt32(hit.outputs.find((o) => o.name === 'OUTPUT1')!.data), in0.map((v, k) => v - in1[k]!));
        // New bytes in the same region and offsets: a miss with the new answer.
        const changed = readFileSync(path);
        Buffer.from(int32(changed0)).copy(changed, 0);
        writeFileSync(path, changed);
        const miss = await t.infer(call);
        assert.deepEqual(readInt32(readFileSync(path).subarray(128, 192)), changed0.map((v, k) => v + in1[k]!));
        assert.deepEqual(readInt32(miss.outputs.find((o) => o.name === 'OUTPUT1')!.data), changed0.map((v, k) => v - in1[k]!));
        const c = counted(before, await statistics(server, 'simple_cached'));
        assert.deepEqual([c.misses, c.hits, c.executions], [2, 1, 2]);
      } finally {
        await t.unregisterSystemShm('cache_region').catch(() => undefined);
        unlinkSync(path);
      }
    }
  });
});

describe('response cache eviction (a cache that holds three identity_fp32 answers)', () => {
  /** identity_fp32 with [1, 256] FP32: 1024 bytes of data + 'OUTPUT0' + 'FP32' + two dimensions. */
  const ENTRY_BYTES = 1024 + 7 + 4 + 16;
  let repository: string;
  let server: RunningServer;
  let t: Transport;

  before(async () => {
    repository = buildRepository();
    server = await start(repository, 3 * ENTRY_BYTES + 500);
    t = new HttpTransport(server.http!.port);
  });

  after(async () => {
    await t.close();
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  const call = (seed: number, length = 256): InferCall => ({
    model: 'identity_fp32_cached',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, length], data: fp32(series(seed, length)) }],
  });

  /** Sends each request; returns which were hits, read from the statistics. */
  async function hits(seeds: readonly number[], length = 256): Promise<boolean[]> {
    const result: boolean[] = [];
    for (const seed of seeds) {
      const before = await statistics(server, 'identity_fp32_cached');
      const reply = await t.infer(call(seed, length));
      assert.deepEqual(readFp32(reply.outputs[0]!.data), series(seed, length));
      result.push(counted(before, await statistics(server, 'identity_fp32_cached')).hits === 1);
    }
    return result;
  }

  test('least recently used first; an answer larger than the cache is never stored and evicts nothing', async () => {
    const [A, B, C, D] = [1, 2, 3, 4];
    assert.deepEqual(await hits([A, B, C]), [false, false, false]);
    assert.deepEqual(await hits([A]), [true]); // B is now the least recently used
    assert.deepEqual(await hits([D]), [false]); // evicts B
    assert.deepEqual(await hits([A, C, D]), [true, true, true]);
    // 4 KiB of output: larger than the whole cache.
    assert.deepEqual(await hits([99, 99], 1024), [false, false]);
    assert.deepEqual(await hits([A, C, D]), [true, true, true]);
    assert.deepEqual(await hits([B]), [false]);
    const stats = await statistics(server, 'identity_fp32_cached');
    assert.equal(stats.inference_stats.cache_hit.count, 7);
    assert.equal(stats.inference_stats.cache_miss.count, 7);
    assert.equal(stats.execution_count, 7);
  });
});

test('a cache other than local fails start-up, naming the flag; a model may enable the cache on a server without one', async () => {
  const repository = buildRepository();
  try {
    await assert.rejects(
      startServer({
        modelRepositories: [repository],
        http: { allow: false },
        grpc: { allow: false },
        cacheConfig: new Map([['redis', new Map([['host', 'localhost']])]]),
        logger: silentLogger,
      }),
      /--cache-config: cache 'redis' is not supported/,
    );
    const bin = join(REPO_ROOT, 'packages', 'server', 'bin', 'nereid.js');
    const cli = spawnSync(process.execPath, [bin, '--model-repository', repository, '--http-port=0', '--allow-grpc=false', '--cache-config', 'redis,host=localhost'], { encoding: 'utf8' });
    assert.equal(cli.status, 1);
    assert.match(cli.stdout + cli.stderr, /--cache-config: cache 'redis' is not supported/);
    // No --cache-config: the models that enable the cache load and run uncached (Triton: both must be on).
    const plain = await startServer({ modelRepositories: [repository], http: { port: 0, address: '127.0.0.1' }, grpc: { allow: false }, logger: silentLogger });
    try {
      const http = new HttpTransport(plain.http!.port);
      const request = simpleCall('simple_cached', series(1), series(2));
      await http.infer(request);
      await http.infer(request);
      const stats = await statistics(plain, 'simple_cached');
      assert.deepEqual([stats.inference_stats.cache_hit.count, stats.inference_stats.cache_miss.count, stats.execution_count], [0, 0, 2]);
      await http.close();
    } finally {
      await plain.close();
    }
  } finally {
    keepAliveAgent.destroy();
    rmSync(repository, { recursive: true, force: true });
  }
});
