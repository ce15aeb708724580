import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelInferResponseSchema,
  ModelStreamInferResponseSchema,
  type ModelInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from '../../../../src/frontends/grpc/encode.js';
import { joined } from '../../../../src/frontends/grpc/transport/framing.js';

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
      const decoded = fromBinary(ModelInferResponseSchema, joined(encodeModelInferResponse(message)));
      assert.ok(equals(ModelInferResponseSchema, decoded, message), `sizes ${sizes.join(',')}`);
      assert.equal(encodeModelInferResponse(message).byteLength, toBinary(ModelInferResponseSchema, message).byteLength);
    }
  });

  it('encode ModelStreamInferResponse with and without an error message', () => {
    for (const sizes of SIZES) {
      for (const errorMessage of ['', 'failed']) {
        const message = create(ModelStreamInferResponseSchema, { errorMessage, inferResponse: response(sizes) });
        const bytes = joined(encodeModelStreamInferResponse(message));
        assert.ok(equals(ModelStreamInferResponseSchema, fromBinary(ModelStreamInferResponseSchema, bytes), message));
        assert.equal(bytes.byteLength, toBinary(ModelStreamInferResponseSchema, message).byteLength);
      }
    }
    const errorOnly = create(ModelStreamInferResponseSchema, { errorMessage: 'x' });
    assert.ok(equals(ModelStreamInferResponseSchema, fromBinary(ModelStreamInferResponseSchema, joined(encodeModelStreamInferResponse(errorOnly))), errorOnly));
  });

  it('copy small tensors once into one Buffer of the exact size', () => {
    const message = response([1000, 24]);
    const bytes = encodeModelInferResponse(message);
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(bytes.byteLength, toBinary(ModelInferResponseSchema, message).byteLength);
  });

  it('hand large tensors on uncopied, as parts behind their tags', () => {
    const message = response([1 << 20, 3]);
    const encoded = encodeModelInferResponse(message);
    assert.ok(!(encoded instanceof Uint8Array));
    assert.ok(encoded.parts.includes(message.rawOutputContents[0]!), 'the tensor itself is a part (no copy)');
    assert.equal(encoded.byteLength, toBinary(ModelInferResponseSchema, message).byteLength);
    assert.equal(message.rawOutputContents.length, 2, 'the message is left as it was');
  });
});

describe('gRPC message reader', () => {
  it('places a large ModelInferRequest so its first raw input starts aligned, across any chunking', async () => {
    const { MessageReader, frameHeader } = await import('../../../../src/frontends/grpc/transport/framing.js');
    const { rawContentsOffset } = await import('../../../../src/frontends/grpc/raw-contents-offset.js');
    const { ModelInferRequestSchema } = await import('@nereid/protocol/generated/grpc_service_pb');
    for (const idLength of [0, 1, 5, 13]) {
      const tensor = pattern(256 * 1024, idLength);
      const message = toBinary(
        ModelInferRequestSchema,
        create(ModelInferRequestSchema, {
          modelName: 'identity_fp32',
          id: 'x'.repeat(idLength),
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 65536n] }],
          rawInputContents: [tensor],
        }),
      );
      const wire = Buffer.concat([frameHeader(message.byteLength, false), message]);
      for (const cut of [7, 100, 4096, 70_000]) {
        const received: Buffer[] = [];
        const reader = new MessageReader(2 ** 31 - 1, rawContentsOffset);
        for (let offset = 0; offset < wire.length; offset += cut) reader.push(wire.subarray(offset, offset + cut), (m) => received.push(m.bytes));
        assert.equal(received.length, 1);
        const decoded = fromBinary(ModelInferRequestSchema, received[0]!);
        assert.ok(Buffer.from(tensor).equals(decoded.rawInputContents[0]!), `id ${idLength}, chunks of ${cut}: the tensor arrives intact`);
        if (cut >= 100) assert.equal(decoded.rawInputContents[0]!.byteOffset % 64, 0, `id ${idLength}, chunks of ${cut}`);
      }
    }
  });
});
