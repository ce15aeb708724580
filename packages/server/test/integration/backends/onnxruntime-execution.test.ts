import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../src/errors/server-error.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { EXAMPLES, bytesOf, createInstance, loadModel, request, tensor, tensorsOf } from './onnxruntime-harness.js';

const int32s = (t: Tensor | undefined): number[] => [...new Int32Array(Uint8Array.from(t?.data ?? []).buffer)];
const floats = (t: Tensor | undefined): number[] => [...new Float32Array(Uint8Array.from(t?.data ?? []).buffer)];

/** `rows` rows of 16 INT32 values starting at `start`. */
function rows(start: number, count: number): Int32Array {
  return Int32Array.from({ length: 16 * count }, (_, i) => start + i);
}

describe('onnxruntime backend: batches of requests', () => {
  it('runs two requests of a batching model once and splits the outputs back', async () => {
    const loaded = await loadModel('simple', { repository: EXAMPLES, useConfigFile: true });
    try {
      const instance = await createInstance(loaded);
      const ones = (count: number): Uint8Array => bytesOf(Int32Array.from({ length: 16 * count }, () => 1));
      const first = request(
        [tensor('INPUT0', 'INT32', [1, 16], bytesOf(rows(0, 1))), tensor('INPUT1', 'INT32', [1, 16], ones(1))],
        ['OUTPUT0', 'OUTPUT1'],
        1,
      );
      const second = request(
        [tensor('INPUT0', 'INT32', [2, 16], bytesOf(rows(100, 2))), tensor('INPUT1', 'INT32', [2, 16], ones(2))],
        ['OUTPUT1'],
        2,
      );
      const result = await instance.execute([first, second]);
      const [sum1, diff1] = tensorsOf(result.responses[0]);
      assert.deepEqual(sum1?.shape, [1, 16]);
      assert.deepEqual(int32s(sum1), [...rows(1, 1)]);
      assert.deepEqual(int32s(diff1), [...rows(-1, 1)]);
      const secondOutputs = tensorsOf(result.responses[1]);
      assert.equal(secondOutputs.length, 1);
      assert.equal(secondOutputs[0]?.name, 'OUTPUT1');
      assert.deepEqual(secondOutputs[0]?.shape, [2, 16]);
      assert.deepEqual(int32s(secondOutputs[0]), [...rows(99, 2)]);
    } finally {
      await loaded.model.close();
    }
  });

  it('batches BYTES requests too', async () => {
    const loaded = await loadModel('identity_bytes');
    try {
      const instance = await createInstance(loaded);
      const a = [Buffer.from('a\0'), Buffer.from([0xff])];
      const b = [Buffer.from('x'), Buffer.from(''), Buffer.from('é'), Buffer.from('\0')];
      const result = await instance.execute([
        request([tensor('INPUT0', 'BYTES', [1, 2], encodeBytesElements(a))], ['OUTPUT0'], 1),
        request([tensor('INPUT0', 'BYTES', [2, 2], encodeBytesElements(b))], ['OUTPUT0'], 2),
      ]);
      const out = (index: number): Buffer[] =>
        decodeBytesElements(tensorsOf(result.responses[index])[0]?.data ?? new Uint8Array()).map((e) => Buffer.from(e));
      assert.deepEqual(out(0), a);
      assert.deepEqual(out(1), b);
      assert.deepEqual(tensorsOf(result.responses[1])[0]?.shape, [2, 2]);
    } finally {
      await loaded.model.close();
    }
  });

  it('runs the requests of a non-batching model one by one', async () => {
    const loaded = await loadModel('fixed_batch_dim');
    try {
      const instance = await createInstance(loaded);
      const a = Float32Array.from({ length: 6 }, (_, i) => i);
      const b = Float32Array.from({ length: 6 }, (_, i) => -i);
      const result = await instance.execute([
        request([tensor('INPUT0', 'FP32', [2, 3], bytesOf(a))], ['OUTPUT0']),
        request([tensor('INPUT0', 'FP32', [2, 3], bytesOf(b))], ['OUTPUT0']),
      ]);
      assert.deepEqual(floats(tensorsOf(result.responses[0])[0]), [...a]);
      assert.deepEqual(floats(tensorsOf(result.responses[1])[0]), [...b]);
    } finally {
      await loaded.model.close();
    }
  });

  it('returns only the outputs each request asked for', async () => {
    const loaded = await loadModel('add_sub');
    try {
      const instance = await createInstance(loaded);
      const x = bytesOf(Float32Array.of(1, 2, 3, 4));
      const y = bytesOf(Float32Array.of(1, 1, 1, 1));
      const inputs = [tensor('INPUT0', 'FP32', [1, 4], x), tensor('INPUT1', 'FP32', [1, 4], y)];
      const result = await instance.execute([request(inputs, ['OUTPUT1'])]);
      const outputs = tensorsOf(result.responses[0]);
      assert.deepEqual(outputs.map((t) => t.name), ['OUTPUT1']);
      assert.deepEqual(floats(outputs[0]), [0, 1, 2, 3]);
    } finally {
      await loaded.model.close();
    }
  });
});

