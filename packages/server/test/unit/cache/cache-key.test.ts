import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseCacheKey, type CacheScope } from '../../../src/cache/cache-key.js';
import type { InferenceRequest, RequestedOutput } from '../../../src/request/inference-request.js';
import type { Parameters, Tensor } from '../../../src/tensor/tensor.js';

const SCOPE: CacheScope = { modelName: 'simple', version: 1n, generation: 1 };

function int32Tensor(name: string, values: readonly number[], shape: readonly number[] = [1, values.length]): Tensor {
  return { name, datatype: 'INT32', shape, data: new Uint8Array(Int32Array.from(values).buffer) };
}

function output(name: string, parameters: Parameters = {}): RequestedOutput {
  return { name, classificationCount: 0, parameters };
}

function request(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    modelName: 'simple',
    modelVersion: 1n,
    id: '',
    parameters: {},
    inputs: [int32Tensor('INPUT0', [1, 2, 3, 4]), int32Tensor('INPUT1', [5, 6, 7, 8])],
    batchSize: 1,
    requestedOutputs: [output('OUTPUT0'), output('OUTPUT1')],
    priority: 0,
    timeoutMicroseconds: 0,
    ...overrides,
  };
}

const key = (overrides: Partial<InferenceRequest> = {}, scope: CacheScope = SCOPE): string =>
  responseCacheKey(scope, request(overrides));

test('the same request gives the same key, whatever the input order, id, priority or timeout', () => {
  const base = key();
  assert.equal(key(), base);
  assert.equal(key({ inputs: [...request().inputs].reverse() }), base);
  assert.equal(key({ id: 'other', priority: 3, timeoutMicroseconds: 100 }), base);
  assert.equal(key({ parameters: { priority: 3, timeout: 100, binary_data_output: true } }), base);
  // Input bytes are read where they lie: a view into a larger buffer keys like a copy.
  const big = new Uint8Array(64);
  big.set(request().inputs[0]!.data, 16);
  const view: Tensor = { ...request().inputs[0]!, data: big.subarray(16, 32) };
  assert.equal(key({ inputs: [view, request().inputs[1]!] }), base);
});

test('model, version, load generation, and every input name, datatype, shape and byte change the key', () => {
  const base = key();
  const [in0, in1] = request().inputs as [Tensor, Tensor];
  const variants: Record<string, string> = {
    model: key({}, { ...SCOPE, modelName: 'simple2' }),
    version: key({}, { ...SCOPE, version: 2n }),
    generation: key({}, { ...SCOPE, generation: 2 }),
    bytes: key({ inputs: [int32Tensor('INPUT0', [1, 2, 3, 5]), in1] }),
    shape: key({ inputs: [{ ...in0, shape: [2, 2] }, in1] }),
    datatype: key({ inputs: [{ ...in0, datatype: 'FP32' }, in1] }),
    name: key({ inputs: [{ ...in0, name: 'INPUTX' }, in1] }),
    'inputs swapped between names': key({ inputs: [{ ...in0, name: 'INPUT1' }, { ...in1, name: 'INPUT0' }] }),
    'one input fewer': key({ inputs: [in0] }),
    // The same concatenated bytes split differently between two inputs.
    'bytes moved across inputs': key({
      inputs: [int32Tensor('INPUT0', [1, 2, 3, 4, 5], [1, 5]), int32Tensor('INPUT1', [6, 7, 8], [1, 3])],
    }),
    'only OUTPUT0': key({ requestedOutputs: [output('OUTPUT0')] }),
    'a custom parameter': key({ parameters: { temperature: 1 } }),
  };
  const seen = new Map<string, string>([[base, 'base']]);
  for (const [what, variant] of Object.entries(variants)) {
    assert.equal(seen.get(variant), undefined, `${what} collides with ${seen.get(variant)}`);
    seen.set(variant, what);
  }
});

test('requested outputs key as a set; parameters by name, value and type (int as number or bigint alike)', () => {
  assert.equal(
    key({ requestedOutputs: [output('OUTPUT1'), output('OUTPUT0', { binary_data: true, classification: 2 })] }),
    key(),
    'order and output parameters (encoding, classification, shared memory) are applied per request',
  );
  assert.equal(key({ parameters: { a: 1, b: 'x' } }), key({ parameters: { b: 'x', a: 1n } }));
  const typed = [key({ parameters: { a: 1 } }), key({ parameters: { a: '1' } }), key({ parameters: { a: true } }), key({ parameters: { a: 'true' } })];
  assert.equal(new Set(typed).size, typed.length);
});

test('BYTES inputs key by their wire layout: element boundaries count', () => {
  const bytes = (elements: string[]): Tensor => {
    const parts = elements.flatMap((e) => {
      const body = Buffer.from(e, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(body.length);
      return [length, body];
    });
    return { name: 'INPUT0', datatype: 'BYTES', shape: [1, elements.length], data: Buffer.concat(parts) };
  };
  const one = key({ inputs: [bytes(['ab', 'c'])] });
  assert.equal(key({ inputs: [bytes(['ab', 'c'])] }), one);
  assert.notEqual(key({ inputs: [bytes(['a', 'bc'])] }), one);
});
