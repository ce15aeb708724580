import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelInferResponseSchema,
  ModelStreamInferResponseSchema,
  type ModelInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from '../../../../src/frontends/grpc/encode.js';

/** The hand-spliced infer response encoders must decode to exactly what protobuf-es would encode. */

function pattern(size: number, seed: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff);
}

function response(sizes: readonly number[]): ModelInferResponse {
  return create(ModelInferResponseSchema, {
    modelName: 'm',
    modelVersion: '3',
    id: 'req-7',
    parameters: { p: { parameterChoice: { case: 'int64Param', value: -4n } } },
    outputs: sizes.map((size, i) => ({ name: `OUT${i}`, datatype: 'UINT8', shape: [BigInt(size)] })),
    rawOutputContents: sizes.map((size, i) => pattern(size, i)),
  });
}

// Lengths around every varint width boundary, and an empty (shared-memory) entry.
const SIZES = [[0], [1], [127], [128], [16_383, 16_384], [300, 0, 2_097_152 + 5]];

describe('infer response encoders', () => {
  it('encode ModelInferResponse so that it decodes to the same message', () => {
    for (const sizes of SIZES) {
      const message = response(sizes);
      const decoded = fromBinary(ModelInferResponseSchema, encodeModelInferResponse(message));
      assert.ok(equals(ModelInferResponseSchema, decoded, message), `sizes ${sizes.join(',')}`);
      assert.equal(encodeModelInferResponse(message).byteLength, toBinary(ModelInferResponseSchema, message).byteLength);
    }
  });

  it('encode ModelStreamInferResponse with and without an error message', () => {
    for (const sizes of SIZES) {
      for (const errorMessage of ['', 'failed']) {
        const message = create(ModelStreamInferResponseSchema, { errorMessage, inferResponse: response(sizes) });
        const bytes = encodeModelStreamInferResponse(message);
        assert.ok(equals(ModelStreamInferResponseSchema, fromBinary(ModelStreamInferResponseSchema, bytes), message));
        assert.equal(bytes.byteLength, toBinary(ModelStreamInferResponseSchema, message).byteLength);
      }
    }
    const errorOnly = create(ModelStreamInferResponseSchema, { errorMessage: 'x' });
    assert.ok(equals(ModelStreamInferResponseSchema, fromBinary(ModelStreamInferResponseSchema, encodeModelStreamInferResponse(errorOnly)), errorOnly));
  });

  it('write the tensor bytes once, into a Buffer of the exact size', () => {
    const message = response([1 << 20]);
    const bytes = encodeModelInferResponse(message);
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(bytes.buffer.byteLength >= bytes.byteLength, true);
    assert.equal(bytes.byteLength, toBinary(ModelInferResponseSchema, message).byteLength);
    assert.equal(message.rawOutputContents.length, 1, 'the message is left as it was');
  });
});
