import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { encodeBytesElements } from '@nereid/protocol';
import {
  ModelInferRequestSchema,
  type InferParameterSchema,
  type InferTensorContentsSchema,
} from '@nereid/protocol/generated/grpc_service_pb';
import { ServerError } from '../../../../src/errors/index.js';
import { inferRequestFromProto } from '../../../../src/frontends/grpc/convert-request.js';
import { inferResponseToProto } from '../../../../src/frontends/grpc/convert-response.js';
import { inferParameterOf, requestParameters, tensorParameters } from '../../../../src/frontends/grpc/parameters.js';

/** Pure conversions between the proto messages and the core's request/response types. */

type Choice = NonNullable<MessageInitShape<typeof InferParameterSchema>['parameterChoice']>;

function parameterMap(entries: Record<string, Choice>) {
  const request = create(ModelInferRequestSchema, {
    parameters: Object.fromEntries(Object.entries(entries).map(([key, choice]) => [key, { parameterChoice: choice }])),
  });
  return request.parameters;
}

function invalid(message: RegExp) {
  return (error: unknown): boolean => error instanceof ServerError && error.code === 'INVALID_ARG' && message.test(error.message);
}

describe('gRPC parameter conversion', () => {
  it('turns int64 and uint64 into numbers up to 2^53 - 1 and bigints beyond', () => {
    const { parameters } = requestParameters(
      parameterMap({
        a: { case: 'int64Param', value: 2n ** 53n - 1n },
        b: { case: 'int64Param', value: 2n ** 53n },
        c: { case: 'int64Param', value: -(2n ** 63n) },
        priority: { case: 'uint64Param', value: 2n ** 64n - 1n },
        d: { case: 'doubleParam', value: 2.5 },
      }),
    );
    assert.deepEqual(parameters, { a: 2 ** 53 - 1, b: 2n ** 53n, c: -(2n ** 63n), priority: 2n ** 64n - 1n, d: 2.5 });
  });

  it('consumes triton_enable_empty_final_response and refuses other triton_ keys', () => {
    const result = requestParameters(parameterMap({ triton_enable_empty_final_response: { case: 'boolParam', value: true } }));
    assert.equal(result.enableEmptyFinalResponse, true);
    assert.deepEqual(result.parameters, {});
    assert.throws(
      () => requestParameters(parameterMap({ triton_enable_empty_final_response: { case: 'stringParam', value: 'true' } })),
      invalid(/expected bool_param/),
    );
    assert.throws(() => requestParameters(parameterMap({ triton_x: { case: 'boolParam', value: true } })), invalid(/reserved/));
  });

  it('accepts any type on tensor parameters but refuses an unset value', () => {
    assert.deepEqual(tensorParameters(parameterMap({ classification: { case: 'uint64Param', value: 3n } })), { classification: 3 });
    const unset = create(ModelInferRequestSchema, { parameters: { x: {} } }).parameters;
    assert.throws(() => tensorParameters(unset), invalid(/'x' has no value/));
  });

  it('types response parameters as Triton does', () => {
    const choice = (value: boolean | number | bigint | string) => inferParameterOf(value).parameterChoice;
    assert.deepEqual(choice(true), { case: 'boolParam', value: true });
    assert.deepEqual(choice(7), { case: 'int64Param', value: 7n });
    assert.deepEqual(choice(0.25), { case: 'doubleParam', value: 0.25 });
    assert.deepEqual(choice(-(2n ** 60n)), { case: 'int64Param', value: -(2n ** 60n) });
    assert.deepEqual(choice(2n ** 64n - 1n), { case: 'uint64Param', value: 2n ** 64n - 1n });
    assert.deepEqual(choice('s'), { case: 'stringParam', value: 's' });
  });
});

