import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HealthCheckResponse_ServingStatus } from '@nereid/protocol/generated/health_pb';
import { assertStatus } from './assert-status.js';
import { startFixture, type GrpcFixture } from './start.js';

/** Every non-infer RPC of GRPCInferenceService, and the health check, over a real socket. */

const status = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;

describe('gRPC endpoints', () => {
  let fx: GrpcFixture;

  before(async () => {
    fx = await startFixture();
  });

  after(async () => {
    await fx.close();
  });

  it('reports liveness and readiness, leaving the "Started" line to the composition root', async () => {
    assert.equal((await fx.client.call('serverLive', {})).live, true);
    assert.equal((await fx.client.call('serverReady', {})).ready, true);
    fx.core.live = false;
    fx.core.ready = false;
    try {
      assert.equal((await fx.client.call('serverLive', {})).live, false);
      assert.equal((await fx.client.call('serverReady', {})).ready, false);
    } finally {
      fx.core.live = true;
      fx.core.ready = true;
    }
    // startServer logs it once; the frontend logging it too printed the line twice.
    assert.ok(!fx.logLines.some((line) => line.includes('Started GRPCInferenceService')));
  });

  it('answers the health check from readiness, whatever the service name', async () => {
    for (const service of ['', 'inference.GRPCInferenceService']) {
      assert.equal((await fx.client.healthCheck(service)).status, HealthCheckResponse_ServingStatus.SERVING);
    }
    fx.core.ready = false;
    try {
      assert.equal((await fx.client.healthCheck('')).status, HealthCheckResponse_ServingStatus.NOT_SERVING);
    } finally {
      fx.core.ready = true;
    }
  });

  it('answers ModelReady with ready=false (status OK) for models that are not ready', async () => {
    assert.equal((await fx.client.call('modelReady', { name: 'echo' })).ready, true);
    assert.equal((await fx.client.call('modelReady', { name: 'echo', version: '1' })).ready, true);
    assert.equal((await fx.client.call('modelReady', { name: 'echo', version: '2' })).ready, false);
    assert.equal((await fx.client.call('modelReady', { name: 'not_ready' })).ready, false);
    assert.equal((await fx.client.call('modelReady', { name: 'nope' })).ready, false);
  });

  it('returns server and model metadata', async () => {
    const server = await fx.client.call('serverMetadata', {});
    assert.equal(server.name, 'triton');
    assert.deepEqual(server.extensions, ['binary_tensor_data', 'statistics']);
    const model = await fx.client.call('modelMetadata', { name: 'echo' });
    assert.equal(model.name, 'echo');
    assert.deepEqual(model.versions, ['1']);
    assert.equal(model.platform, 'echo');
    assert.deepEqual(
      model.inputs.map((t) => [t.name, t.datatype, t.shape]),
      [
        ['INPUT0', 'FP32', [-1n, -1n]],
        ['INPUT1', 'FP32', [-1n, -1n]],
      ],
    );
    assert.equal(model.outputs[0]?.name, 'OUTPUT0');
    await assertStatus(fx.client.call('modelMetadata', { name: 'nope' }), status.NOT_FOUND, "Request for unknown model: 'nope' is not found");
  });

  it('returns the model configuration message', async () => {
    const { config } = await fx.client.call('modelConfig', { name: 'raw_fixed' });
    assert.equal(config?.name, 'raw_fixed');
    assert.equal(config?.maxBatchSize, 0);
    assert.deepEqual(config?.input[0]?.dims, [2n, 2n]);
    await assertStatus(fx.client.call('modelConfig', { name: 'echo', version: '7' }), status.NOT_FOUND, /version 7 is not found/);
  });

  it('maps statistics onto messages with uint64 counters', async () => {
    const { modelStats } = await fx.client.call('modelStatistics', { name: 'echo' });
    assert.equal(modelStats.length, 1);
    const stats = modelStats[0]!;
    assert.equal(stats.name, 'echo');
    assert.equal(stats.version, '1');
    assert.equal(stats.inferenceCount, 7n);
    assert.equal(stats.executionCount, 5n);
    assert.equal(stats.lastInference, 1_700_000_000_123n);
    assert.equal(stats.inferenceStats?.success?.count, 7n);
    assert.equal(stats.inferenceStats?.success?.ns, 2n ** 53n + 2n);
    assert.equal(stats.inferenceStats?.queue?.ns, 0n);
    assert.equal(stats.responseStats['0']?.success?.ns, 1234n);
    assert.equal(stats.batchStats[0]?.batchSize, 1n);
    assert.equal(stats.batchStats[0]?.computeOutput?.ns, 6n);
    assert.deepEqual(
      stats.memoryUsage.map((m) => [m.type, m.id, m.byteSize]),
      [['CPU', 0n, 4096n]],
    );
    const all = await fx.client.call('modelStatistics', {});
    assert.ok(all.modelStats.length > 1);
  });

  it('lists the repository index and refuses a repository name', async () => {
    const { models } = await fx.client.call('repositoryIndex', {});
    const byName = new Map(models.map((m) => [m.name, m]));
    assert.deepEqual({ ...byName.get('echo'), $typeName: undefined }, { $typeName: undefined, name: 'echo', version: '1', state: 'READY', reason: '' });
    assert.equal(byName.get('not_ready')?.state, 'UNAVAILABLE');
    assert.equal(byName.get('not_ready')?.reason, 'unloaded');
    const ready = await fx.client.call('repositoryIndex', { ready: true });
    assert.ok(ready.models.every((m) => m.state === 'READY'));
    await assertStatus(
      fx.client.call('repositoryIndex', { repositoryName: 'models' }),
      status.UNIMPLEMENTED,
      "'repository_name' specification is not supported",
    );
  });

  it('loads with config and file parameters, checking their types', async () => {
    const file = new Uint8Array([0, 1, 2, 255]);
    await fx.client.call('repositoryModelLoad', {
      modelName: 'echo',
      parameters: {
        config: { parameterChoice: { case: 'stringParam', value: '{"backend":"onnxruntime"}' } },
        'file:1/model.onnx': { parameterChoice: { case: 'bytesParam', value: file } },
      },
    });
    const call = fx.core.loadCalls.at(-1)!;
    assert.equal(call.name, 'echo');
    assert.equal(call.parameters['config'], '{"backend":"onnxruntime"}');
    assert.deepEqual([...(call.parameters['file:1/model.onnx'] as Uint8Array)], [0, 1, 2, 255]);
    await assertStatus(
      fx.client.call('repositoryModelLoad', {
        modelName: 'echo',
        parameters: { config: { parameterChoice: { case: 'bytesParam', value: file } } },
      }),
      status.INVALID_ARGUMENT,
      "invalid value type for load parameter 'config', expected string_param.",
    );
    await assertStatus(
      fx.client.call('repositoryModelLoad', {
        modelName: 'echo',
        parameters: { 'file:1/x': { parameterChoice: { case: 'stringParam', value: 'x' } } },
      }),
      status.INVALID_ARGUMENT,
      "invalid value type for load parameter 'file:1/x', expected bytes_param.",
    );
    await assertStatus(
      fx.client.call('repositoryModelLoad', {
        modelName: 'echo',
        parameters: { foo: { parameterChoice: { case: 'boolParam', value: true } } },
      }),
      status.INVALID_ARGUMENT,
      "unrecognized load parameter 'foo'.",
    );
    await assertStatus(fx.client.call('repositoryModelLoad', { modelName: 'bad' }), status.INVALID_ARGUMENT, "failed to load 'bad'");
  });

  it('unloads with unload_dependents', async () => {
    await fx.client.call('repositoryModelUnload', { modelName: 'echo' });
    await fx.client.call('repositoryModelUnload', {
      modelName: 'echo',
      parameters: { unload_dependents: { parameterChoice: { case: 'boolParam', value: true } } },
    });
    assert.deepEqual(fx.core.unloadCalls.slice(-2), [
      { name: 'echo', unloadDependents: false },
      { name: 'echo', unloadDependents: true },
    ]);
    await assertStatus(
      fx.client.call('repositoryModelUnload', {
        modelName: 'echo',
        parameters: { unload_dependents: { parameterChoice: { case: 'stringParam', value: 'true' } } },
      }),
      status.INVALID_ARGUMENT,
      "invalid value type for 'unload_dependents' parameter, expected bool_param.",
    );
    await assertStatus(fx.client.call('repositoryModelUnload', { modelName: 'nope' }), status.NOT_FOUND, /unknown model/);
  });

  it('registers, lists and unregisters system shared memory', async () => {
    await fx.client.call('systemSharedMemoryRegister', { name: 'r1', key: '/k1', offset: 16n, byteSize: 1024n });
    await fx.client.call('systemSharedMemoryRegister', { name: 'r2', key: '/k2', byteSize: 8n });
    const one = await fx.client.call('systemSharedMemoryStatus', { name: 'r1' });
    assert.deepEqual(Object.keys(one.regions), ['r1']);
    const r1 = one.regions['r1']!;
    assert.deepEqual([r1.name, r1.key, r1.offset, r1.byteSize], ['r1', '/k1', 16n, 1024n]);
    assert.deepEqual(Object.keys((await fx.client.call('systemSharedMemoryStatus', {})).regions).sort(), ['r1', 'r2']);
    await fx.client.call('systemSharedMemoryUnregister', { name: 'r1' });
    await assertStatus(fx.client.call('systemSharedMemoryStatus', { name: 'r1' }), status.NOT_FOUND, /r1/);
    await fx.client.call('systemSharedMemoryUnregister', {});
    assert.deepEqual((await fx.client.call('systemSharedMemoryStatus', {})).regions, {});
    fx.core.allowClientShm = false;
    try {
      await assertStatus(
        fx.client.call('systemSharedMemoryRegister', { name: 'r3', key: '/k3', byteSize: 8n }),
        status.UNIMPLEMENTED,
        "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.",
      );
    } finally {
      fx.core.allowClientShm = true;
    }
  });

  it('answers the CUDA shared memory RPCs through the core', async () => {
    assert.deepEqual((await fx.client.call('cudaSharedMemoryStatus', {})).regions, {});
    await assertStatus(fx.client.call('cudaSharedMemoryStatus', { name: 'g' }), status.NOT_FOUND, /'g'/);
    await assertStatus(
      fx.client.call('cudaSharedMemoryRegister', { name: 'g', rawHandle: new Uint8Array(64), deviceId: 0n, byteSize: 16n }),
      status.UNIMPLEMENTED,
      /cannot register CUDA region 'g'/,
    );
    await fx.client.call('cudaSharedMemoryUnregister', {});
  });

  it("answers and updates Triton's trace settings, global and per model, with Triton's texts", async () => {
    const { settings } = await fx.client.call('traceSetting', {});
    const plain = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, value.value]));
    assert.deepEqual(plain, {
      trace_level: ['OFF'],
      trace_rate: ['1000'],
      trace_count: ['-1'],
      log_frequency: ['0'],
      trace_file: [''],
      trace_mode: ['triton'],
    });
    assert.ok((await fx.client.call('traceSetting', { modelName: 'echo' })).settings['trace_level']);
    await assertStatus(fx.client.call('traceSetting', { modelName: 'nope' }), status.INVALID_ARGUMENT, 'Request for unknown model : nope');
    await assertStatus(
      fx.client.call('traceSetting', { settings: { trace_file: { value: ['/tmp/x'] } } }),
      status.UNIMPLEMENTED,
      'trace file location can not be updated through network protocol',
    );
    const call = async (request: Record<string, unknown>): Promise<Record<string, string[]>> => {
      const reply = await fx.client.call('traceSetting', request);
      return Object.fromEntries(Object.entries(reply.settings).map(([key, value]) => [key, value.value]));
    };
    const model = await call({ modelName: 'echo', settings: { trace_rate: { value: ['5'] }, trace_count: { value: ['2'] } } });
    assert.deepEqual([model['trace_rate'], model['trace_count'], model['log_frequency']], [['5'], ['2'], ['0']]);
    assert.deepEqual((await call({})).trace_rate, ['1000']);
    // An empty value list clears the field: the model mirrors the global setting again.
    assert.deepEqual((await call({ modelName: 'echo', settings: { trace_rate: { value: [] } } })).trace_rate, ['1000']);
    assert.deepEqual((await call({ modelName: 'echo', settings: { trace_count: { value: [] } } })).trace_count, ['-1']);
    await assertStatus(
      fx.client.call('traceSetting', { settings: { trace_level: { value: ['TIMESTAMPS'] } } }),
      status.INVALID_ARGUMENT,
      'Attempting to set invalid trace setting :trace file name is not given',
    );
    await assertStatus(
      fx.client.call('traceSetting', { settings: { trace_rate: { value: ['1', '2'] } } }),
      status.INVALID_ARGUMENT,
      "expect only 1 value for 'trace_rate'",
    );
    await assertStatus(
      fx.client.call('traceSetting', { settings: { trace_count: { value: ['-5'] } } }),
      status.INVALID_ARGUMENT,
      "Unable to parse 'trace_count'. Expecting value >= -1, got: -5",
    );
    await assertStatus(
      fx.client.call('traceSetting', { settings: { log_frequency: { value: ['x'] } } }),
      status.INVALID_ARGUMENT,
      "Unable to parse 'log_frequency', got: x",
    );
  });

  it('reads and updates log settings with typed values', async () => {
    const initial = await fx.client.call('logSettings', {});
    assert.deepEqual(initial.settings['log_info']?.parameterChoice, { case: 'boolParam', value: true });
    assert.deepEqual(initial.settings['log_verbose_level']?.parameterChoice, { case: 'uint32Param', value: 0 });
    assert.deepEqual(initial.settings['log_file']?.parameterChoice, { case: 'stringParam', value: '' });
    const updated = await fx.client.call('logSettings', {
      settings: {
        log_info: { parameterChoice: { case: 'boolParam', value: false } },
        log_verbose_level: { parameterChoice: { case: 'uint32Param', value: 2 } },
        not_a_setting: { parameterChoice: { case: 'stringParam', value: 'ignored' } },
      },
    });
    assert.deepEqual(updated.settings['log_info']?.parameterChoice, { case: 'boolParam', value: false });
    assert.deepEqual(updated.settings['log_verbose_level']?.parameterChoice, { case: 'uint32Param', value: 2 });
    assert.equal(fx.core.logs.log_info, false);
    await assertStatus(
      fx.client.call('logSettings', { settings: { log_error: { parameterChoice: { case: 'uint32Param', value: 1 } } } }),
      status.INVALID_ARGUMENT,
      "expect boolean for 'log_error'",
    );
    await assertStatus(
      fx.client.call('logSettings', { settings: { log_file: { parameterChoice: { case: 'stringParam', value: '/tmp/log' } } } }),
      status.UNIMPLEMENTED,
      'log file location can not be updated through network protocol',
    );
  });
});
