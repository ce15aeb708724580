import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { encodeBytesElements } from '@nereid/protocol';
import {
  DataType,
  ModelConfigSchema,
  ModelInputSchema,
  ModelOutputSchema,
  ModelTensorReshapeSchema,
} from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../src/errors/index.js';
import type { InferRequestInit, InputTensorInit } from '../../../src/request/infer-request-init.js';
import { buildModelSignature } from '../../../src/request/model-signature.js';
import { normalizeRequest } from '../../../src/request/normalize.js';
import { MAX_REQUEST_STRING_ELEMENTS } from '../../../src/request/limits.js';

const signature = buildModelSignature(
  create(ModelConfigSchema, {
    name: 'simple',
    maxBatchSize: 8,
    input: [
      create(ModelInputSchema, { name: 'INPUT0', dataType: DataType.TYPE_INT32, dims: [16n] }),
      create(ModelInputSchema, {
        name: 'INPUT1',
        dataType: DataType.TYPE_INT32,
        dims: [4n, 4n],
        reshape: create(ModelTensorReshapeSchema, { shape: [16n] }),
      }),
      create(ModelInputSchema, { name: 'TEXT', dataType: DataType.TYPE_STRING, dims: [-1n], optional: true }),
    ],
    output: [
      create(ModelOutputSchema, { name: 'OUTPUT0', dataType: DataType.TYPE_INT32, dims: [16n] }),
      create(ModelOutputSchema, { name: 'OUTPUT1', dataType: DataType.TYPE_INT32, dims: [16n] }),
    ],
  }),
);

function int32Input(name: string, shape: number[]): InputTensorInit {
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, datatype: 'INT32', shape, data: new Uint8Array(count * 4), parameters: {} };
}

function request(inputs: InputTensorInit[], extra: Partial<InferRequestInit> = {}): InferRequestInit {
  return { modelName: 'simple', modelVersion: '', id: '', parameters: {}, inputs, outputs: undefined, ...extra };
}

function rejects(init: InferRequestInit, pattern: RegExp): void {
  assert.throws(
    () => normalizeRequest(init, signature, 1n),
    (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG' && pattern.test(error.message),
  );
}

test('a valid request keeps tensor bytes as views and applies reshape with the batch dim', () => {
  const in0 = int32Input('INPUT0', [2, 16]);
  const normalized = normalizeRequest(request([in0, int32Input('INPUT1', [2, 4, 4])]), signature, 1n);
  assert.equal(normalized.batchSize, 2);
  assert.equal(normalized.inputs[0]!.data, in0.data);
  assert.deepEqual(normalized.inputs[1]!.shape, [2, 16]);
  assert.deepEqual(
    normalized.requestedOutputs.map((o) => o.name),
    ['OUTPUT0', 'OUTPUT1'],
  );
});

test('errors name the tensor with expected and actual values, as Triton words them', () => {
  rejects(request([int32Input('INPUT0', [1, 15]), int32Input('INPUT1', [1, 4, 4])]), /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[1,15\]/);
  rejects(request([int32Input('INPUT0', [9, 16]), int32Input('INPUT1', [9, 4, 4])]), /batch-size must be <= 8 for 'simple'/);
  rejects(request([int32Input('INPUT0', [1, 16])]), /expected number of inputs between 2 and 3 but got 1 .*missing required input\(s\) \['INPUT1'\]/);
  rejects(request([int32Input('INPUT0', [1, 16]), int32Input('NOPE', [1])]), /unexpected inference input 'NOPE' for model 'simple'/);
  const wrongType = { ...int32Input('INPUT0', [1, 16]), datatype: 'FP32' };
  rejects(request([wrongType, int32Input('INPUT1', [1, 4, 4])]), /inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'/);
  const short = { ...int32Input('INPUT0', [1, 16]), data: new Uint8Array(60) };
  rejects(request([short, int32Input('INPUT1', [1, 4, 4])], { id: 'r7' }), /^\[request id: r7\] input byte size mismatch for input 'INPUT0' for model 'simple'\. Expected 64, got 60$/);
  const bogusType = { ...int32Input('INPUT0', [1, 16]), datatype: 'FLOAT' };
  rejects(request([bogusType, int32Input('INPUT1', [1, 4, 4])]), /invalid datatype 'FLOAT' for input 'INPUT0'/);
});

test('BYTES inputs must hold exactly the elements their shape says', () => {
  const two = encodeBytesElements([Buffer.from('a\0b'), Buffer.from([0xff])]);
  const ok = { name: 'TEXT', datatype: 'BYTES', shape: [1, 2], data: two, parameters: {} };
  normalizeRequest(request([int32Input('INPUT0', [1, 16]), int32Input('INPUT1', [1, 4, 4]), ok]), signature, 1n);
  const three = { ...ok, shape: [1, 3] };
  const base = [int32Input('INPUT0', [1, 16]), int32Input('INPUT1', [1, 4, 4])];
  rejects(request([...base, three]), /expected 3 string elements for inference input 'TEXT' for model 'simple', got 2$/);
  const one = { ...ok, shape: [1, 1] };
  rejects(
    request([...base, one]),
    /unexpected number of string elements 2 for inference input 'TEXT' for model 'simple', expecting 1$/,
  );
  const cut = { ...ok, data: two.subarray(0, two.length - 1) };
  rejects(request([...base, cut]), /incomplete string data for inference input 'TEXT' for model 'simple'/);
});

test('a request may hold at most MAX_REQUEST_STRING_ELEMENTS BYTES elements, checked from the shapes', () => {
  // No data at all: the count is refused before any element is looked at.
  const huge = { name: 'TEXT', datatype: 'BYTES', shape: [1, MAX_REQUEST_STRING_ELEMENTS + 1], data: new Uint8Array(0), parameters: {} };
  rejects(
    request([int32Input('INPUT0', [1, 16]), int32Input('INPUT1', [1, 4, 4]), huge]),
    new RegExp(`holds ${MAX_REQUEST_STRING_ELEMENTS + 1} BYTES elements, more than the ${MAX_REQUEST_STRING_ELEMENTS}`),
  );
});

test('requested outputs: unknown names, duplicates and classification counts are checked', () => {
  const inputs = [int32Input('INPUT0', [1, 16]), int32Input('INPUT1', [1, 4, 4])];
  rejects(request(inputs, { outputs: [{ name: 'X', parameters: {} }] }), /unexpected inference output 'X' for model 'simple'/);
  rejects(request(inputs, { outputs: [{ name: 'OUTPUT0', parameters: { classification: 0 } }] }), /'classification' for output 'OUTPUT0' must be a positive integer/);
  const normalized = normalizeRequest(
    request(inputs, { outputs: [{ name: 'OUTPUT1', parameters: { classification: 3 } }] }),
    signature,
    1n,
  );
  assert.deepEqual(normalized.requestedOutputs.map((o) => [o.name, o.classificationCount]), [['OUTPUT1', 3]]);
});