describe('ModelInferRequest → InferRequestInit', () => {
  it('reads the version as Triton does and refuses dims no number holds exactly', () => {
    const request = (init: MessageInitShape<typeof ModelInferRequestSchema>) =>
      inferRequestFromProto(create(ModelInferRequestSchema, { modelName: 'm', ...init }));
    assert.equal(request({ modelVersion: '007' }).init.modelVersion, '7');
    assert.equal(request({ modelVersion: '' }).init.modelVersion, '');
    assert.throws(
      () => request({ modelVersion: 'wrong_specification' }),
      invalid(/^failed to get model version from specified version string 'wrong_specification' \(details: stol\)/),
    );
    const huge = 2n ** 53n + 1n;
    assert.throws(
      () => request({ inputs: [{ name: 'A', datatype: 'INT32', shape: [huge, 0n] }], rawInputContents: [new Uint8Array(0)] }),
      invalid(/^invalid shape for input 'A': shape \[9007199254740993,0\] has more elements than 9007199254740991$/),
    );
    // Negative dims keep their sign for the core's shape check.
    assert.deepEqual(request({ inputs: [{ name: 'A', datatype: 'INT32', shape: [-3n, 0n] }], rawInputContents: [new Uint8Array(0)] }).init.inputs[0]!.shape, [-3, 0]);
  });

  it('keeps raw contents as views into the message', () => {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const message = create(ModelInferRequestSchema, {
      modelName: 'm',
      modelVersion: '2',
      id: 'r',
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1n] },
        { name: 'B', datatype: 'INT32', shape: [1n] },
      ],
      rawInputContents: [raw.subarray(0, 4), raw.subarray(4)],
    });
    const { init } = inferRequestFromProto(message);
    assert.equal(init.inputs[0]?.data.buffer, raw.buffer);
    assert.equal(init.inputs[1]?.data.byteOffset, 4);
    assert.deepEqual([init.modelName, init.modelVersion, init.id, init.outputs], ['m', '2', 'r', undefined]);
    assert.deepEqual(init.inputs.map((input) => input.shape), [[1], [1]]);
  });

  it('serialises typed BYTES contents with length prefixes, NUL bytes included', () => {
    const elements = [new Uint8Array([0]), new Uint8Array([]), new Uint8Array([97, 0, 98])];
    const message = create(ModelInferRequestSchema, {
      modelName: 'm',
      inputs: [{ name: 'S', datatype: 'BYTES', shape: [3n], contents: { bytesContents: elements } }],
    });
    assert.deepEqual(inferRequestFromProto(message).init.inputs[0]?.data, encodeBytesElements(elements));
  });

  it('narrows int_contents and uint_contents to the declared width', () => {
    const data = (datatype: string, count: number, contents: MessageInitShape<typeof InferTensorContentsSchema>) =>
      inferRequestFromProto(
        create(ModelInferRequestSchema, {
          modelName: 'm',
          inputs: [{ name: 'x', datatype, shape: [BigInt(count)], contents }],
        }),
      ).init.inputs[0]!.data;
    assert.deepEqual([...data('INT8', 2, { intContents: [-1, 300] })], [255, 44]);
    assert.deepEqual([...data('UINT16', 1, { uintContents: [0x12345] })], [0x45, 0x23]);
  });
});

describe('InferResponse → ModelInferResponse', () => {
  it('puts every output in raw_output_contents, without output parameters', () => {
    const data = new Uint8Array([9, 9]);
    const message = inferResponseToProto({
      modelName: 'm',
      modelVersion: '1',
      id: 'x',
      parameters: { n: 1 },
      outputs: [
        { name: 'O', datatype: 'UINT8', shape: [2], data, parameters: { binary_data: true } },
        { name: 'S', datatype: 'FP32', shape: [4], data: new Uint8Array(0), parameters: { shared_memory_region: 'r' } },
      ],
    });
    assert.equal(message.rawOutputContents[0], data);
    assert.equal(message.rawOutputContents[1]?.byteLength, 0);
    assert.deepEqual(message.outputs.map((o) => [o.name, o.datatype, o.shape, o.parameters, o.contents]), [
      ['O', 'UINT8', [2n], {}, undefined],
      ['S', 'FP32', [4n], {}, undefined],
    ]);
    assert.deepEqual(message.parameters['n']?.parameterChoice, { case: 'int64Param', value: 1n });
  });
});
