import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BackendInstance } from '../../../src/backends/backend.js';
import type { OnnxRuntimeInstance } from '../../../src/backends/onnxruntime/instance.js';
import type { SessionRunResult } from '../../../src/backends/onnxruntime/native/native-session.js';
import { encodeBytesField, encodeVarintField } from '../../../src/backends/onnxruntime/protobuf-wire.js';
import { releaseFreedHeapNow } from '../../../src/backends/onnxruntime/native/native-memory.js';
import { ServerError } from '../../../src/errors/server-error.js';
import {
  bytesOf,
  createInstance,
  loadModel,
  request,
  tensor,
  tensorsOf,
  type Loaded,
  type LoadOptions,
} from './onnxruntime-harness.js';

const param = (value: string): { stringValue: string } => ({ stringValue: value });
const UNSHARED = { share_session_between_instances: param('false') };

function fp32Request(values: number[]): ReturnType<typeof request> {
  const data = bytesOf(Float32Array.from(values));
  return request([tensor('INPUT0', 'FP32', [1, values.length], data)], ['OUTPUT0']);
}

async function instances(loaded: Loaded, count: number): Promise<BackendInstance[]> {
  const made: BackendInstance[] = [];
  for (let i = 0; i < count; i++) made.push(await createInstance(loaded));
  return made;
}

async function executeOk(instance: BackendInstance, values: number[]): Promise<number[]> {
  const result = await instance.execute([fp32Request(values)]);
  const [output] = tensorsOf(result.responses[0]);
  return [...new Float32Array(Uint8Array.from(output?.data ?? []).buffer)];
}

describe('onnxruntime backend: session sharing', () => {
  it('shares one session between all instances by default', async () => {
    const loaded = await loadModel('identity_fp32');
    try {
      const made = await instances(loaded, 3);
      assert.equal(loaded.model.sessionCount, 1);
      const sessions = new Set(made.map((instance) => (instance as OnnxRuntimeInstance).session));
      assert.equal(sessions.size, 1);
      const results = await Promise.all(made.map((instance, i) => executeOk(instance, [i, i + 1])));
      assert.deepEqual(results, [[0, 1], [1, 2], [2, 3]]);
      await Promise.all(made.map((instance) => instance.close()));
      assert.equal(loaded.model.sessionCount, 1, 'the shared session lives until the model closes');
    } finally {
      await loaded.model.close();
    }
    assert.equal(loaded.model.sessionCount, 0);
  });

  for (const value of ['false', '0']) {
    it(`gives each instance its own session with share_session_between_instances "${value}"`, async () => {
      const loaded = await loadModel('identity_fp32', {
        config: { parameters: { share_session_between_instances: param(value) } },
      });
      try {
        const made = await instances(loaded, 3);
        assert.equal(loaded.model.sessionCount, 3);
        const sessions = made.map((instance) => (instance as OnnxRuntimeInstance).session);
        assert.equal(new Set(sessions).size, 3);
        const results = await Promise.all(made.map((instance, i) => executeOk(instance, [i])));
        assert.deepEqual(results, [[0], [1], [2]]);
        await made[0]?.close();
        assert.equal(loaded.model.sessionCount, 2);
      } finally {
        await loaded.model.close();
      }
      assert.equal(loaded.model.sessionCount, 0);
    });
  }

  it('waits for runs in flight before releasing a session, shared or not', async () => {
    for (const parameters of [{ intra_op_thread_count: param('1') }, { ...UNSHARED, intra_op_thread_count: param('1') }]) {
      const loaded = await loadModel('slow_identity', { config: { parameters } });
      const made = await instances(loaded, 2);
      const runs = made.map((instance, i) => executeOk(instance, [i, 10 + i]));
      // Closing while both ~20 ms runs compute: they finish with their answers, then the sessions go.
      const closed = loaded.model.close();
      assert.deepEqual(await Promise.all(runs), [
        [0, 10],
        [1, 11],
      ]);
      await closed;
      assert.equal(loaded.model.sessionCount, 0);
    }
  });

  it('fails executions after the model is closed, with INTERNAL', async () => {
    for (const options of [{}, { config: { parameters: UNSHARED } }] satisfies LoadOptions[]) {
      const loaded = await loadModel('identity_fp32', options);
      const [instance] = await instances(loaded, 1);
      await loaded.model.close();
      const result = await instance!.execute([fp32Request([1])]);
      assert.ok(result.responses[0] instanceof ServerError);
      assert.equal(result.responses[0].code, 'INTERNAL');
    }
  });

  it('reports onnxruntime errors as INTERNAL, and the session keeps serving', async () => {
    const loaded = await loadModel('runtime_error', { config: { parameters: UNSHARED } });
    try {
      const [instance] = await instances(loaded, 1);
      const result = await instance!.execute([fp32Request([1, 2, 3, 4])]);
      assert.ok(result.responses[0] instanceof ServerError);
      assert.equal(result.responses[0].code, 'INTERNAL');
      assert.deepEqual(await executeOk(instance!, [1, 2, 3]), [1, 2, 3]);
    } finally {
      await loaded.model.close();
    }
  });
});

