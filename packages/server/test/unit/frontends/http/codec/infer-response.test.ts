import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBytesElements, type Datatype } from '@nereid/protocol';
import { ServerError } from '../../../../../src/errors/index.js';
import { encodeInferResponse } from '../../../../../src/frontends/http/codec/infer-response.js';
import type { OutputKind, OutputPlan } from '../../../../../src/frontends/http/codec/json-infer.js';
import type { InferResponse, OutputTensor } from '../../../../../src/request/infer-response.js';

const JSON_PLAN: OutputPlan = { defaultKind: 'json', named: undefined };

function output(name: string, datatype: Datatype, shape: number[], data: ArrayBufferView): OutputTensor {
  return { name, datatype, shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), parameters: {} };
}

function response(outputs: OutputTensor[], extra: Partial<InferResponse> = {}): InferResponse {
  return { modelName: 'm', modelVersion: '1', id: '', parameters: {}, outputs, ...extra };
}

function jsonText(res: InferResponse, plan: OutputPlan = JSON_PLAN): string {
  const encoded = encodeInferResponse(res, plan);
  assert.equal(encoded.headerLength, undefined);
  assert.equal(encoded.chunks.length, 1);
  return Buffer.from(encoded.chunks[0] as Uint8Array).toString('utf8');
}

describe('encodeInferResponse', () => {
  it("writes Triton's key order and omits id and parameters when empty", () => {
    const text = jsonText(response([output('O', 'INT32', [2], new Int32Array([1, -2]))]));
    assert.equal(text, '{"model_name":"m","model_version":"1","outputs":[{"name":"O","datatype":"INT32","shape":[2],"data":[1,-2]}]}');
  });

  it('echoes the id first and prints response parameters exactly', () => {
    const text = jsonText(response([], { id: 'r1', parameters: { s: 'x', b: true, i: 2n ** 63n - 1n, d: 0.5 } }));
    assert.equal(
      text,
      '{"id":"r1","model_name":"m","model_version":"1","parameters":{"s":"x","b":true,"i":9223372036854775807,"d":0.5},"outputs":[]}',
    );
  });

  it('prints INT64/UINT64 exactly and floats so they read back to the same value', () => {
    const text = jsonText(
      response([
        output('I', 'INT64', [2], new BigInt64Array([-(2n ** 63n), 9007199254740993n])),
        output('U', 'UINT64', [1], new BigUint64Array([2n ** 64n - 1n])),
        output('F', 'FP32', [3], new Float32Array([0.1, 1 / 3, 3.4028234663852886e38])),
        output('D', 'FP64', [1], new Float64Array([0.1])),
      ]),
    );
    assert.match(text, /"data":\[-9223372036854775808,9007199254740993\]/);
    assert.match(text, /"data":\[18446744073709551615\]/);
    const floats = /"name":"F".*?"data":\[([^\]]*)\]/.exec(text)?.[1]?.split(',').map(Number) ?? [];
    assert.deepEqual(new Float32Array(floats), new Float32Array([0.1, 1 / 3, 3.4028234663852886e38]));
    assert.match(text, /"name":"D".*"data":\[0\.1\]/);
  });

  it('prints NaN and infinities as the bare tokens Triton writes, and BOOL as true/false', () => {
    const text = jsonText(
      response([output('F', 'FP32', [3], new Float32Array([NaN, Infinity, -Infinity])), output('B', 'BOOL', [2], new Uint8Array([1, 0]))]),
    );
    assert.match(text, /"data":\[NaN,Infinity,-Infinity\]/);
    assert.match(text, /"data":\[true,false\]/);
  });

  it('prints BYTES as strings, NUL escaped, and non-UTF-8 bytes raw as Triton does', () => {
    const data = encodeBytesElements([Buffer.from('a\u0000"b'), Buffer.from('\u00e9'), Buffer.from([0xff, 0x0a, 0x5c])]);
    const encoded = encodeInferResponse(response([output('S', 'BYTES', [3], data)]), JSON_PLAN);
    const body = Buffer.from(encoded.chunks[0] as Uint8Array);
    const expected = Buffer.concat([Buffer.from('"data":["a\\u0000\\"b","\u00e9",'), Buffer.from([0x22, 0xff, 0x5c, 0x6e, 0x5c, 0x5c, 0x22]), Buffer.from(']')]);
    assert.ok(body.includes(expected), body.toString('latin1'));
  });

  it('puts binary outputs after the JSON in output order, as views of the output bytes', () => {
    const a = output('A', 'UINT8', [3], new Uint8Array([1, 2, 3]));
    const b = output('B', 'INT32', [1], new Int32Array([5]));
    const c = output('C', 'FP32', [0], new Float32Array(0));
    const plan: OutputPlan = { defaultKind: 'binary', named: new Map<string, OutputKind>([['B', 'json']]) };
    const encoded = encodeInferResponse(response([a, b, c]), plan);
    const header = Buffer.from(encoded.chunks[0] as Uint8Array).toString();
    assert.equal(encoded.headerLength, Buffer.byteLength(header));
    assert.equal(
      header,
      '{"model_name":"m","model_version":"1","outputs":[' +
        '{"name":"A","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}},' +
        '{"name":"B","datatype":"INT32","shape":[1],"data":[5]},' +
        '{"name":"C","datatype":"FP32","shape":[0],"parameters":{"binary_data_size":0}}]}',
    );
    assert.equal(encoded.chunks.length, 2);
    assert.equal(encoded.chunks[1], a.data);
    assert.equal(encoded.byteLength, encoded.headerLength + 3);
  });

  it('sends a pure JSON body when every binary output is empty, like Triton', () => {
    const encoded = encodeInferResponse(response([output('C', 'FP32', [0], new Float32Array(0))]), { defaultKind: 'binary', named: undefined });
    assert.equal(encoded.headerLength, undefined);
  });

  it('refuses FP16/BF16 outputs as JSON and checks output sizes', () => {
    assert.throws(() => jsonText(response([output('H', 'FP16', [1], new Uint16Array([1]))])), {
      message: 'sending FP16 data via JSON is not supported. Please use the binary data format for output',
    });
    assert.throws(
      () => jsonText(response([output('O', 'INT32', [3], new Int32Array([1]))])),
      (error: unknown) =>
        error instanceof ServerError &&
        error.code === 'INTERNAL' &&
        error.message === "Failed to write 'data' field: output tensor shape does not match size of output for 'O'",
    );
  });

  it('describes shared-memory outputs without data: the core wrote them into the region', () => {
    const plan: OutputPlan = { defaultKind: 'binary', named: new Map<string, OutputKind>([['A', 'shm']]) };
    const shm: OutputTensor = { ...output('A', 'UINT8', [2], new Uint8Array(0)), parameters: { shared_memory_region: 'r' } };
    const text = jsonText(response([shm]), plan);
    assert.equal(text, '{"model_name":"m","model_version":"1","outputs":[{"name":"A","datatype":"UINT8","shape":[2]}]}');
  });
});