describe('onnxruntime backend: runtime errors', () => {
  it('fails every request of a failing batch with INTERNAL and keeps working', async () => {
    const loaded = await loadModel('runtime_error');
    try {
      const instance = await createInstance(loaded);
      // Reshape to [-1, 3] fails for 4 elements per row.
      const bad = (): ReturnType<typeof request> =>
        request([tensor('INPUT0', 'FP32', [1, 4], bytesOf(new Float32Array(4)))], ['OUTPUT0']);
      const failed = await instance.execute([bad(), bad()]);
      assert.equal(failed.responses.length, 2);
      for (const response of failed.responses) {
        assert.ok(response instanceof ServerError);
        assert.equal(response.code, 'INTERNAL');
        assert.match(response.message, /^onnx runtime error 1: .*Reshape/);
      }
      const good = await instance.execute([
        request([tensor('INPUT0', 'FP32', [1, 3], bytesOf(Float32Array.of(1, 2, 3)))], ['OUTPUT0']),
      ]);
      assert.deepEqual(floats(tensorsOf(good.responses[0])[0]), [1, 2, 3]);
    } finally {
      await loaded.model.close();
    }
  });

  it('fails only the bad request when requests run one by one', async () => {
    // Inputs and outputs given, so auto-complete leaves max_batch_size at 0: no batching.
    const loaded = await loadModel('runtime_error', {
      config: {
        input: [{ name: 'INPUT0', dataType: DataType.TYPE_FP32, dims: [-1n, -1n] }],
        output: [{ name: 'OUTPUT0', dataType: DataType.TYPE_FP32, dims: [-1n, 3n] }],
      },
    });
    assert.equal(loaded.config.maxBatchSize, 0);
    try {
      const instance = await createInstance(loaded);
      const result = await instance.execute([
        request([tensor('INPUT0', 'FP32', [1, 4], bytesOf(new Float32Array(4)))], ['OUTPUT0']),
        request([tensor('INPUT0', 'FP32', [1, 3], bytesOf(Float32Array.of(7, 8, 9)))], ['OUTPUT0']),
      ]);
      assert.ok(result.responses[0] instanceof ServerError);
      assert.deepEqual(floats(tensorsOf(result.responses[1])[0]), [7, 8, 9]);
    } finally {
      await loaded.model.close();
    }
  });

  it('reports malformed BYTES input as INVALID_ARG', async () => {
    const loaded = await loadModel('identity_bytes');
    try {
      const instance = await createInstance(loaded);
      const result = await instance.execute([
        request([tensor('INPUT0', 'BYTES', [1, 1], Uint8Array.of(9, 0, 0, 0, 1))], ['OUTPUT0']),
      ]);
      assert.ok(result.responses[0] instanceof ServerError);
      assert.equal(result.responses[0].code, 'INVALID_ARG');
    } finally {
      await loaded.model.close();
    }
  });
});
