import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';
import { DATATYPE_MODELS } from '../helpers/test-repository.js';
import { TransportError, type Transport, type WireTensor } from './transport.js';

/**
 * The KServe v2 / Triton protocol cases, run unchanged over every transport (HTTP and gRPC) against
 * a real server with real ONNX models: the Hono common.case pattern.
 */
/** What the cases expect of the backend serving `simple`. */
export interface SimpleBackendFacts {
  readonly platform: string;
  readonly instanceCount: number;
}

export const ONNX_SIMPLE: SimpleBackendFacts = { platform: 'onnxruntime_onnx', instanceCount: 2 };

export function protocolCases(transport: () => Transport, simpleFacts: SimpleBackendFacts = ONNX_SIMPLE): void {
  const t = (): Transport => transport();

  async function rejects(call: Promise<unknown>, codes: readonly TransportError['code'][], message: RegExp): Promise<void> {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
      assert.ok(codes.includes(error.code), `code ${error.code} not in ${codes.join('/')}: ${error.message}`);
      assert.match(error.message, message);
      return true;
    });
  }

  const int32 = (values: number[]): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
  const simpleInputs = (a: number[], b: number[]): WireTensor[] => [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(a) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(b) },
  ];
  const range = Array.from({ length: 16 }, (_, i) => i);
  const ones = Array.from({ length: 16 }, () => 1);
  const readInt32 = (data: Uint8Array): number[] => Array.from(new Int32Array(Uint8Array.from(data).buffer));

  test('health and server metadata', async () => {
    assert.equal(await t().serverLive(), true);
    assert.equal(await t().serverReady(), true);
    const metadata = await t().serverMetadata();
    assert.equal(metadata.name, 'triton');
    for (const extension of ['binary_tensor_data', 'classification', 'statistics', 'model_configuration', 'system_shared_memory']) {
      assert.ok(metadata.extensions.includes(extension), `extension ${extension}`);
    }
  });

  test('model readiness and metadata', async () => {
    assert.equal(await t().modelReady('simple'), true);
    assert.equal(await t().modelReady('simple', '1'), true);
    assert.equal(await t().modelReady('simple', '9'), false);
    assert.equal(await t().modelReady('no_such_model'), false);
    const metadata = await t().modelMetadata('simple');
    assert.deepEqual(metadata.versions, ['1']);
    assert.equal(metadata.platform, simpleFacts.platform);
    assert.deepEqual(metadata.inputs, [
      { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
    ]);
    assert.deepEqual(metadata.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
    await rejects(t().modelMetadata('no_such_model'), ['NOT_FOUND'], /Request for unknown model: 'no_such_model' is not found/);
    await rejects(t().modelMetadata('simple', '3'), ['NOT_FOUND'], /'simple' version 3 is not found/);
  });

  test('configuration, including one auto-completed from the ONNX file', async () => {
    const simple = await t().modelConfig('simple');
    assert.equal(simple.max_batch_size, 8);
    assert.equal(simple.instance_count, simpleFacts.instanceCount, 'the backend\'s default CPU instance count');
    const completed = await t().modelConfig('add_sub_no_config');
    assert.equal(completed.name, 'add_sub_no_config');
    assert.equal(completed.max_batch_size, 4, 'default-max-batch-size');
    assert.deepEqual(completed.preferred_batch_size, [4], 'dynamic_batching {} added, then normalised');
    assert.ok(completed.input_names.length > 0, 'inputs read from the model');
  });

  test('simple adds and subtracts; id echoed; outputs subset', async () => {
    const result = await t().infer({ model: 'simple', id: 'req-42', inputs: simpleInputs(range, ones) });
    assert.equal(result.modelName, 'simple');
    assert.equal(result.modelVersion, '1');
    assert.equal(result.id, 'req-42');
    const byName = new Map(result.outputs.map((o) => [o.name, o]));
    assert.deepEqual(readInt32(byName.get('OUTPUT0')!.data), range.map((v) => v + 1));
    assert.deepEqual(readInt32(byName.get('OUTPUT1')!.data), range.map((v) => v - 1));
    assert.deepEqual(byName.get('OUTPUT0')!.shape, [1, 16]);
    const subset = await t().infer({ model: 'simple', inputs: simpleInputs(range, range), outputs: [{ name: 'OUTPUT1' }] });
    assert.deepEqual(subset.outputs.map((o) => o.name), ['OUTPUT1']);
    assert.deepEqual(readInt32(subset.outputs[0]!.data), Array(16).fill(0));
    assert.equal(subset.id, '');
  });

  for (const [datatype, model] of Object.entries(DATATYPE_MODELS)) {
    test(`identity round trip of ${datatype}`, async () => {
      let data: Uint8Array;
      let shape: number[];
      if (datatype === 'BYTES') {
        const elements = [Buffer.from('plain'), Buffer.from([0, 1, 0, 2]), Buffer.from([0xff, 0xfe, 0x80]), Buffer.alloc(0), Buffer.from('é\0x')];
        data = encodeBytesElements(elements);
        shape = [1, elements.length];
      } else {
        const size = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 }[datatype]!;
        data = randomBytes(size * 6);
        if (datatype === 'BOOL') data = data.map((b) => b & 1);
        if (datatype === 'FP16' || datatype === 'BF16') data = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0000, 0x7bff, 0x3555, 0x0001]).buffer);
        if (datatype === 'FP32') data = new Uint8Array(Float32Array.from([1.5, -2, 0, 3.25e10, -1e-20, 7]).buffer);
        if (datatype === 'FP64') data = new Uint8Array(Float64Array.from([1.5, -2, 0, 3.25e100, -1e-200, 7]).buffer);
        shape = [2, 3];
      }
      const result = await t().infer({ model, inputs: [{ name: 'INPUT0', datatype, shape, data }] });
      const output = result.outputs[0]!;
      assert.equal(output.datatype, datatype);
      assert.deepEqual(output.shape, shape);
      if (datatype === 'BYTES') {
        assert.deepEqual(decodeBytesElements(output.data).map((e) => Buffer.from(e).toString('hex')), decodeBytesElements(data).map((e) => Buffer.from(e).toString('hex')));
      } else {
        assert.equal(Buffer.from(output.data).toString('hex'), Buffer.from(data).toString('hex'));
      }
    });
  }

  test('bad requests name the tensor, the expected and the actual value', async () => {
    await rejects(t().infer({ model: 'no_such_model', inputs: simpleInputs(range, range) }), ['NOT_FOUND'], /Request for unknown model: 'no_such_model' is not found/);
    await rejects(
      t().infer({ model: 'simple', inputs: [simpleInputs(range, range)[0]!, { name: 'INPUT1', datatype: 'INT32', shape: [1, 15], data: int32(range.slice(1)) }] }),
      ['INVALID_ARG'],
      /unexpected shape for input 'INPUT1' for model 'simple'\. Expected \[-1,16\], got \[1,15\]/,
    );
    await rejects(
      t().infer({ model: 'simple', inputs: [simpleInputs(range, range)[0]!, { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: int32(range) }] }),
      ['INVALID_ARG'],
      /inference input 'INPUT1' data-type is 'FP32', but model 'simple' expects 'INT32'/,
    );
    await rejects(t().infer({ model: 'simple', inputs: simpleInputs(range, range).slice(0, 1) }), ['INVALID_ARG'], /missing required input\(s\) \['INPUT1'\]/);
    await rejects(t().infer({ model: 'simple', inputs: simpleInputs(range, range), outputs: [{ name: 'NOPE' }] }), ['INVALID_ARG'], /unexpected inference output 'NOPE'/);
    await rejects(t().infer({ model: 'simple', version: '7', inputs: simpleInputs(range, range) }), ['NOT_FOUND'], /'simple' version 7 is not found/);
    await rejects(
      t().infer({ model: 'runtime_error', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(16) }] }),
      ['INTERNAL'],
      /./,
    );
    const after = await t().infer({ model: 'simple', inputs: simpleInputs(range, ones) });
    assert.equal(after.outputs.length, 2, 'the server keeps serving after errors');
  });

  // OUTPUT0 = INPUT0 + BIAS; BIAS is an ONNX initializer that is also a graph input ([10, 20, 30]).
  const fp32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
  const readFp32 = (data: Uint8Array): number[] => Array.from(new Float32Array(Uint8Array.from(data).buffer));
  const input0 = (values: number[], shape = [3]): WireTensor => ({ name: 'INPUT0', datatype: 'FP32', shape, data: fp32(values) });
  const bias = (values: number[], shape = [3]): WireTensor => ({ name: 'BIAS', datatype: 'FP32', shape, data: fp32(values) });

  test('optional inputs: auto-complete lists an overridable initializer as optional', async () => {
    const expected = [
      { name: 'INPUT0', data_type: 'TYPE_FP32', dims: [3], optional: false },
      { name: 'BIAS', data_type: 'TYPE_FP32', dims: [3], optional: true },
    ];
    const completed = await t().modelConfig('optional_initializer');
    assert.equal(completed.max_batch_size, 0, 'INPUT0 is [3]: the model cannot batch');
    assert.deepEqual(completed.input, expected);
    const written = await t().modelConfig('optional_initializer_config');
    assert.deepEqual(written.input, expected, 'config.pbtxt with `optional: true` is kept as written');
    const metadata = await t().modelMetadata('optional_initializer');
    assert.deepEqual(metadata.inputs, [
      { name: 'INPUT0', datatype: 'FP32', shape: [3] },
      { name: 'BIAS', datatype: 'FP32', shape: [3] },
    ]);
  });

  for (const model of ['optional_initializer', 'optional_initializer_config']) {
    test(`optional inputs (${model}): omitted uses the initializer, sent overrides it`, async () => {
      const omitted = await t().infer({ model, inputs: [input0([1, 2, 3])] });
      assert.deepEqual(omitted.outputs.map((o) => [o.name, o.shape]), [['OUTPUT0', [3]]]);
      assert.deepEqual(readFp32(omitted.outputs[0]!.data), [11, 22, 33]);
      const sent = await t().infer({ model, inputs: [input0([1, 2, 3]), bias([100, 200, 300])] });
      assert.deepEqual(readFp32(sent.outputs[0]!.data), [101, 202, 303]);
      const sentFirst = await t().infer({ model, inputs: [bias([-1, -2, -3]), input0([1, 2, 3])] });
      assert.deepEqual(readFp32(sentFirst.outputs[0]!.data), [0, 0, 0], 'input order does not matter');
      const again = await t().infer({ model, inputs: [input0([0.5, 0, -1])] });
      assert.deepEqual(readFp32(again.outputs[0]!.data), [10.5, 20, 29], 'an override lasts one request');
    });
  }

  test('optional inputs: a required input is still required, and a sent optional input is checked', async () => {
    await rejects(
      t().infer({ model: 'optional_initializer', inputs: [bias([1, 2, 3])] }),
      ['INVALID_ARG'],
      /^\[request id: <id_unknown>\] expected number of inputs between 1 and 2 but got 1 inputs for model 'optional_initializer'\. Got input\(s\) \['BIAS'\], but missing required input\(s\) \['INPUT0'\]\. Please provide all required input\(s\)\.$/,
    );
    await rejects(
      t().infer({ model: 'optional_initializer_config', inputs: [] }),
      ['INVALID_ARG'],
      /expected number of inputs between 1 and 2 but got 0 inputs for model 'optional_initializer_config'\. Got input\(s\) \[\], but missing required input\(s\) \['INPUT0'\]/,
    );
    await rejects(
      t().infer({ model: 'optional_initializer', inputs: [input0([1, 2, 3]), bias([1, 2], [2])] }),
      ['INVALID_ARG'],
      /unexpected shape for input 'BIAS' for model 'optional_initializer'\. Expected \[3\], got \[2\]/,
    );
    await rejects(
      t().infer({ model: 'optional_initializer', inputs: [input0([1, 2, 3]), { name: 'BIAS', datatype: 'INT32', shape: [3], data: int32([1, 2, 3]) }] }),
      ['INVALID_ARG'],
      /inference input 'BIAS' data-type is 'INT32', but model 'optional_initializer' expects 'FP32'/,
    );
  });

  test('optional inputs: a batching model with an overridable initializer batches without it', async () => {
    const model = 'optional_initializer_batching';
    const config = await t().modelConfig(model);
    assert.equal(config.max_batch_size, 4, 'batching decided by INPUT0 and OUTPUT0 only');
    assert.deepEqual(config.input, [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [3], optional: false }]);
    const [one, two] = await Promise.all([
      t().infer({ model, inputs: [input0([1, 2, 3, 4, 5, 6], [2, 3])] }),
      t().infer({ model, inputs: [input0([-10, -20, -30], [1, 3])] }),
    ]);
    assert.deepEqual(one!.outputs[0]!.shape, [2, 3]);
    assert.deepEqual(readFp32(one!.outputs[0]!.data), [11, 22, 33, 14, 25, 36]);
    assert.deepEqual(two!.outputs[0]!.shape, [1, 3]);
    assert.deepEqual(readFp32(two!.outputs[0]!.data), [0, 0, 0]);
    await rejects(
      t().infer({ model, inputs: [input0([1, 2, 3], [1, 3]), bias([1, 2, 3])] }),
      ['INVALID_ARG'],
      /unexpected inference input 'BIAS' for model 'optional_initializer_batching'/,
    );
  });

  test('classification returns top-k "value:index:label" strings', async () => {
    const result = await t().infer({
      model: 'simple_labels',
      inputs: simpleInputs(range, ones),
      outputs: [{ name: 'OUTPUT0', parameters: { classification: 3 } }],
    });
    const output = result.outputs[0]!;
    assert.equal(output.datatype, 'BYTES');
    assert.deepEqual(output.shape, [1, 3]);
    assert.deepEqual(decodeBytesElements(output.data).map((e) => Buffer.from(e).toString()), ['16:15:label_15', '15:14:label_14', '14:13:label_13']);
  });

  test('statistics count successes and batch-weighted inferences; a request refused by the shape check is not counted', async () => {
    const before = await t().statistics('identity_int32');
    const data = new Uint8Array(Int32Array.from([1, 2, 3, 4]).buffer);
    await t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 2], data }] });
    await t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data }] });
    await t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 3], data }] }).catch(() => undefined);
    const after = await t().statistics('identity_int32');
    assert.equal(after.success - before.success, 2);
    // Triton refuses a malformed request before it enters the model (PrepareForInference): no statistics.
    assert.equal(after.fail - before.fail, 0);
    assert.equal(after.inferenceCount - before.inferenceCount, 3);
    assert.equal(after.executionCount - before.executionCount, 2);
  });

  test('repository index lists every model with its state', async () => {
    const index = await t().repositoryIndex();
    const simple = index.find((entry) => entry.name === 'simple');
    assert.deepEqual(simple, { name: 'simple', version: '1', state: 'READY' });
    assert.ok(index.length >= 18);
  });

  test('system shared memory: inputs read from and outputs written to a registered region', async () => {
    const key = `/nereid-conf-${t().name}-${process.pid}`;
    const path = `/dev/shm${key}`;
    const region = Buffer.alloc(256);
    Buffer.from(int32(range)).copy(region, 0);
    Buffer.from(int32(ones)).copy(region, 64);
    writeFileSync(path, region);
    try {
      await t().registerSystemShm('conf_region', key, 0, 256);
      assert.deepEqual(await t().systemShmStatus('conf_region'), [{ name: 'conf_region', key, offset: 0, byte_size: 256 }]);
      await rejects(t().registerSystemShm('conf_region', key, 0, 16), ['ALREADY_EXISTS', 'INVALID_ARG'], /already in manager/);
      const result = await t().infer({
        model: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'conf_region', shared_memory_byte_size: 64 } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'conf_region', shared_memory_offset: 64, shared_memory_byte_size: 64 } },
        ],
        outputs: [
          { name: 'OUTPUT0', parameters: { shared_memory_region: 'conf_region', shared_memory_offset: 128, shared_memory_byte_size: 64 } },
          { name: 'OUTPUT1' },
        ],
      });
      const out0 = result.outputs.find((o) => o.name === 'OUTPUT0')!;
      assert.equal(out0.data.byteLength, 0, 'no bytes on the wire for an output in shared memory');
      assert.deepEqual(out0.shape, [1, 16]);
      assert.deepEqual(readInt32(readFileSync(path).subarray(128, 192)), range.map((v) => v + 1));
      assert.deepEqual(readInt32(result.outputs.find((o) => o.name === 'OUTPUT1')!.data), range.map((v) => v - 1));
      await rejects(
        t().infer({ model: 'simple', inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'conf_region', shared_memory_offset: 224, shared_memory_byte_size: 64 } },
          simpleInputs(range, range)[1]!,
        ] }),
        ['INVALID_ARG'],
        /Invalid offset \+ byte size for shared memory region: 'conf_region'/,
      );
      await rejects(
        t().infer({ model: 'simple', inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(0), parameters: { shared_memory_region: 'nope', shared_memory_byte_size: 64 } },
          simpleInputs(range, range)[1]!,
        ] }),
        ['NOT_FOUND', 'INVALID_ARG'],
        /Unable to find shared memory region: 'nope'/,
      );
      await t().unregisterSystemShm('conf_region');
      assert.deepEqual(await t().systemShmStatus(), []);
    } finally {
      await t().unregisterSystemShm().catch(() => undefined);
      unlinkSync(path);
    }
  });

  test('CUDA shared memory: register is unsupported on this CPU build; status and unregister succeed', async () => {
    await rejects(t().registerCudaShm('gpu_region'), ['UNSUPPORTED'], /CUDA shared memory is not supported/);
    assert.deepEqual(await t().cudaShmStatus(), []);
    await t().unregisterCudaShm();
    await t().unregisterCudaShm('gpu_region');
  });

  /** Fails (instead of hanging the test run) when the server does not answer within `ms`. */
  function within<T>(ms: number, call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  /** The most a capped error message can hold (4 KiB of UTF-8 plus the JSON/percent encoding slack). */
  const MAX_ERROR_CHARS = 4096;

  test('huge client-sent names and ids get a prompt, bounded error, and the connection keeps serving', async () => {
    const hugeId = 'i'.repeat(100_000);
    // A URL of 100,000 characters exceeds node's header limit before any route runs; HTTP sends the
    // name in the path, so it gets the largest name node lets through (the gRPC message carries any).
    const hugeModel = 'm'.repeat(t().name === 'http' ? 10_000 : 100_000);
    const hugeTensor = 'T'.repeat(100_000);
    const cases: { call: () => Promise<unknown>; codes: TransportError['code'][]; message: RegExp }[] = [
      { call: () => t().infer({ model: hugeModel, inputs: simpleInputs(range, ones) }), codes: ['NOT_FOUND', 'INVALID_ARG'], message: /^Request for unknown model: 'mmmm/ },
      {
        call: () => t().infer({ model: 'simple', id: hugeId, inputs: simpleInputs(range, ones).slice(0, 1) }),
        codes: ['INVALID_ARG'],
        message: /^\[request id: i{256}\.\.\.\[100000 chars\]\] expected 2 inputs but got 1 inputs for model 'simple'/,
      },
      {
        call: () => t().infer({ model: 'simple', id: hugeId, inputs: [...simpleInputs(range, ones), { name: hugeTensor, datatype: 'INT32', shape: [1, 16], data: int32(range) }] }),
        codes: ['INVALID_ARG'],
        message: /unexpected inference input 'T{256}\.\.\.\[100000 chars\]' for model 'simple'$/,
      },
      { call: () => t().modelMetadata(hugeModel), codes: ['NOT_FOUND', 'INVALID_ARG'], message: /^Request for unknown model: 'mmmm/ },
    ];
    if (t().name === 'grpc') {
      // grpc-message is percent-encoded: each byte of a non-ASCII name costs three on the wire.
      const wide = 'é😀'.repeat(30_000);
      cases.push({ call: () => t().modelMetadata(wide), codes: ['NOT_FOUND', 'INVALID_ARG'], message: /^Request for unknown model: 'é😀/ });
      cases.push({ call: () => t().infer({ model: wide, inputs: simpleInputs(range, ones) }), codes: ['NOT_FOUND', 'INVALID_ARG'], message: /^Request for unknown model: 'é😀/ });
    }
    for (const { call, codes, message } of cases) {
      await assert.rejects(within(5000, call()), (error: unknown) => {
        assert.ok(error instanceof TransportError, String(error));
        assert.ok(codes.includes(error.code), `${error.code}: ${error.message.slice(0, 200)}`);
        assert.match(error.message, message);
        assert.ok(error.message.length <= MAX_ERROR_CHARS, `message of ${error.message.length} chars`);
        return true;
      });
    }
    // The same client, on the same connection, is still answered.
    const after = await within(5000, t().infer({ model: 'simple', id: 'after', inputs: simpleInputs(range, ones) }));
    assert.equal(after.id, 'after');
    assert.deepEqual(readInt32(after.outputs.find((o) => o.name === 'OUTPUT0')!.data), range.map((v) => v + 1));
  });

  test('a negative dimension is INVALID_ARG from the shape check, never reaching the backend', async () => {
    const shapeError = t().name === 'http' ? /Unable to parse 'shape'/ : /./;
    // identity_int32 takes [-1,-1] (batch, then any length): [-3,0] holds no elements, so nothing
    // but the shape check can refuse it.
    await rejects(
      t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-3, 0], data: new Uint8Array(0) }] }),
      ['INVALID_ARG'],
      t().name === 'http' ? shapeError : /^\[request id: <id_unknown>\] unexpected shape for input 'INPUT0' for model 'identity_int32'\. Expected \[-1,-1\], got \[-3,0\]\./,
    );
    await rejects(
      t().infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-2, 16], data: int32(range) }, simpleInputs(range, ones)[1]!] }),
      ['INVALID_ARG'],
      t().name === 'http' ? shapeError : /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[-2,16\]\./,
    );
    await rejects(
      t().infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 16], data: int32(range) }, simpleInputs(range, ones)[1]!] }),
      ['INVALID_ARG'],
      t().name === 'http' ? shapeError : /All input dimensions should be specified for input 'INPUT0' for model 'simple', got \[-1,16\]/,
    );
    await rejects(
      t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [0, -4], data: new Uint8Array(0) }] }),
      ['INVALID_ARG'],
      t().name === 'http' ? shapeError : /unexpected shape for input 'INPUT0' for model 'identity_int32'\. Expected \[-1,-1\], got \[0,-4\]/,
    );
    const after = await t().infer({ model: 'identity_int32', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: int32([5, 6]) }] });
    assert.deepEqual(readInt32(after.outputs[0]!.data), [5, 6]);
  });

  test("a version that is not an integer gets Triton's text, on every endpoint taking a version", async () => {
    const text = "failed to get model version from specified version string 'wrong_specification' (details: stol), version should be an integral value > 0";
    const exactly = new RegExp(`^${text.replace(/[()]/g, '\\$&')}$`);
    await rejects(t().infer({ model: 'simple', version: 'wrong_specification', inputs: simpleInputs(range, ones) }), ['INVALID_ARG'], exactly);
    await rejects(t().modelMetadata('simple', 'wrong_specification'), ['INVALID_ARG'], exactly);
    await rejects(t().modelConfig('simple', 'wrong_specification'), ['INVALID_ARG'], exactly);
    await rejects(t().modelReady('simple', 'wrong_specification'), ['INVALID_ARG'], exactly);
    await rejects(
      t().infer({ model: 'simple', version: '-1', inputs: simpleInputs(range, ones) }),
      ['INVALID_ARG'],
      /^invalid model version specified '-1' , version should be an integral value > 0$/,
    );
    // Versions are int64, read exactly: one past 2^53 is not rounded onto an existing version.
    await rejects(t().modelMetadata('simple', '9007199254740993'), ['NOT_FOUND'], /'simple' version 9007199254740993 is not found/);
    await rejects(t().modelMetadata('simple', '9223372036854775808'), ['INVALID_ARG'], /^failed to get model version from specified version string '9223372036854775808'/);
    const result = await t().infer({ model: 'simple', version: '01', inputs: simpleInputs(range, ones) });
    assert.equal(result.modelVersion, '1');
  });
}
