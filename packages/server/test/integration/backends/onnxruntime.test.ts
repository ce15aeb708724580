import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeBytesElements, encodeBytesElements, type Datatype } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../src/errors/server-error.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import {
  EXAMPLES,
  FIXTURES,
  bytesOf,
  createInstance,
  loadModel,
  request,
  tensor,
  tensorsOf,
} from './onnxruntime-harness.js';
import { isEnsembleModel, isJavaScriptModel, isPythonModel } from '../../helpers/test-repository.js';

/** Six values per datatype, edge cases included, as wire bytes. */
const SAMPLES: Readonly<Record<Exclude<Datatype, 'BYTES'>, Uint8Array>> = {
  BOOL: Uint8Array.of(1, 0, 1, 1, 0, 0),
  UINT8: Uint8Array.of(0, 1, 127, 128, 254, 255),
  UINT16: bytesOf(Uint16Array.of(0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff)),
  UINT32: bytesOf(Uint32Array.of(0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1)),
  UINT64: bytesOf(BigUint64Array.of(0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 5n, 6n)),
  INT8: bytesOf(Int8Array.of(-128, -1, 0, 1, 127, 5)),
  INT16: bytesOf(Int16Array.of(-32768, -1, 0, 1, 32767, 5)),
  INT32: bytesOf(Int32Array.of(-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 5)),
  INT64: bytesOf(BigInt64Array.of(-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n, 5n)),
  // Bit patterns: 1, -2, max, smallest subnormal, -0, a NaN with payload.
  FP16: bytesOf(Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7e01)),
  // BF16 travels as raw 2-byte data: exact, NaN payloads (quiet and signalling) included.
  BF16: bytesOf(Uint16Array.of(0x3f80, 0xc000, 0x7f7f, 0x0001, 0x7f81, 0xffc3)),
  FP32: bytesOf(Float32Array.of(0, -0, 1.5, -3.25e10, Infinity, Number.NaN)),
  FP64: bytesOf(Float64Array.of(0, -0, Math.PI, -1e300, -Infinity, Number.MIN_VALUE)),
};

/** BYTES elements that text cannot carry through onnxruntime-node on its own. */
const AWKWARD_BYTES: readonly Uint8Array[] = [
  Buffer.from('ab\0cd', 'latin1'),
  Uint8Array.of(0xff, 0xfe, 0x00),
  new Uint8Array(0),
  Buffer.from('\u{10FFFD}', 'utf8'),
  Buffer.from('日本語 é 🙂', 'utf8'),
  Uint8Array.from({ length: 256 }, (_, i) => i),
];

