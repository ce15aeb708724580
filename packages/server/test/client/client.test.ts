import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  GrpcClient,
  GrpcStatus,
  HttpClient,
  InferenceServerError,
  bytesToStrings,
  fromBFloat16Array,
  fromFloat16Array,
  parseClassifications,
  toBFloat16Array,
  toFloat16Array,
  type Datatype,
  type InferInput,
  type InferenceClient,
  type OutputData,
} from '@nereid/client';
import { DATATYPE_MODELS } from '../helpers/test-repository.js';
import { EXAMPLE_MODELS } from '../helpers/paths.js';
import { ClientTestServer } from './client-server.js';

/** The values each datatype round-trips through its identity model: extremes included, as the TypedArray the client returns. */
const SAMPLES: Record<Datatype, { input: InferInput['data']; expected: OutputData }> = {
  BOOL: { input: [true, false, true, true], expected: new Uint8Array([1, 0, 1, 1]) },
  UINT8: { input: new Uint8Array([0, 1, 128, 255]), expected: new Uint8Array([0, 1, 128, 255]) },
  UINT16: { input: new Uint16Array([0, 1, 32768, 65535]), expected: new Uint16Array([0, 1, 32768, 65535]) },
  UINT32: { input: new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 1]), expected: new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 1]) },
  UINT64: { input: new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 1n]), expected: new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 1n]) },
  INT8: { input: new Int8Array([-128, -1, 0, 127]), expected: new Int8Array([-128, -1, 0, 127]) },
  INT16: { input: new Int16Array([-32768, -1, 0, 32767]), expected: new Int16Array([-32768, -1, 0, 32767]) },
  INT32: { input: new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]), expected: new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]) },
  INT64: { input: new BigInt64Array([-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n]), expected: new BigInt64Array([-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n]) },
  // Bit patterns: 1.0, -2.0, the smallest subnormal, a NaN payload: exact, not via float32.
  FP16: { input: new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7e01]), expected: new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7e01]) },
  BF16: { input: new Uint16Array([0x3f80, 0xc000, 0x0001, 0x7f7f]), expected: new Uint16Array([0x3f80, 0xc000, 0x0001, 0x7f7f]) },
  FP32: { input: new Float32Array([-1.5, 0, 3.4028234663852886e38, 1e-45]), expected: new Float32Array([-1.5, 0, 3.4028234663852886e38, 1e-45]) },
  FP64: { input: new Float64Array([-1.5, 0, Number.MAX_VALUE, 5e-324]), expected: new Float64Array([-1.5, 0, Number.MAX_VALUE, 5e-324]) },
  BYTES: { input: ['héllo', '', 'a\u0000b', 'z'], expected: ['héllo', '', 'a\u0000b', 'z'].map((s) => new TextEncoder().encode(s)) },
};

const A = Int32Array.from({ length: 16 }, (_, i) => i);
const B = new Int32Array(16).fill(1);
const simpleInputs: InferInput[] = [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B },
];

