import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBytesElements } from '@nereid/protocol';
import { ServerError, type ErrorCode } from '../../../../../src/errors/index.js';
import {
  decodeInferRequest,
  type DecodedInferRequest,
  type InferDecodeOptions,
} from '../../../../../src/frontends/http/codec/json-infer.js';
import { parseJson } from '../../../../../src/frontends/http/codec/json-parse.js';

const OPTIONS: InferDecodeOptions = { maxInputSize: 1 << 20 };

function decode(request: unknown, tail: Buffer = Buffer.alloc(0), options = OPTIONS): DecodedInferRequest {
  const text = typeof request === 'string' ? request : JSON.stringify(request);
  return decodeInferRequest('m', '', parseJson(Buffer.from(text)), tail, options);
}

function input(datatype: string, shape: number[], data: unknown): unknown {
  return { inputs: [{ name: 'IN', datatype, shape, data }] };
}

function firstData(request: unknown): Uint8Array {
  const data = decode(request).init.inputs[0]?.data;
  assert.ok(data !== undefined);
  return data;
}

function rejects(request: unknown, code: ErrorCode, message: string | RegExp, tail?: Buffer): void {
  assert.throws(
    () => decode(request, tail),
    (error: unknown) => {
      assert.ok(error instanceof ServerError, String(error));
      assert.equal(error.code, code);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

const bytes = (view: ArrayBufferView): number[] => [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];

describe('decodeInferRequest: JSON data', () => {
  it('accepts nested and flat data alike, row-major', () => {
    const nested = firstData(input('FP32', [2, 2], [[1, 2], [3, 4.5]]));
    const flat = firstData(input('FP32', [2, 2], [1, 2, 3, 4.5]));
    assert.deepEqual(bytes(nested), bytes(new Float32Array([1, 2, 3, 4.5])));
    assert.deepEqual(bytes(flat), bytes(nested));
  });

  it('encodes every fixed-size datatype in little-endian wire layout', () => {
    const cases: [string, unknown[], ArrayBufferView][] = [
      ['BOOL', [true, false, true], new Uint8Array([1, 0, 1])],
      ['UINT8', [0, 255, 7], new Uint8Array([0, 255, 7])],
      ['UINT16', [1, 65535, 2], new Uint16Array([1, 65535, 2])],
      ['UINT32', [1, 4294967295, 2], new Uint32Array([1, 4294967295, 2])],
      ['UINT64', [1, 2, 3], new BigUint64Array([1n, 2n, 3n])],
      ['INT8', [-128, 127, 0], new Int8Array([-128, 127, 0])],
      ['INT16', [-32768, 32767, 1], new Int16Array([-32768, 32767, 1])],
      ['INT32', [-2147483648, 2147483647, 1], new Int32Array([-2147483648, 2147483647, 1])],
      ['INT64', [-1, 0, 1], new BigInt64Array([-1n, 0n, 1n])],
      ['FP32', [0.1, -2, 3e38], new Float32Array([0.1, -2, 3e38])],
      ['FP64', [0.1, -2, 1e300], new Float64Array([0.1, -2, 1e300])],
    ];
    for (const [datatype, data, expected] of cases) {
      assert.deepEqual(bytes(firstData(input(datatype, [3], data))), bytes(expected), datatype);
    }
  });

  it('wraps out-of-range integers to the element width, as Triton C casts do', () => {
    assert.deepEqual(bytes(firstData(input('UINT8', [2], [300, 256]))), [44, 0]);
    assert.deepEqual(bytes(firstData(input('INT8', [1], [200]))), bytes(new Int8Array([-56])));
  });

  it('keeps INT64 and UINT64 values beyond 2^53 exact', () => {
    const text =
      '{"inputs":[{"name":"A","datatype":"INT64","shape":[3],"data":[9007199254740993,-9223372036854775808,9223372036854775807]},' +
      '{"name":"B","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]}';
    const [a, b] = decode(text).init.inputs;
    assert.deepEqual(bytes(a?.data as Uint8Array), bytes(new BigInt64Array([9007199254740993n, -(2n ** 63n), 2n ** 63n - 1n])));
    assert.deepEqual(bytes(b?.data as Uint8Array), bytes(new BigUint64Array([2n ** 64n - 1n])));
  });

  it('accepts NaN and Infinity for floats', () => {
    const text = '{"inputs":[{"name":"A","datatype":"FP32","shape":[3],"data":[NaN,Infinity,-Infinity]}]}';
    const values = new Float32Array(new Uint8Array(decode(text).init.inputs[0]?.data as Uint8Array).buffer);
    assert.ok(Number.isNaN(values[0]));
    assert.deepEqual([values[1], values[2]], [Infinity, -Infinity]);
  });

  it('encodes BYTES as length-prefixed UTF-8, NUL and non-UTF-8 bytes included', () => {
    const body = Buffer.concat([
      Buffer.from('{"inputs":[{"name":"S","datatype":"BYTES","shape":[3],"data":["a\\u0000b","\u00e9","'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"]}]}'),
    ]);
    const data = decodeInferRequest('m', '', parseJson(body), Buffer.alloc(0), OPTIONS).init.inputs[0]?.data;
    const elements = decodeBytesElements(data as Uint8Array, 3).map((e) => [...e]);
    assert.deepEqual(elements, [[0x61, 0, 0x62], [0xc3, 0xa9], [0xff, 0xfe]]);
  });

  it('refuses FP16 and BF16 data in JSON with Triton wording', () => {
    rejects(input('FP16', [1], [1]), 'INVALID_ARG', 'receiving FP16 data via JSON is not supported. Please use the binary data format for input IN');
    rejects(input('BF16', [1], [1]), 'INVALID_ARG', 'receiving BF16 data via JSON is not supported. Please use the binary data format for input IN');
  });

  it('checks the element count against the shape, naming the tensor', () => {
    const message = (n: number): string =>
      `Unable to parse 'data': Shape does not match true shape of 'data' field for input 'IN': expected 4 elements, got ${n}`;
    rejects(input('INT32', [2, 2], [1, 2, 3]), 'INVALID_ARG', message(3));
    rejects(input('INT32', [2, 2], [[1, 2], [3, 4], [5]]), 'INVALID_ARG', message(5));
    rejects(input('BYTES', [2, 2], ['a']), 'INVALID_ARG', message(1));
  });

  it('refuses values of the wrong JSON type with TritonJson wording', () => {
    rejects(input('FP32', [2], [1, 'x']), 'INVALID_ARG', "Unable to parse 'data': attempt to access JSON non-number as double for input 'IN'");
    rejects(input('BOOL', [1], [1]), 'INVALID_ARG', /non-boolean as boolean for input 'IN'$/);
    rejects(input('UINT8', [1], [-1]), 'INVALID_ARG', /non-unsigned-integer as unsigned-integer/);
    rejects(input('INT32', [1], [1.5]), 'INVALID_ARG', /non-signed-integer as signed-integer/);
    rejects(input('BYTES', [1], [1]), 'INVALID_ARG', /non-string as string/);
    rejects(input('FP32', [1], 5), 'INVALID_ARG', "Unable to parse 'data': attempt to access JSON non-array as array");
  });

  it('limits the nesting depth of data to 100 as Triton does', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 120; i++) deep = [deep];
    rejects(input('INT32', [1], deep), 'INVALID_ARG', "Unable to parse 'data': JSON nesting depth exceeds maximum allowed limit (100)");
    let fine: unknown = 1;
    for (let i = 0; i < 50; i++) fine = [fine];
    assert.equal(firstData(input('INT32', [1], fine)).byteLength, 4);
  });

  it('ignores data for empty tensors, like Triton', () => {
    assert.equal(firstData(input('FP32', [0, 3], [1, 2])).byteLength, 0);
  });

  it('refuses a JSON input larger than --http-max-input-size once decoded', () => {
    assert.throws(
      () => decode(input('FP64', [100], new Array(100).fill(1)), undefined, { maxInputSize: 400 }),
      { message: "JSON input 'IN' has a byte_size (800 bytes) that exceeds the maximum allowed value of 400 bytes. Use --http-max-input-size to increase the limit." },
    );
  });
});

describe('decodeInferRequest: fields and shapes', () => {
  it('requires inputs, name, datatype and shape with Triton wording', () => {
    rejects({}, 'INVALID_ARG', "Unable to parse 'inputs': attempt to access non-existing object member 'inputs'");
    rejects({ inputs: {} }, 'INVALID_ARG', "Unable to parse 'inputs': attempt to access JSON non-array as array");
    rejects({ inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }, 'INVALID_ARG', "Unable to parse 'name': attempt to access non-existing object member 'name'");
    rejects({ inputs: [{ name: 'A', datatype: 3, shape: [1], data: [1] }] }, 'INVALID_ARG', "Unable to parse 'datatype': attempt to access JSON non-string as string");
    rejects(input('FP32', [2, -5], [1]), 'INVALID_ARG', "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");
    rejects({ id: 5, inputs: [] }, 'INVALID_ARG', "Unable to parse 'id': attempt to access JSON non-string as string");
  });

  it('requires exactly one of data, binary_data_size and shared_memory_region', () => {
    const prefix = "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But";
    rejects({ inputs: [{ name: 'A', datatype: 'FP32', shape: [1] }] }, 'INVALID_ARG', `${prefix} no field is set`);
    rejects(
      { inputs: [{ name: 'A', datatype: 'FP32', shape: [1], data: [1], parameters: { binary_data_size: 4 } }] },
      'INVALID_ARG',
      `${prefix} set 'data' 'binary_data_size'`,
    );
  });

  it('reports overflowing shapes as Triton does', () => {
    const big = '{"inputs":[{"name":"IN","datatype":"FP32","shape":[16,1152921504606846978],"data":[1]}]}';
    rejects(big, 'INVALID_ARG', /^invalid shape for input 'IN': shape \[16,1152921504606846978\] causes total element count to exceed maximum size of 9223372036854775807$/);
    const wide = '{"inputs":[{"name":"IN","datatype":"FP32","shape":[4,1152921504606846978],"data":[1]}]}';
    rejects(wide, 'INVALID_ARG', /^byte size overflow for input 'IN': element count \(4611686018427387912\) \* data type size \(4\)/);
  });

  it('passes the id through, and an empty one when absent', () => {
    assert.equal(decode({ id: 'req-7', inputs: [] }).init.id, 'req-7');
    assert.equal(decode({ inputs: [] }).init.id, '');
  });
});

describe('decodeInferRequest: binary tail', () => {
  const header = (sizes: number[]): unknown => ({
    inputs: sizes.map((size, i) => ({ name: `IN${i}`, datatype: 'UINT8', shape: [size], parameters: { binary_data_size: size } })),
  });

  it('slices consecutive views of the tail in input order, without copying', () => {
    const body = Buffer.from('xxxx' + 'abcdefg');
    const tail = body.subarray(4);
    const [a, b, c] = decode(header([3, 0, 4]), tail).init.inputs;
    assert.equal(Buffer.from(a?.data as Uint8Array).toString(), 'abc');
    assert.equal(b?.data.byteLength, 0);
    assert.equal(Buffer.from(c?.data as Uint8Array).toString(), 'defg');
    assert.equal(a?.data.buffer, body.buffer);
    assert.equal(c?.data.byteOffset, body.byteOffset + 7);
    assert.deepEqual(a?.parameters, { binary_data_size: 3 });
  });

  it('fails when the tail is too short or too long', () => {
    rejects(header([3, 4]), 'INVALID_ARG', "unexpected size for input 'IN1', expecting 2 additional bytes for model 'm'", Buffer.from('abcde'));
    rejects(header([3]), 'INVALID_ARG', "unexpected additional input data for model 'm'", Buffer.from('abcde'));
  });

  it('mixes binary and JSON inputs', () => {
    const request = {
      inputs: [
        { name: 'J', datatype: 'INT32', shape: [1], data: [7] },
        { name: 'B', datatype: 'UINT8', shape: [2], parameters: { binary_data_size: 2 } },
      ],
    };
    const [j, b] = decode(request, Buffer.from([9, 8])).init.inputs;
    assert.deepEqual(bytes(j?.data as Uint8Array), bytes(new Int32Array([7])));
    assert.deepEqual([...(b?.data as Uint8Array)], [9, 8]);
  });

  it('leaves shared-memory inputs to the core: empty data, parameters kept and type-checked', () => {
    const parameters = { shared_memory_region: 'r', shared_memory_byte_size: 2, shared_memory_offset: 1 };
    const decoded = decode({ inputs: [{ name: 'S', datatype: 'UINT8', shape: [2], parameters }] });
    assert.equal(decoded.init.inputs[0]?.data.byteLength, 0);
    assert.deepEqual(decoded.init.inputs[0]?.parameters, parameters);
    rejects(
      { inputs: [{ name: 'S', datatype: 'UINT8', shape: [2], parameters: { shared_memory_region: 'r', shared_memory_offset: -1 } }] },
      'INVALID_ARG',
      "Unable to parse 'shared_memory_offset': attempt to access JSON non-unsigned-integer as unsigned-integer",
    );
    rejects(
      { inputs: [{ name: 'S', datatype: 'UINT8', shape: [2], parameters: { shared_memory_region: 7 } }] },
      'INVALID_ARG',
      "Unable to parse 'shared_memory_region': attempt to access JSON non-string as string",
    );
  });
});

describe('decodeInferRequest: parameters and outputs', () => {
  it('passes request parameters through, checks reserved keys and types', () => {
    const decoded = decode({
      parameters: { sequence_id: 5, sequence_start: true, priority: 1, custom: 'x', ratio: 0.5, binary_data_output: true },
      inputs: [],
    });
    assert.deepEqual(decoded.init.parameters, { sequence_id: 5, sequence_start: true, priority: 1, custom: 'x', ratio: 0.5 });
    assert.equal(decoded.plan.defaultKind, 'binary');
    assert.deepEqual(decode({ parameters: { sequence_id: 'abc' }, inputs: [] }).init.parameters, { sequence_id: 'abc' });
    const big = decode('{"parameters":{"sequence_id":18446744073709551615},"inputs":[]}');
    assert.equal(big.init.parameters['sequence_id'], 2n ** 64n - 1n);
    rejects({ parameters: { triton_x: 1 }, inputs: [] }, 'INVALID_ARG', "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
    rejects({ parameters: { priority: -1 }, inputs: [] }, 'INVALID_ARG', "Unable to parse 'priority': attempt to access JSON non-unsigned-integer as unsigned-integer");
    rejects({ parameters: { sequence_end: 1 }, inputs: [] }, 'INVALID_ARG', "Unable to parse 'sequence_end': attempt to access JSON non-boolean as boolean");
    rejects({ parameters: { sequence_id: -3 }, inputs: [] }, 'INVALID_ARG', "Unable to parse 'sequence_id': attempt to access JSON non-string as string");
    rejects({ parameters: { obj: {} }, inputs: [] }, 'INVALID_ARG', "parameter 'obj' has invalid type. It should be either 'int', 'bool', or 'string'.");
  });

  it('returns every output as JSON by default and leaves outputs undefined when none are named', () => {
    const decoded = decode({ inputs: [] });
    assert.equal(decoded.init.outputs, undefined);
    assert.deepEqual(decoded.plan, { defaultKind: 'json', named: undefined });
  });

  it('plans named outputs: binary_data overrides binary_data_output, parameters are kept', () => {
    const decoded = decode({
      parameters: { binary_data_output: true },
      inputs: [],
      outputs: [{ name: 'A', parameters: { binary_data: false, classification: 3 } }, { name: 'B' }, { name: 'C', parameters: { binary_data: true } }],
    });
    assert.deepEqual(decoded.init.outputs, [
      { name: 'A', parameters: { binary_data: false, classification: 3 } },
      { name: 'B', parameters: {} },
      { name: 'C', parameters: { binary_data: true } },
    ]);
    assert.deepEqual([...(decoded.plan.named ?? [])], [['A', 'json'], ['B', 'binary'], ['C', 'binary']]);
  });

  it('plans shared-memory outputs as described-only, keeping their parameters for the core', () => {
    const parameters = { shared_memory_region: 'r', shared_memory_byte_size: 16 };
    const decoded = decode({ inputs: [], outputs: [{ name: 'A', parameters }] });
    assert.equal(decoded.plan.named?.get('A'), 'shm');
    assert.deepEqual(decoded.init.outputs, [{ name: 'A', parameters }]);
  });

  it('checks output parameters with Triton wording', () => {
    rejects({ inputs: [], outputs: [{ name: 'A', parameters: { classification: -1 } }] }, 'INVALID_ARG', "Unable to set 'classification': attempt to access JSON non-unsigned-integer as unsigned-integer");
    rejects({ inputs: [], outputs: [{ name: 'A', parameters: { binary_data: 'yes' } }] }, 'INVALID_ARG', "Unable to parse 'binary_data': attempt to access JSON non-boolean as boolean");
    rejects({ inputs: [], outputs: [{ name: 'A', parameters: { shared_memory_region: 'r', classification: 2 } }] }, 'INVALID_ARG', "Output can't set both 'shared_memory_region' and 'classification'");
    rejects({ inputs: [], outputs: [{ name: 'A', parameters: { shared_memory_region: 'r', binary_data: true } }] }, 'INVALID_ARG', "Output can't set both 'shared_memory_region' and 'binary_data'");
    rejects({ inputs: [], outputs: {} }, 'INVALID_ARG', "Unable to parse 'outputs': attempt to access JSON non-array as array");
  });
});