describe('onnxruntime backend: concurrency', () => {
  /** Records the compute interval of every run of the instances' sessions (calls go through). */
  function observeRuns(made: readonly BackendInstance[]): SessionRunResult[] {
    const runs: SessionRunResult[] = [];
    for (const session of new Set(made.map((instance) => (instance as OnnxRuntimeInstance).session))) {
      const run = session.run.bind(session);
      session.run = async (feeds, fetches) => {
        const result = await run(feeds, fetches);
        runs.push(result);
        return result;
      };
    }
    return runs;
  }

  const overlap = (a: SessionRunResult, b: SessionRunResult): boolean =>
    a.computeStartNs < b.computeEndNs && b.computeStartNs < a.computeEndNs;
  const intervalsOf = (runs: readonly SessionRunResult[]): string =>
    JSON.stringify(runs.map((run) => [String(run.computeStartNs), String(run.computeEndNs)]));

  it('runs two unshared instances at the same time', async () => {
    // slow_identity: ~20 ms of single-threaded work per run.
    const model = await loadModel('slow_identity', {
      config: { parameters: { ...UNSHARED, intra_op_thread_count: param('1') } },
    });
    try {
      const made = await instances(model, 2);
      const runs = observeRuns(made);
      await Promise.all([executeOk(made[0]!, [1]), executeOk(made[1]!, [2])]);
      assert.equal(runs.length, 2);
      assert.ok(overlap(runs[0]!, runs[1]!), `runs did not overlap: ${intervalsOf(runs)}`);
    } finally {
      await model.model.close();
    }
  });

  it('runs two instances sharing one session at the same time', async () => {
    const model = await loadModel('slow_identity', {
      config: { parameters: { intra_op_thread_count: param('1') } },
    });
    try {
      const made = await instances(model, 2);
      assert.equal(model.model.sessionCount, 1);
      const runs = observeRuns(made);
      await Promise.all([executeOk(made[0]!, [1]), executeOk(made[1]!, [2])]);
      assert.equal(runs.length, 2);
      assert.ok(overlap(runs[0]!, runs[1]!), `runs did not overlap: ${intervalsOf(runs)}`);
      assert.ok(runs.every((run) => !run.inline), 'a ~20 ms run computed on the event loop');
    } finally {
      await model.model.close();
    }
  });

  it('keeps the event loop free while a shared session computes', async (t) => {
    const model = await loadModel('slow_identity', {
      config: { parameters: { intra_op_thread_count: param('1') } },
    });
    try {
      const [instance] = await instances(model, 1);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await executeOk(instance!, [1]);
      await executeOk(instance!, [2]);
      clearInterval(timer);
      t.diagnostic(`${ticks} timer ticks during two runs`);
      assert.ok(ticks >= 3, `only ${ticks} timer ticks during two ~20 ms runs`);
    } finally {
      await model.model.close();
    }
  });
});