describe('@nereid/client against a real Nereid', () => {
  const server = new ClientTestServer();
  let http: HttpClient;
  let grpc: GrpcClient;

  before(async () => {
    await server.start();
    http = new HttpClient(server.httpUrl);
    grpc = new GrpcClient(server.grpcAddress);
  });
  after(async () => {
    grpc?.close();
    await server.stop();
  });

  for (const transport of ['http', 'grpc'] as const) {
    const client = (): HttpClient | GrpcClient => (transport === 'http' ? http : grpc);
    const NOT_FOUND = transport === 'http' ? 404 : GrpcStatus.NOT_FOUND;

    describe(`${transport}`, () => {
      it('health: live, ready, model ready (and not ready for an unknown model)', async () => {
        assert.equal(await client().isServerLive(), true);
        assert.equal(await client().isServerReady(), true);
        assert.equal(await client().isModelReady('simple'), true);
        assert.equal(await client().isModelReady('simple', '1'), true);
        assert.equal(await client().isModelReady('nope'), false);
      });

      it('server and model metadata, model config', async () => {
        const metadata = await client().serverMetadata();
        assert.equal(metadata.name, 'triton');
        assert.ok(metadata.extensions.includes('binary_tensor_data'), metadata.extensions.join());
        const model = await client().modelMetadata('simple');
        assert.deepEqual(model, {
          name: 'simple',
          versions: ['1'],
          platform: 'onnxruntime_onnx',
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
            { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
          ],
          outputs: [
            { name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] },
            { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] },
          ],
        });
        const config = await client().modelConfig('identity_fp16');
        assert.equal(config?.name, 'identity_fp16');
        if (transport === 'http') assert.equal((config as Record<string, unknown>)['max_batch_size'], 8);
        else assert.equal((config as { maxBatchSize: number }).maxBatchSize, 8);
      });

      it('infer: outputs by name as typed arrays with shapes; id and version echoed', async () => {
        const result = await client().infer('simple', { id: 'r1', inputs: simpleInputs });
        assert.equal(result.modelName, 'simple');
        assert.equal(result.modelVersion, '1');
        assert.equal(result.id, 'r1');
        assert.deepEqual(result.outputs['OUTPUT0']!.shape, [1, 16]);
        assert.deepEqual(result.outputs['OUTPUT0']!.data, A.map((x) => x + 1));
        assert.deepEqual(result.outputs['OUTPUT1']!.data, A.map((x) => x - 1));
        const one = await client().infer('simple', { inputs: simpleInputs, outputs: [{ name: 'OUTPUT1' }] });
        assert.deepEqual(Object.keys(one.outputs), ['OUTPUT1']);
      });

      it('every datatype round-trips through its identity model as its TypedArray', async () => {
        for (const [datatype, model] of Object.entries(DATATYPE_MODELS) as [Datatype, string][]) {
          const { input, expected } = SAMPLES[datatype];
          const result = await client().infer(model, { inputs: [{ name: 'INPUT0', datatype, shape: [1, 4], data: input! }] });
          const output = result.outputs['OUTPUT0']!;
          assert.equal(output.datatype, datatype);
          assert.deepEqual(output.shape, [1, 4]);
          assert.deepEqual(output.data, expected, datatype);
        }
      });

      it('classification: the top classes as score:index', async () => {
        const result = await client().infer('simple', { inputs: simpleInputs, outputs: [{ name: 'OUTPUT0', classCount: 3 }] });
        const output = result.outputs['OUTPUT0']!;
        assert.equal(output.datatype, 'BYTES');
        assert.deepEqual(output.shape, [1, 3]);
        assert.deepEqual(parseClassifications(output), [
          { score: 16, index: 15 },
          { score: 15, index: 14 },
          { score: 14, index: 13 },
        ]);
      });

      it('statistics and the repository index', async () => {
        await client().infer('simple', { inputs: simpleInputs });
        const stats = await client().modelStatistics('simple');
        const entry = 'model_stats' in stats ? stats.model_stats[0]! : stats.modelStats[0]!;
        const count = 'inference_count' in entry ? entry.inference_count : Number(entry.inferenceCount);
        assert.ok(count >= 1, `inference count ${count}`);
        const all = await client().modelStatistics();
        assert.ok(('model_stats' in all ? all.model_stats.length : all.modelStats.length) >= 16);
        const index = await client().repositoryIndex();
        assert.deepEqual(index.find((model) => model.name === 'simple'), { name: 'simple', version: '1', state: 'READY' });
        assert.ok(index.length >= 16);
        assert.ok((await client().repositoryIndex({ ready: true })).every((model) => model.state === 'READY'));
      });

      it('load with a config override and a file: override, then unload', async () => {
        const name = `copy_${transport}`;
        const config = JSON.stringify({ name, platform: 'onnxruntime_onnx', max_batch_size: 8 });
        await client().loadModel(name, { config, files: { '1/model.onnx': readFileSync(join(EXAMPLE_MODELS, 'simple', '1', 'model.onnx')) } });
        assert.equal(await client().isModelReady(name), true);
        const result = await client().infer(name, { inputs: simpleInputs });
        assert.deepEqual(result.outputs['OUTPUT0']!.data, A.map((x) => x + 1));
        await client().unloadModel(name);
        assert.equal(await client().isModelReady(name), false);
        await client().unloadModel('identity_int8');
        assert.equal(await client().isModelReady('identity_int8'), false);
        const entry = (await client().repositoryIndex()).find((model) => model.name === 'identity_int8');
        assert.deepEqual(entry, { name: 'identity_int8', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
        await client().loadModel('identity_int8', { config: { name: 'identity_int8', platform: 'onnxruntime_onnx', max_batch_size: 4 } });
        const reloaded = await client().modelMetadata('identity_int8');
        assert.deepEqual(reloaded.inputs[0]?.shape, [-1, -1]);
      });

      it("errors carry Triton's status and message", async () => {
        await assert.rejects(client().infer('nope', { inputs: simpleInputs }), (error: unknown) => {
          assert.ok(error instanceof InferenceServerError);
          assert.equal(error.transport, transport);
          assert.equal(error.status, NOT_FOUND);
          assert.equal(error.message, "Request for unknown model: 'nope' is not found");
          return true;
        });
        await assert.rejects(client().modelMetadata('nope'), { status: NOT_FOUND, message: "Request for unknown model: 'nope' is not found" });
        await assert.rejects(
          client().infer('simple', { inputs: [simpleInputs[0]!] }),
          (error: InferenceServerError) => error.status === (transport === 'http' ? 400 : GrpcStatus.INVALID_ARGUMENT) && /expected 2 inputs but got 1 inputs/.test(error.message),
        );
      });

      it('system shared memory: register, status, infer from and into a region, unregister', async () => {
        const key = `/nereid-client-${transport}-${process.pid}`;
        const file = join('/dev/shm', key);
        const [input, output] = [`in_${transport}`, `out_${transport}`];
        const values = new Float32Array([1.5, -2, 3.25, 4]);
        writeFileSync(file, Buffer.concat([Buffer.from(values.buffer), Buffer.alloc(16)]));
        try {
          await client().registerSystemSharedMemory(input, key, 16);
          await client().registerSystemSharedMemory(output, key, 16, 16);
          assert.deepEqual(await client().systemSharedMemoryStatus(output), [{ name: output, key, offset: 16, byteSize: 16 }]);
          assert.deepEqual((await client().systemSharedMemoryStatus()).map((region) => region.name).sort(), [input, output].sort());
          const result = await client().infer('identity_fp32', {
            inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], sharedMemory: { region: input, byteSize: 16 } }],
            outputs: [{ name: 'OUTPUT0', sharedMemory: { region: output, byteSize: 16 } }],
          });
          assert.deepEqual(result.outputs['OUTPUT0']!.shape, [1, 4]);
          assert.equal(result.outputs['OUTPUT0']!.data.length, 0, 'the data went to the region');
          const bytes = readFileSync(file);
          assert.deepEqual(new Float32Array(bytes.buffer.slice(bytes.byteOffset + 16, bytes.byteOffset + 32)), values);
          await client().unregisterSystemSharedMemory(input);
          assert.deepEqual((await client().systemSharedMemoryStatus()).map((region) => region.name), [output]);
          await client().unregisterSystemSharedMemory();
          assert.deepEqual(await client().systemSharedMemoryStatus(), []);
          await assert.rejects(client().systemSharedMemoryStatus(input), { status: NOT_FOUND, message: `Unable to find system shared memory region: '${input}'` });
        } finally {
          await client().unregisterSystemSharedMemory().catch(() => {});
          rmSync(file, { force: true });
        }
      });

      it('CUDA shared memory: none listed, a registration refused with Triton-shaped errors, unregister all', async () => {
        assert.deepEqual(await client().cudaSharedMemoryStatus(), []);
        await assert.rejects(client().cudaSharedMemoryStatus('gpu0'), { status: NOT_FOUND, message: "Unable to find cuda shared memory region: 'gpu0'" });
        await assert.rejects(client().registerCudaSharedMemory('gpu0', new Uint8Array(64), 0, 1024), {
          status: transport === 'http' ? 501 : GrpcStatus.UNIMPLEMENTED,
          message: "failed to register CUDA shared memory region 'gpu0': CUDA shared memory is not supported by this CPU-only server",
        });
        await client().unregisterCudaSharedMemory();
      });

      it('logging and trace settings: read, update, clear', async () => {
        const log = await client().logSettings();
        assert.equal(log['log_verbose_level'], 0);
        assert.equal((await client().logSettings({ log_verbose_level: 2 }))['log_verbose_level'], 2);
        assert.equal((await client().logSettings({ log_verbose_level: 0 }))['log_verbose_level'], 0);
        const trace = await client().traceSettings();
        assert.deepEqual(trace['trace_level'], ['OFF']);
        const updated = await client().traceSettings({ trace_rate: '7' }, 'simple');
        assert.equal(updated['trace_rate'], '7');
        assert.equal((await client().traceSettings(undefined, 'simple'))['trace_rate'], '7');
        const cleared = await client().traceSettings({ trace_rate: null }, 'simple');
        assert.equal(cleared['trace_rate'], trace['trace_rate']);
      });

      it('cancellation: an AbortSignal aborts a slow request with its reason', async () => {
        const controller = new AbortController();
        const pending = client().infer('slow_identity', {
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }],
          signal: controller.signal,
        });
        setTimeout(() => controller.abort(), 3);
        await assert.rejects(pending, { name: 'AbortError' });
        const early = AbortSignal.abort();
        await assert.rejects(client().isServerLive({ signal: early }), { name: 'AbortError' });
        assert.equal(await client().isServerLive(), true, 'the client still works afterwards');
      });
    });
  }

  it('either client is an InferenceClient: the same calls, the same answers', async () => {
    const clients: InferenceClient[] = [http, grpc];
    const answers = await Promise.all(clients.map(async (c) => [await c.serverMetadata(), await c.modelMetadata('identity_bytes'), await c.logSettings(), await c.traceSettings()]));
    assert.deepEqual(answers[0], answers[1]);
  });

  it('grpc.health.v1 Check', async () => {
    assert.equal(await grpc.healthCheck(), 'SERVING');
  });

  describe('grpc streaming (ModelStreamInfer)', () => {
    const repeatInput = (values: number[]): InferInput[] => [{ name: 'IN', datatype: 'INT32', shape: [values.length], data: Int32Array.from(values) }];

    it('streamInfer: every response of a decoupled model, then the iteration ends', async () => {
      const seen: Array<[number, number]> = [];
      for await (const result of grpc.streamInfer('repeat', { id: 's1', inputs: repeatInput([7, 8, 9]) })) {
        assert.equal(result.id, 's1');
        seen.push([(result.outputs['OUT']!.data as Int32Array)[0]!, (result.outputs['IDX']!.data as Uint32Array)[0]!]);
      }
      assert.deepEqual(seen, [[7, 0], [8, 1], [9, 2]]);
      const single = [];
      for await (const result of grpc.streamInfer('simple', { inputs: simpleInputs })) single.push(result);
      assert.equal(single.length, 1);
      assert.deepEqual(single[0]!.outputs['OUTPUT0']!.data, A.map((x) => x + 1));
    });

    it('an error response rejects the iteration with its message', async () => {
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const result of grpc.streamInfer('repeat', { inputs: repeatInput([1, -2]) })) seen.push((result.outputs['OUT']!.data as Int32Array)[0]!);
        })(),
        (error: InferenceServerError) => error instanceof InferenceServerError && error.message === 'negative value -2 at 1',
      );
      assert.deepEqual(seen, [1]);
    });

    it('stream(): many requests on one stream, responses interleaved with their final flags', async () => {
      const stream = grpc.stream();
      stream.send('repeat', { id: 'a', inputs: repeatInput([1, 2]) });
      stream.send('repeat', { id: 'b', inputs: repeatInput([3]) });
      stream.send('simple', { id: 'c', inputs: simpleInputs });
      stream.end();
      const byId = new Map<string, number>();
      let finals = 0;
      for await (const message of stream) {
        assert.equal(message.error, undefined);
        byId.set(message.result!.id, (byId.get(message.result!.id) ?? 0) + 1);
        if (message.final) finals++;
      }
      assert.deepEqual(Object.fromEntries(byId), { a: 2, b: 1, c: 1 });
      assert.equal(finals, 1, 'only the non-decoupled response is final without the empty-final option');
    });

    it('leaving the loop early cancels the stream', async () => {
      let count = 0;
      for await (const _ of grpc.streamInfer('repeat', { inputs: repeatInput(Array.from({ length: 5000 }, (_, i) => i)) })) if (++count === 2) break;
      assert.equal(count, 2);
      assert.equal(await grpc.isServerReady(), true);
    });

    it('an AbortSignal cancels the stream', async () => {
      const controller = new AbortController();
      const stream = grpc.stream({ signal: controller.signal });
      stream.send('repeat', { inputs: repeatInput(Array.from({ length: 5000 }, (_, i) => i)) });
      let count = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of stream) if (++count === 3) controller.abort();
        })(),
        { name: 'AbortError' },
      );
      assert.equal(count, 3);
    });
  });

  describe('http generate extension', () => {
    it('generate: one JSON response', async () => {
      const reply = await http.generate('simple', { INPUT0: Array.from(A), INPUT1: Array.from(B) });
      assert.deepEqual(reply['OUTPUT0'], Array.from(A, (x) => x + 1));
      assert.equal(reply['model_name'], 'simple');
      await assert.rejects(http.generate('nope', {}), { status: 404, message: "Request for unknown model: 'nope' is not found" });
    });

    it('generate_stream: server-sent events as an async iterator; an error event rejects it', async () => {
      const events = [];
      for await (const event of http.generateStream('repeat', { IN: [4, 5, 6] })) events.push(event);
      assert.deepEqual(events, [0, 1, 2].map((i) => ({ IDX: i, OUT: 4 + i, model_name: 'repeat', model_version: '1' })));
      const seen: unknown[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of http.generateStream('repeat', { IN: [4, -5] })) seen.push(event['OUT']);
        })(),
        { name: 'InferenceServerError', message: 'negative value -5 at 1' },
      );
      assert.deepEqual(seen, [4]);
      await assert.rejects(async () => {
        for await (const _ of http.generateStream('nope', {})) assert.fail('no events');
      }, { status: 404 });
      let count = 0;
      for await (const _ of http.generateStream('repeat', { IN: Array.from({ length: 5000 }, (_, i) => i) })) if (++count === 2) break;
      assert.equal(count, 2, 'leaving the loop early ends it (and aborts the request)');
      const controller = new AbortController();
      await assert.rejects(async () => {
        for await (const _ of http.generateStream('repeat', { IN: Array.from({ length: 5000 }, (_, i) => i) }, { signal: controller.signal })) controller.abort();
      }, { name: 'AbortError' });
    });
  });

  describe('http JSON tensors (binary: false)', () => {
    it('inputs and outputs as JSON round-trip every datatype (FP16/BF16 go binary, as Triton requires)', async () => {
      for (const [datatype, model] of Object.entries(DATATYPE_MODELS) as [Datatype, string][]) {
        if (datatype === 'INT64' || datatype === 'UINT64') continue; // JSON numbers lose the values beyond 2^53
        const { input, expected } = SAMPLES[datatype];
        const half = datatype === 'FP16' || datatype === 'BF16';
        const result = await http.infer(model, {
          binary: false,
          inputs: [{ name: 'INPUT0', datatype, shape: [1, 4], data: input! }],
          ...(half ? { outputs: [{ name: 'OUTPUT0', binary: true }] } : {}),
        });
        const output = result.outputs['OUTPUT0']!;
        assert.equal(output.parameters['binary_data_size'] !== undefined, half, `${datatype} came back as ${half ? 'binary' : 'JSON'}`);
        assert.deepEqual(output.data, expected, datatype);
      }
      await assert.rejects(
        http.infer('identity_fp16', { binary: false, inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 1], data: new Uint16Array(1) }] }),
        { status: 400, message: 'sending FP16 data via JSON is not supported. Please use the binary data format for output' },
      );
      const small = await http.infer('identity_int64', { binary: false, inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 2], data: new BigInt64Array([-5n, 2n ** 52n]) }] });
      assert.deepEqual(small.outputs['OUTPUT0']!.data, new BigInt64Array([-5n, 2n ** 52n]));
      const half = await http.infer('identity_fp16', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 3], data: toFloat16Array([1, -2.5, 65504]) }] });
      assert.deepEqual(fromFloat16Array(half.outputs['OUTPUT0']!.data as Uint16Array), new Float64Array([1, -2.5, 65504]));
      const text = await http.infer('identity_bytes', { binary: false, inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], data: ['x', 'ÿ'] }] });
      assert.deepEqual(bytesToStrings(text.outputs['OUTPUT0']!.data), ['x', 'ÿ']);
      const brain = await http.infer('identity_bf16', { inputs: [{ name: 'INPUT0', datatype: 'BF16', shape: [1, 2], data: toBFloat16Array([1, -0.5]) }] });
      assert.deepEqual(fromBFloat16Array(brain.outputs['OUTPUT0']!.data as Uint16Array), new Float32Array([1, -0.5]));
    });
  });
});