/** The same bytes at an odd offset, so TypedArray views need the one alignment copy. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const holder = Buffer.alloc(bytes.byteLength + 1);
  holder.set(bytes, 1);
  return holder.subarray(1);
}

async function runOnce(
  name: string,
  inputs: Tensor[],
  outputs: string[],
  batchSize = 1,
  repository = FIXTURES,
): Promise<readonly Tensor[]> {
  const loaded = await loadModel(name, { repository, useConfigFile: repository === EXAMPLES });
  try {
    const instance = await createInstance(loaded);
    const result = await instance.execute([request(inputs, outputs, batchSize)]);
    return tensorsOf(result.responses[0]);
  } finally {
    await loaded.model.close();
  }
}

describe('onnxruntime backend: datatypes', () => {
  for (const [datatype, data] of Object.entries(SAMPLES) as Array<[Exclude<Datatype, 'BYTES'>, Uint8Array]>) {
    it(`returns ${datatype} bytes unchanged through an identity model`, async () => {
      const name = `identity_${datatype.toLowerCase()}`;
      const [output] = await runOnce(name, [tensor('INPUT0', datatype, [2, 3], unaligned(data))], ['OUTPUT0'], 2);
      assert.ok(output);
      assert.equal(output.datatype, datatype);
      assert.deepEqual(output.shape, [2, 3]);
      assert.deepEqual(Buffer.from(output.data), Buffer.from(data));
    });
  }

  it('returns BYTES with NUL, non-UTF-8, empty and marker elements exactly', async () => {
    const wire = encodeBytesElements(AWKWARD_BYTES);
    const [output] = await runOnce('identity_bytes', [tensor('INPUT0', 'BYTES', [2, 3], wire)], ['OUTPUT0'], 2);
    assert.ok(output);
    assert.equal(output.datatype, 'BYTES');
    assert.deepEqual(output.shape, [2, 3]);
    assert.deepEqual(Buffer.from(output.data), wire);
  });

  it('computes in fp16 (the example identity_fp16 doubles its input)', async () => {
    const input = bytesOf(Uint16Array.of(0x3c00, 0x4000, 0xbc00, 0x0000)); // 1, 2, -1, 0
    const inputs = [tensor('INPUT0', 'FP16', [1, 4], input)];
    const [output] = await runOnce('identity_fp16', inputs, ['OUTPUT0'], 1, EXAMPLES);
    const bits = new Uint16Array(Uint8Array.from(output?.data ?? []).buffer);
    assert.deepEqual([...bits], [0x4000, 0x4400, 0xc000, 0x0000]);
  });
});

describe('onnxruntime backend: example models', () => {
  it('simple adds and subtracts INT32', async () => {
    const loaded = await loadModel('simple', { repository: EXAMPLES, useConfigFile: true });
    try {
      const instance = await createInstance(loaded);
      const a = Int32Array.from({ length: 16 }, (_, i) => i);
      const b = Int32Array.from({ length: 16 }, () => 1);
      const result = await instance.execute([
        request(
          [tensor('INPUT0', 'INT32', [1, 16], bytesOf(a)), tensor('INPUT1', 'INT32', [1, 16], bytesOf(b))],
          ['OUTPUT0', 'OUTPUT1'],
        ),
      ]);
      const [sum, diff] = tensorsOf(result.responses[0]);
      assert.deepEqual([...new Int32Array(Uint8Array.from(sum?.data ?? []).buffer)], [...a.map((x) => x + 1)]);
      assert.deepEqual([...new Int32Array(Uint8Array.from(diff?.data ?? []).buffer)], [...a.map((x) => x - 1)]);
      assert.ok(result.timings.computeInferNs > 0);
    } finally {
      await loaded.model.close();
    }
  });

  it('simple_string parses, adds and prints numbers', async () => {
    const loaded = await loadModel('simple_string', { repository: EXAMPLES, useConfigFile: true });
    try {
      const instance = await createInstance(loaded);
      const a = Array.from({ length: 16 }, (_, i) => Buffer.from(String(i)));
      const b = Array.from({ length: 16 }, () => Buffer.from('1'));
      const result = await instance.execute([
        request(
          [
            tensor('INPUT0', 'BYTES', [1, 16], encodeBytesElements(a)),
            tensor('INPUT1', 'BYTES', [1, 16], encodeBytesElements(b)),
          ],
          ['OUTPUT0', 'OUTPUT1'],
        ),
      ]);
      const [sum, diff] = tensorsOf(result.responses[0]);
      const text = (t: Tensor | undefined): string[] =>
        decodeBytesElements(t?.data ?? new Uint8Array()).map((e) => Buffer.from(e).toString());
      assert.deepEqual(text(sum), a.map((_, i) => String(i + 1)));
      assert.deepEqual(text(diff), a.map((_, i) => String(i - 1)));
    } finally {
      await loaded.model.close();
    }
  });

  it('simple_identity returns arbitrary bytes', async () => {
    const loaded = await loadModel('simple_identity', { repository: EXAMPLES, useConfigFile: true });
    try {
      const instance = await createInstance(loaded);
      const wire = encodeBytesElements(AWKWARD_BYTES);
      const input = tensor('INPUT0', 'BYTES', [1, AWKWARD_BYTES.length], wire);
      const result = await instance.execute([request([input], ['OUTPUT0'])]);
      assert.deepEqual(Buffer.from(tensorsOf(result.responses[0])[0]?.data ?? []), wire);
    } finally {
      await loaded.model.close();
    }
  });

  it('every committed config.pbtxt matches its model without auto-complete', async () => {
    for (const repository of [EXAMPLES, FIXTURES]) {
      for (const name of readdirSync(repository)) {
        if (!existsSync(path.join(repository, name, 'config.pbtxt')) || isEnsembleModel(path.join(repository, name)) || isPythonModel(path.join(repository, name)) || isJavaScriptModel(path.join(repository, name))) continue;
        const loaded = await loadModel(name, { repository, useConfigFile: true, autoComplete: false });
        await loaded.model.close();
      }
    }
  });

  it('add_sub_no_config auto-completes to max_batch_size 4 with dynamic batching', async () => {
    const loaded = await loadModel('add_sub_no_config', { repository: EXAMPLES });
    await loaded.model.close();
    const { config } = loaded;
    assert.equal(config.maxBatchSize, 4);
    assert.equal(config.schedulingChoice.case, 'dynamicBatching');
    assert.deepEqual(
      config.input.map((io) => [io.name, io.dataType, io.dims.map(Number)]),
      [
        ['INPUT0', DataType.TYPE_FP32, [4]],
        ['INPUT1', DataType.TYPE_FP32, [4]],
      ],
    );
    assert.deepEqual(config.output.map((io) => io.name), ['OUTPUT0', 'OUTPUT1']);
  });
});

describe('onnxruntime backend: shapes and auto-complete on fixtures', () => {
  it('a fixed first dim gives max_batch_size 0 and full dims', async () => {
    const loaded = await loadModel('fixed_batch_dim');
    await loaded.model.close();
    assert.equal(loaded.config.maxBatchSize, 0);
    assert.deepEqual(loaded.config.input[0]?.dims.map(Number), [2, 3]);
  });

  it('a fixed first dim refuses max_batch_size > 0', async () => {
    await assert.rejects(
      loadModel('fixed_batch_dim', { config: { maxBatchSize: 4 } }),
      (error) =>
        error instanceof ServerError &&
        error.code === 'INVALID_ARG' &&
        error.message.includes('model does not support batching while non-zero max_batch_size is specified'),
    );
  });

  it('scalar_batch: dims [1] + empty reshape; [batch] tensors in and out', async () => {
    const loaded = await loadModel('scalar_batch');
    try {
      const input = loaded.config.input[0];
      assert.deepEqual(input?.dims.map(Number), [1]);
      assert.deepEqual(input?.reshape?.shape, []);
      const instance = await createInstance(loaded);
      const data = bytesOf(Float32Array.of(1, -2, 3));
      const result = await instance.execute([request([tensor('INPUT0', 'FP32', [3], data)], ['OUTPUT0'], 3)]);
      const [output] = tensorsOf(result.responses[0]);
      assert.deepEqual(output?.shape, [3]);
      assert.deepEqual([...new Float32Array(Uint8Array.from(output?.data ?? []).buffer)], [-1, 2, -3]);
    } finally {
      await loaded.model.close();
    }
  });

  it('scalar_rank0: dims [1] without reshape; the output takes the config shape', async () => {
    const loaded = await loadModel('scalar_rank0');
    try {
      assert.equal(loaded.config.maxBatchSize, 0);
      assert.equal(loaded.config.input[0]?.reshape, undefined);
      const instance = await createInstance(loaded);
      const data = bytesOf(Float32Array.of(2.5));
      const result = await instance.execute([request([tensor('INPUT0', 'FP32', [1], data)], ['OUTPUT0'])]);
      const [output] = tensorsOf(result.responses[0]);
      assert.deepEqual(output?.shape, [1]);
      assert.deepEqual([...new Float32Array(Uint8Array.from(output?.data ?? []).buffer)], [-2.5]);
    } finally {
      await loaded.model.close();
    }
  });

  it('reports an initializer that is also a graph input as an optional input, after the inputs', async () => {
    const loaded = await loadModel('optional_initializer');
    await loaded.model.close();
    assert.deepEqual(loaded.model.io.inputs, [
      { name: 'INPUT0', type: 'float32', shape: [3] },
      { name: 'BIAS', type: 'float32', shape: [3], optional: true },
    ]);
    assert.deepEqual(
      loaded.config.input.map((io) => [io.name, io.optional]),
      [
        ['INPUT0', false],
        ['BIAS', true],
      ],
    );
  });

  it('runs with the initializer when a request leaves BIAS out, and with the request\'s BIAS otherwise', async () => {
    const loaded = await loadModel('optional_initializer_config', { useConfigFile: true, autoComplete: false });
    try {
      const instance = await createInstance(loaded);
      const input0 = tensor('INPUT0', 'FP32', [3], bytesOf(Float32Array.of(1, 2, 3)));
      const bias = tensor('BIAS', 'FP32', [3], bytesOf(Float32Array.of(-1, 0, 1)));
      const result = await instance.execute([request([input0], ['OUTPUT0']), request([bias, input0], ['OUTPUT0'])]);
      const values = result.responses.map((response) => {
        const [output] = tensorsOf(response);
        return [...new Float32Array(Uint8Array.from(output?.data ?? []).buffer)];
      });
      assert.deepEqual(values, [
        [11, 22, 33],
        [0, 2, 4],
      ]);
    } finally {
      await loaded.model.close();
    }
  });

  it('a batching model with an overridable initializer loads without it; optional: true is refused', async () => {
    const loaded = await loadModel('optional_initializer_batching');
    await loaded.model.close();
    assert.equal(loaded.config.maxBatchSize, 4);
    assert.deepEqual(loaded.config.input.map((io) => io.name), ['INPUT0']);
    await assert.rejects(
      loadModel('optional_initializer_batching', {
        config: {
          maxBatchSize: 4,
          input: [
            { name: 'INPUT0', dataType: DataType.TYPE_FP32, dims: [3n] },
            { name: 'BIAS', dataType: DataType.TYPE_FP32, dims: [3n], optional: true },
          ],
          output: [{ name: 'OUTPUT0', dataType: DataType.TYPE_FP32, dims: [3n] }],
        },
      }),
      (error) =>
        error instanceof ServerError &&
        error.code === 'INVALID_ARG' &&
        error.message ===
          "unable to load model 'optional_initializer_batching', optional input 'BIAS' is not supported for models that support batching",
    );
  });

  it('loads a model.onnx folder with external data', async () => {
    const modelPath = path.join(FIXTURES, 'external_data', '1', 'model.onnx');
    const loaded = await loadModel('external_data', { modelPath });
    try {
      const instance = await createInstance(loaded);
      const data = bytesOf(Float32Array.of(1, 2, 3, 4));
      const result = await instance.execute([request([tensor('INPUT0', 'FP32', [1, 4], data)], ['OUTPUT0'])]);
      const [output] = tensorsOf(result.responses[0]);
      assert.deepEqual([...new Float32Array(Uint8Array.from(output?.data ?? []).buffer)], [2, 4, 6, 8]);
    } finally {
      await loaded.model.close();
    }
  });

  it('a missing model file is UNAVAILABLE', async () => {
    await assert.rejects(
      loadModel('identity_fp32', { modelPath: path.join(FIXTURES, 'identity_fp32', '1', 'nope.onnx') }),
      (error) => error instanceof ServerError && error.code === 'UNAVAILABLE' && error.message.includes('nope.onnx'),
    );
  });

  it('a file onnxruntime cannot read fails the load with INTERNAL, on either thread', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nereid-ort-bad-'));
    try {
      await mkdir(path.join(dir, 'broken', '1'), { recursive: true });
      await writeFile(path.join(dir, 'broken', '1', 'model.onnx'), 'not a model');
      for (const thread of ['main', 'worker']) {
        await assert.rejects(
          loadModel('broken', {
            repository: dir,
            config: { parameters: { execution_thread: { stringValue: thread } } },
          }),
          (error) =>
            error instanceof ServerError &&
            error.code === 'INTERNAL' &&
            error.message.startsWith("onnx runtime error: failed to load model 'broken'"),
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a bad execution_mode fails the load naming it', async () => {
    await assert.rejects(
      loadModel('identity_fp32', { config: { parameters: { execution_mode: { stringValue: '7' } } } }),
      (error) => error instanceof ServerError && error.code === 'INVALID_ARG' && /execution_mode/.test(error.message),
    );
  });
});