/** An ONNX model `OUTPUT0 = INPUT0 @ W` with a 1024x4096 fp32 weight (16 MiB), built in memory. */
function weightsModel(): Buffer {
  const rows = 1024;
  const cols = 4096;
  const weight = new Float32Array(rows * cols);
  for (let i = 0; i < weight.length; i++) weight[i] = (i % 7) / 7;
  const dim = (value: number | string): Uint8Array =>
    encodeBytesField(1, typeof value === 'number' ? encodeVarintField(1, value) : encodeBytesField(2, value));
  const valueInfo = (name: string, dims: Array<number | string>): Uint8Array => {
    const shape = Buffer.concat(dims.map(dim));
    const tensorType = Buffer.concat([encodeVarintField(1, 1), encodeBytesField(2, shape)]);
    return Buffer.concat([encodeBytesField(1, name), encodeBytesField(2, encodeBytesField(1, tensorType))]);
  };
  const node = Buffer.concat([
    encodeBytesField(1, 'INPUT0'),
    encodeBytesField(1, 'W'),
    encodeBytesField(2, 'OUTPUT0'),
    encodeBytesField(4, 'MatMul'),
  ]);
  const initializer = Buffer.concat([
    encodeVarintField(1, rows),
    encodeVarintField(1, cols),
    encodeVarintField(2, 1),
    encodeBytesField(8, 'W'),
    encodeBytesField(9, bytesOf(weight)),
  ]);
  const graph = Buffer.concat([
    encodeBytesField(1, node),
    encodeBytesField(2, 'weights'),
    encodeBytesField(5, initializer),
    encodeBytesField(11, valueInfo('INPUT0', ['batch', rows])),
    encodeBytesField(12, valueInfo('OUTPUT0', ['batch', cols])),
  ]);
  return Buffer.concat([
    encodeVarintField(1, 8),
    encodeBytesField(8, encodeVarintField(2, 13)),
    encodeBytesField(7, graph),
  ]);
}

describe('onnxruntime backend: memory of shared sessions', () => {
  let repository = '';
  before(async () => {
    repository = await mkdtemp(path.join(tmpdir(), 'nereid-ort-weights-'));
    await mkdir(path.join(repository, 'weights', '1'), { recursive: true });
    await writeFile(path.join(repository, 'weights', '1', 'model.onnx'), weightsModel());
  });
  after(() => rm(repository, { recursive: true, force: true }));

  /** RSS growth (MiB) from loading the weights model with four instances. */
  /** Resident memory in use: heap memory freed earlier is given back first (glibc keeps it). */
  function liveRss(): number {
    releaseFreedHeapNow();
    return process.memoryUsage().rss;
  }

  async function growth(parameters: Record<string, { stringValue: string }>): Promise<number> {
    const before = liveRss();
    const loaded = await loadModel('weights', { repository, config: { parameters } });
    try {
      const made = await instances(loaded, 4);
      for (const instance of made) {
        const result = await instance.execute([
          request([tensor('INPUT0', 'FP32', [1, 1024], bytesOf(new Float32Array(1024).fill(1)))], ['OUTPUT0']),
        ]);
        assert.equal(tensorsOf(result.responses[0])[0]?.shape[1], 4096);
      }
      return (liveRss() - before) / 2 ** 20;
    } finally {
      await loaded.model.close();
    }
  }

  it('holds the weights once for four shared instances, four times otherwise', async (t) => {
    await growth({}); // warm-up: one-time onnxruntime and allocator costs land here
    const shared = await growth({});
    const unshared = await growth(UNSHARED);
    t.diagnostic(`RSS growth: shared ${shared.toFixed(1)} MiB, unshared ${unshared.toFixed(1)} MiB`);
    // Four unshared sessions hold three more copies of the 16 MiB weight (48 MiB; half of it is asserted, RSS is coarse) than one shared session.
    assert.ok(unshared - shared > 24, `shared grew ${shared.toFixed(1)} MiB, unshared ${unshared.toFixed(1)} MiB`);
  });
});
