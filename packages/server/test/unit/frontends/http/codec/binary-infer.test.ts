import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerError } from '../../../../../src/errors/index.js';
import { decodeRawInferRequest, inferenceHeaderLength } from '../../../../../src/frontends/http/codec/binary-infer.js';
import { EchoCore } from '../../../../helpers/echo-core.js';

describe('inferenceHeaderLength', () => {
  it('is the whole body without the header, the value otherwise', () => {
    assert.equal(inferenceHeaderLength(undefined, 120), 120);
    assert.equal(inferenceHeaderLength('100', 120), 100);
    assert.equal(inferenceHeaderLength('0', 120), 0);
    assert.equal(inferenceHeaderLength(' 42abc', 120), 42, 'reads like std::stoi');
  });

  it('refuses values Triton refuses, with its wording', () => {
    assert.throws(() => inferenceHeaderLength('abc', 10), {
      message: 'Unable to parse Inference-Header-Content-Length, got: abc',
    });
    assert.throws(() => inferenceHeaderLength('99999999999', 10), {
      message:
        'Unable to parse Inference-Header-Content-Length, value is out of range [ -2147483648, 2147483647 ], got: 99999999999',
    });
    assert.throws(() => inferenceHeaderLength('11', 10), {
      message: 'inference header size should be in range (0, 10), got: 11',
    });
    assert.throws(() => inferenceHeaderLength('-1', 10), (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG');
  });
});

describe('decodeRawInferRequest', () => {
  const core = new EchoCore();
  const floats = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);

  it('derives the one variable dim from the byte size and adds batch 1 for batching models', () => {
    const { init, plan } = decodeRawInferRequest(core, 'raw_fp32', '', floats);
    assert.equal(init.inputs.length, 1);
    const input = init.inputs[0];
    assert.deepEqual({ name: input?.name, datatype: input?.datatype, shape: input?.shape }, { name: 'INPUT0', datatype: 'FP32', shape: [1, 6] });
    assert.equal(input?.data, floats, 'the body itself, not a copy');
    assert.equal(init.outputs, undefined);
    assert.equal(plan.defaultKind, 'binary');
  });

  it('keeps fixed shapes of non-batching models as configured', () => {
    const { init } = decodeRawInferRequest(core, 'raw_fixed', '', Buffer.alloc(16));
    assert.deepEqual(init.inputs[0]?.shape, [2, 2]);
  });

  it('sends a BYTES body as one length-prefixed element', () => {
    const { init } = decodeRawInferRequest(core, 'raw_bytes', '', Buffer.from('427'));
    assert.deepEqual(init.inputs[0]?.shape, [1]);
    assert.deepEqual([...(init.inputs[0]?.data as Uint8Array)], [3, 0, 0, 0, 0x34, 0x32, 0x37]);
  });

  it('refuses models that do not qualify, with Triton wording', () => {
    assert.throws(() => decodeRawInferRequest(core, 'echo', '', floats), {
      message: "[request id: <id_unknown>] Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'echo' model configuration",
    });
    assert.throws(() => decodeRawInferRequest(core, 'raw_bytes_many', '', floats), {
      message: "[request id: <id_unknown>] For BYTE datatype raw input 'INPUT0', the model must have input shape [1]",
    });
    assert.throws(() => decodeRawInferRequest(core, 'raw_two_var', '', floats), {
      message: "[request id: <id_unknown>] The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension",
    });
    assert.throws(() => decodeRawInferRequest(core, 'missing', '', floats), (error: unknown) => error instanceof ServerError && error.code === 'NOT_FOUND');
  });
});
