import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { decodeBytesElements, encodeBytesElements } from '@nereid/protocol';
import type {
  InferParameterSchema,
  InferTensorContentsSchema,
  ModelInferRequest,
  ModelInferRequestSchema,
} from '@nereid/protocol/generated/grpc_service_pb';
import { assertStatus } from './assert-status.js';
import { startFixture, type GrpcFixture } from './start.js';

/** ModelInfer over a real socket: raw and typed contents, parameters, shared memory, errors, cancel. */

/** The plain-object form of a request init (not an already created message), so it can be spread. */
type RequestInit = Exclude<MessageInitShape<typeof ModelInferRequestSchema>, ModelInferRequest>;
type ContentsInit = MessageInitShape<typeof InferTensorContentsSchema>;
type Choice = NonNullable<MessageInitShape<typeof InferParameterSchema>['parameterChoice']>;

const status = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function rawInput(datatype: string, shape: number[], data: Uint8Array, name = 'INPUT0'): RequestInit {
  return {
    modelName: 'echo',
    inputs: [{ name, datatype, shape: shape.map(BigInt) }],
    rawInputContents: [data],
  };
}

function typedInput(datatype: string, shape: number[], contents: ContentsInit): RequestInit {
  return { modelName: 'echo', inputs: [{ name: 'INPUT0', datatype, shape: shape.map(BigInt), contents }] };
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const BYTES_ELEMENTS = [utf8('a\0b'), new Uint8Array(0), new Uint8Array([0, 0, 255, 0]), utf8('héllo')];

/** One case per datatype: typed contents and the little-endian bytes they stand for. */
const TYPED_CASES: { datatype: string; contents: ContentsInit; bytes: Uint8Array }[] = [
  { datatype: 'BOOL', contents: { boolContents: [true, false, true] }, bytes: new Uint8Array([1, 0, 1]) },
  { datatype: 'INT8', contents: { intContents: [-1, 127, -128] }, bytes: bytesOf(Int8Array.of(-1, 127, -128)) },
  { datatype: 'INT16', contents: { intContents: [-2, 300, -32768] }, bytes: bytesOf(Int16Array.of(-2, 300, -32768)) },
  { datatype: 'INT32', contents: { intContents: [-3, 70000, 2 ** 31 - 1] }, bytes: bytesOf(Int32Array.of(-3, 70000, 2 ** 31 - 1)) },
  { datatype: 'INT64', contents: { int64Contents: [-(2n ** 62n), 5n, 2n ** 63n - 1n] }, bytes: bytesOf(BigInt64Array.of(-(2n ** 62n), 5n, 2n ** 63n - 1n)) },
  { datatype: 'UINT8', contents: { uintContents: [0, 1, 255] }, bytes: new Uint8Array([0, 1, 255]) },
  { datatype: 'UINT16', contents: { uintContents: [0, 65535, 256] }, bytes: bytesOf(Uint16Array.of(0, 65535, 256)) },
  { datatype: 'UINT32', contents: { uintContents: [0, 2 ** 32 - 1, 7] }, bytes: bytesOf(Uint32Array.of(0, 2 ** 32 - 1, 7)) },
  { datatype: 'UINT64', contents: { uint64Contents: [0n, 2n ** 64n - 1n, 9n] }, bytes: bytesOf(BigUint64Array.of(0n, 2n ** 64n - 1n, 9n)) },
  { datatype: 'FP32', contents: { fp32Contents: [1.5, -2.25, 0] }, bytes: bytesOf(Float32Array.of(1.5, -2.25, 0)) },
  { datatype: 'FP64', contents: { fp64Contents: [Math.PI, -1e300, 0.1] }, bytes: bytesOf(Float64Array.of(Math.PI, -1e300, 0.1)) },
];

describe('gRPC ModelInfer', () => {
  let fx: GrpcFixture;

  before(async () => {
    fx = await startFixture();
  });

  after(async () => {
    await fx.close();
  });

  it('echoes raw contents of every datatype, with id, model name and version', async () => {
    const datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'BF16', 'FP32', 'FP64'];
    for (const datatype of datatypes) {
      const data = new Uint8Array(24).map((_, i) => (i * 37 + datatype.length) & 0xff);
      const response = await fx.client.call('modelInfer', { ...rawInput(datatype, [1, 3], data), id: `id-${datatype}` });
      assert.equal(response.id, `id-${datatype}`);
      assert.equal(response.modelName, 'echo');
      assert.equal(response.modelVersion, '1');
      assert.equal(response.outputs.length, 1);
      const output = response.outputs[0]!;
      assert.deepEqual([output.name, output.datatype, output.shape], ['OUTPUT0', datatype, [1n, 3n]]);
      assert.equal(output.contents, undefined, 'outputs never use typed contents');
      assert.deepEqual(response.rawOutputContents.map((b) => [...b]), [[...data]]);
    }
  });

  it('echoes raw BYTES with NUL bytes, length-prefixed', async () => {
    const raw = encodeBytesElements(BYTES_ELEMENTS);
    const response = await fx.client.call('modelInfer', rawInput('BYTES', [4], raw));
    assert.deepEqual(
      decodeBytesElements(response.rawOutputContents[0]!).map((e) => [...e]),
      BYTES_ELEMENTS.map((e) => [...e]),
    );
  });

  it('converts typed contents of every datatype to raw output bytes', async () => {
    for (const { datatype, contents, bytes } of TYPED_CASES) {
      const response = await fx.client.call('modelInfer', typedInput(datatype, [3], contents));
      assert.equal(response.outputs[0]?.datatype, datatype);
      assert.deepEqual([...response.rawOutputContents[0]!], [...bytes], datatype);
    }
    const response = await fx.client.call('modelInfer', typedInput('BYTES', [2, 2], { bytesContents: BYTES_ELEMENTS }));
    assert.deepEqual(response.rawOutputContents[0], encodeBytesElements(BYTES_ELEMENTS));
  });

  it('refuses typed contents that do not match the datatype or the shape', async () => {
    await assertStatus(
      fx.client.call('modelInfer', typedInput('FP16', [1], { fp32Contents: [1] })),
      status.INVALID_ARGUMENT,
      "unexpected explicit tensor data for input tensor 'INPUT0' for model 'echo' of type 'FP32', expected datatype 'FP16'",
    );
    await assertStatus(
      fx.client.call('modelInfer', typedInput('FP32', [1], { intContents: [1] })),
      status.INVALID_ARGUMENT,
      "unexpected explicit tensor data for input tensor 'INPUT0' for model 'echo' of type 'INT32', expected datatype 'FP32'",
    );
    await assertStatus(
      fx.client.call('modelInfer', typedInput('INT32', [1], { intContents: [1], fp32Contents: [1] })),
      status.INVALID_ARGUMENT,
      "unexpected explicit tensor data for input tensor 'INPUT0' for model 'echo', binary data was already supplied.",
    );
    await assertStatus(
      fx.client.call('modelInfer', typedInput('INT32', [2, 2], { intContents: [1, 2, 3] })),
      status.INVALID_ARGUMENT,
      "unexpected number of elements in typed contents of input tensor 'INPUT0' for model 'echo': got 3, expected 4 for shape [2,2]",
    );
  });

  it('refuses mixing raw and typed contents, and inputs without data', async () => {
    const mixed: RequestInit = {
      modelName: 'echo',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n], contents: { intContents: [1] } },
      ],
      rawInputContents: [new Uint8Array(4)],
    };
    await assertStatus(
      fx.client.call('modelInfer', mixed),
      status.INVALID_ARGUMENT,
      "contents field must not be specified when using raw_input_contents for 'INPUT1' for model 'echo'",
    );
    const missing: RequestInit = { ...mixed, inputs: [mixed.inputs![0]!, { name: 'INPUT1', datatype: 'INT32', shape: [1n] }] };
    await assertStatus(
      fx.client.call('modelInfer', missing),
      status.INVALID_ARGUMENT,
      "unable to find data for input tensor 'INPUT1' for model 'echo' in request.",
    );
  });

  it('returns only the requested outputs, in the requested order', async () => {
    const a = bytesOf(Float32Array.of(1, 2));
    const b = bytesOf(Float32Array.of(3, 4));
    const response = await fx.client.call('modelInfer', {
      modelName: 'echo',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1n, 2n] },
        { name: 'INPUT1', datatype: 'FP32', shape: [1n, 2n] },
      ],
      outputs: [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }],
      rawInputContents: [a, b],
    });
    assert.deepEqual(response.outputs.map((o) => o.name), ['OUTPUT1', 'OUTPUT0']);
    assert.deepEqual(response.rawOutputContents.map((r) => [...r]), [[...b], [...a]]);
  });

  it('sends an empty raw entry for outputs placed in shared memory; shm inputs take no raw entry', async () => {
    const data = bytesOf(Int32Array.of(7, 8));
    const response = await fx.client.call('modelInfer', {
      modelName: 'echo',
      inputs: [
        {
          name: 'INPUT0',
          datatype: 'INT32',
          shape: [2n],
          parameters: {
            shared_memory_region: { parameterChoice: { case: 'stringParam', value: 'in' } },
            shared_memory_byte_size: { parameterChoice: { case: 'int64Param', value: 8n } },
          },
        },
        { name: 'INPUT1', datatype: 'INT32', shape: [2n] },
      ],
      outputs: [
        {
          name: 'OUTPUT0',
          parameters: {
            shared_memory_region: { parameterChoice: { case: 'stringParam', value: 'out' } },
            shared_memory_byte_size: { parameterChoice: { case: 'int64Param', value: 8n } },
          },
        },
        { name: 'OUTPUT1' },
      ],
      rawInputContents: [data],
    });
    const seen = fx.core.inferCalls.at(-1)!;
    assert.equal(seen.inputs[0]?.data.byteLength, 0);
    assert.deepEqual(seen.inputs[0]?.parameters, { shared_memory_region: 'in', shared_memory_byte_size: 8 });
    assert.deepEqual([...seen.inputs[1]!.data], [...data]);
    assert.deepEqual(seen.outputs?.[0]?.parameters, { shared_memory_region: 'out', shared_memory_byte_size: 8 });
    assert.deepEqual(response.outputs.map((o) => [o.name, o.datatype, o.shape, o.parameters]), [
      ['OUTPUT0', 'INT32', [2n], {}],
      ['OUTPUT1', 'INT32', [2n], {}],
    ]);
    assert.deepEqual(response.rawOutputContents.map((r) => r.byteLength), [0, 8]);
    await assertStatus(
      fx.client.call('modelInfer', {
        modelName: 'echo',
        inputs: [
          {
            name: 'INPUT0',
            datatype: 'INT32',
            shape: [1n],
            contents: { intContents: [1] },
            parameters: { shared_memory_region: { parameterChoice: { case: 'stringParam', value: 'in' } } },
          },
        ],
      }),
      status.INVALID_ARGUMENT,
      "unexpected 'content' provided when using shared memory for input tensor 'INPUT0' for model 'echo'",
    );
  });

  it('passes parameters to the core and back: integers as numbers up to 2^53, bigints beyond', async () => {
    const param = (choice: Choice): { parameterChoice: Choice } => ({ parameterChoice: choice });
    const response = await fx.client.call('modelInfer', {
      ...rawInput('INT32', [1], new Uint8Array(4)),
      parameters: {
        echo_parameters: param({ case: 'boolParam', value: true }),
        small: param({ case: 'int64Param', value: -5n }),
        big: param({ case: 'int64Param', value: 2n ** 60n }),
        text: param({ case: 'stringParam', value: 'x' }),
        ratio: param({ case: 'doubleParam', value: 0.5 }),
        priority: param({ case: 'uint64Param', value: 3n }),
        sequence_id: param({ case: 'stringParam', value: 'seq' }),
        triton_enable_empty_final_response: param({ case: 'boolParam', value: true }),
      },
    });
    assert.deepEqual(fx.core.inferCalls.at(-1)?.parameters, {
      echo_parameters: true,
      small: -5,
      big: 2n ** 60n,
      text: 'x',
      ratio: 0.5,
      priority: 3,
      sequence_id: 'seq',
    });
    const back = Object.fromEntries(Object.entries(response.parameters).map(([k, v]) => [k, v.parameterChoice]));
    assert.deepEqual(back, {
      echo_parameters: { case: 'boolParam', value: true },
      small: { case: 'int64Param', value: -5n },
      big: { case: 'int64Param', value: 2n ** 60n },
      text: { case: 'stringParam', value: 'x' },
      ratio: { case: 'doubleParam', value: 0.5 },
      priority: { case: 'int64Param', value: 3n },
      sequence_id: { case: 'stringParam', value: 'seq' },
    });
  });

  it("refuses parameter types Triton refuses, and unknown 'triton_' keys", async () => {
    const withParameter = (key: string, choice: Choice): RequestInit => ({
      ...rawInput('INT32', [1], new Uint8Array(4)),
      parameters: { [key]: { parameterChoice: choice } },
    });
    const cases: [string, Choice, string | RegExp][] = [
      ['custom', { case: 'uint64Param', value: 1n }, "invalid value type for 'custom' parameter, expected int64_param, bool_param, or string_param."],
      ['sequence_id', { case: 'boolParam', value: true }, "invalid value type for 'sequence_id' parameter, expected int64_param or string_param."],
      ['sequence_start', { case: 'int64Param', value: 1n }, "invalid value type for 'sequence_start' parameter, expected bool_param."],
      ['priority', { case: 'int64Param', value: -1n }, "invalid value for 'priority', expected value >= 0."],
      ['timeout', { case: 'uint64Param', value: 1n }, "invalid value type for 'timeout' parameter, expected int64_param."],
      ['triton_foo', { case: 'boolParam', value: true }, /^parameter keys starting with 'triton_' are reserved/],
    ];
    for (const [key, choice, message] of cases) {
      await assertStatus(fx.client.call('modelInfer', withParameter(key, choice)), status.INVALID_ARGUMENT, message);
    }
  });

  it('maps every Triton error code onto its gRPC status', async () => {
    const codes: [string, number][] = [
      ['UNKNOWN', status.UNKNOWN],
      ['INTERNAL', status.INTERNAL],
      ['NOT_FOUND', status.NOT_FOUND],
      ['INVALID_ARG', status.INVALID_ARGUMENT],
      ['UNAVAILABLE', status.UNAVAILABLE],
      ['UNSUPPORTED', status.UNIMPLEMENTED],
      ['ALREADY_EXISTS', status.ALREADY_EXISTS],
      ['CANCELLED', status.CANCELLED],
    ];
    for (const [code, grpc] of codes) {
      const request: RequestInit = {
        ...rawInput('INT32', [1], new Uint8Array(4)),
        parameters: { fail: { parameterChoice: { case: 'stringParam', value: `${code}:boom ${code}` } } },
      };
      await assertStatus(fx.client.call('modelInfer', request), grpc, `boom ${code}`);
    }
    const bug: RequestInit = {
      ...rawInput('INT32', [1], new Uint8Array(4)),
      parameters: { fail: { parameterChoice: { case: 'stringParam', value: 'plain:a bug' } } },
    };
    await assertStatus(fx.client.call('modelInfer', bug), status.INTERNAL, 'a bug');
    assert.ok(fx.logLines.some((line) => line.startsWith('E ') && line.includes('a bug')));
    await assertStatus(fx.client.call('modelInfer', { ...rawInput('INT32', [1], new Uint8Array(4)), modelName: 'nope' }), status.NOT_FOUND, /unknown model/);
    await assertStatus(fx.client.call('modelInfer', { ...rawInput('INT32', [1], new Uint8Array(4)), modelName: 'not_ready' }), status.UNAVAILABLE, /not_ready/);
  });

  it('aborts the request in the core when the client gives up', async () => {
    const request: RequestInit = {
      ...rawInput('INT32', [1], new Uint8Array(4)),
      id: 'slow-unary',
      parameters: { delay_ms: { parameterChoice: { case: 'int64Param', value: 10_000n } } },
    };
    await assertStatus(fx.client.call('modelInfer', request, {}, { deadline: Date.now() + 200 }), status.DEADLINE_EXCEEDED, /Deadline/);
    for (let i = 0; i < 50 && fx.core.signals.get('slow-unary')?.aborted !== true; i++) await sleep(10);
    assert.equal(fx.core.signals.get('slow-unary')?.aborted, true);
  });

  it('carries tensors larger than 64 MiB both ways', async () => {
    const data = new Uint8Array(64 * 1024 * 1024 + 4096);
    for (let i = 0; i < data.length; i += 4093) data[i] = i & 0xff;
    const response = await fx.client.call('modelInfer', rawInput('UINT8', [data.length], data));
    const output = response.rawOutputContents[0]!;
    assert.equal(output.byteLength, data.byteLength);
    assert.ok(Buffer.from(output.buffer, output.byteOffset, output.byteLength).equals(data));
  });
});
