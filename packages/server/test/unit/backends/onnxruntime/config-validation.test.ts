import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  BatchOutputSchema,
  DataType,
  ModelConfigSchema,
  ModelInputSchema,
  ModelOutputSchema,
  ModelTensorReshapeSchema,
  type ModelConfig,
  type ModelInput,
  type ModelOutput,
} from '@nereid/protocol/generated/model_config_pb';
import type { ModelIo } from '../../../../src/backends/onnxruntime/tensor-info.js';
import { validateConfig } from '../../../../src/backends/onnxruntime/config-validation.js';
import { ServerError, type ErrorCode } from '../../../../src/errors/index.js';

/** Like `simple`: [batch, 16] INT32. */
const SIMPLE: ModelIo = {
  inputs: [
    { name: 'INPUT1', type: 'int32', shape: [-1, 16] },
    { name: 'INPUT0', type: 'int32', shape: [-1, 16] },
  ],
  outputs: [
    { name: 'OUTPUT0', type: 'int32', shape: [-1, 16] },
    { name: 'OUTPUT1', type: 'int32', shape: [-1, -1] },
  ],
};

const input = (name: string, dims: number[], more: MessageInitShape<typeof ModelInputSchema> = {}): ModelInput =>
  create(ModelInputSchema, { name, dataType: DataType.TYPE_INT32, dims: dims.map(BigInt), ...more });
const output = (name: string, dims: number[], more: MessageInitShape<typeof ModelOutputSchema> = {}): ModelOutput =>
  create(ModelOutputSchema, { name, dataType: DataType.TYPE_INT32, dims: dims.map(BigInt), ...more });

function simpleConfig(init: MessageInitShape<typeof ModelConfigSchema> = {}): ModelConfig {
  return create(ModelConfigSchema, {
    name: 'simple',
    maxBatchSize: 8,
    input: [input('INPUT0', [16]), input('INPUT1', [16])],
    output: [output('OUTPUT0', [16]), output('OUTPUT1', [-1])],
    ...init,
  });
}

function rejects(cfg: ModelConfig, io: ModelIo, code: ErrorCode, message: string | RegExp): void {
  assert.throws(
    () => validateConfig(cfg, io),
    (error) =>
      error instanceof ServerError &&
      error.code === code &&
      (typeof message === 'string' ? error.message === message : message.test(error.message)),
  );
}

describe('onnxruntime config validation', () => {
  it('accepts a config that matches the model, in any order', () => {
    validateConfig(simpleConfig(), SIMPLE);
  });

  it('accepts config dims stricter than a dynamic model input dim', () => {
    const io: ModelIo = { ...SIMPLE, inputs: SIMPLE.inputs.map((i) => ({ ...i, shape: [-1, -1] })) };
    validateConfig(simpleConfig(), io);
  });

  it('names an input the model does not have, listing the model inputs', () => {
    rejects(
      simpleConfig({ input: [input('INPUT0', [16]), input('INPUT9', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      "unexpected inference input 'INPUT9', allowed inputs are: INPUT0, INPUT1",
    );
  });

  it('names an output the model does not have', () => {
    rejects(
      simpleConfig({ output: [output('OUTPUT0', [16]), output('OUTPUT7', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      "unexpected inference output 'OUTPUT7', allowed outputs are: OUTPUT0, OUTPUT1",
    );
  });

  it('counts inputs against the model', () => {
    rejects(
      simpleConfig({ input: [input('INPUT0', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      "unable to load model 'simple', configuration expects 1 inputs, model provides 2",
    );
  });

  it('checks datatypes', () => {
    rejects(
      simpleConfig({ input: [input('INPUT0', [16], { dataType: DataType.TYPE_FP32 }), input('INPUT1', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      "unable to load model 'simple', configuration expects datatype TYPE_FP32 for input 'INPUT0', model provides TYPE_INT32",
    );
    rejects(
      simpleConfig({ output: [output('OUTPUT0', [16], { dataType: DataType.TYPE_INVALID }), output('OUTPUT1', [-1])] }),
      SIMPLE,
      'INTERNAL',
      /unsupported datatype TYPE_INVALID for output 'OUTPUT0'/,
    );
  });

  it('checks dims against the model shape; outputs must match exactly', () => {
    rejects(
      simpleConfig({ input: [input('INPUT0', [8]), input('INPUT1', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      "model 'simple', tensor 'INPUT0': the model expects 2 dimensions (shape [-1,16]) but the model configuration specifies 2 dimensions (an initial batch dimension because max_batch_size > 0 followed by the explicit tensor shape, making complete shape [-1,8])",
    );
    rejects(
      simpleConfig({ output: [output('OUTPUT0', [16]), output('OUTPUT1', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      /tensor 'OUTPUT1': the model expects 2 dimensions \(shape \[-1,-1\]\)/,
    );
  });

  it('needs a dynamic first model dim when batching', () => {
    const fixed: ModelIo = {
      inputs: [{ name: 'X', type: 'int32', shape: [2, 3] }],
      outputs: [{ name: 'Y', type: 'int32', shape: [2, 3] }],
    };
    const cfg = create(ModelConfigSchema, {
      name: 'f',
      maxBatchSize: 4,
      input: [input('X', [3])],
      output: [output('Y', [3])],
    });
    rejects(cfg, fixed, 'INVALID_ARG', /for the model to support batching the shape should have at least 1 dimension and the first dimension must be -1; but shape expected by the model is \[2,3\]/);
    cfg.maxBatchSize = 0;
    cfg.input = [input('X', [2, 3])];
    cfg.output = [output('Y', [2, 3])];
    validateConfig(cfg, fixed);
  });

  it('checks the reshape shape instead of dims when there is one', () => {
    const io: ModelIo = {
      inputs: [{ name: 'X', type: 'int32', shape: [-1] }],
      outputs: [{ name: 'Y', type: 'int32', shape: [-1] }],
    };
    const reshape = create(ModelTensorReshapeSchema, { shape: [] });
    validateConfig(
      create(ModelConfigSchema, {
        name: 's',
        maxBatchSize: 4,
        input: [input('X', [1], { reshape })],
        output: [output('Y', [1], { reshape })],
      }),
      io,
    );
  });

  it('allows only 1s for scalar model tensors', () => {
    const io: ModelIo = {
      inputs: [{ name: 'X', type: 'int32', shape: [] }],
      outputs: [{ name: 'Y', type: 'int32', shape: [] }],
    };
    const cfg = create(ModelConfigSchema, { name: 'r', input: [input('X', [1])], output: [output('Y', [1, 1])] });
    validateConfig(cfg, io);
    cfg.output = [output('Y', [2])];
    rejects(cfg, io, 'INVALID_ARG', /scalar tensor 'Y', should only provide 1 in the model configuration/);
  });

  it('refuses optional inputs on batching models', () => {
    // Optional inputs are not counted (Triton expects them to be overridable initializers).
    const oneInput: ModelIo = { ...SIMPLE, inputs: SIMPLE.inputs.slice(0, 1) };
    rejects(
      simpleConfig({ input: [input('INPUT1', [16]), input('INPUT0', [16], { optional: true })] }),
      oneInput,
      'INVALID_ARG',
      "unable to load model 'simple', optional input 'INPUT0' is not supported for models that support batching",
    );
  });

  describe('initializer-backed (optional) model inputs', () => {
    /** The `optional_initializer` fixture: BIAS is an overridable initializer. */
    const IO: ModelIo = {
      inputs: [
        { name: 'INPUT0', type: 'float32', shape: [3] },
        { name: 'BIAS', type: 'float32', shape: [3], optional: true },
      ],
      outputs: [{ name: 'OUTPUT0', type: 'float32', shape: [3] }],
    };
    const fp32 = (name: string, dims: number[], more: MessageInitShape<typeof ModelInputSchema> = {}): ModelInput =>
      input(name, dims, { dataType: DataType.TYPE_FP32, ...more });
    const cfg = (inputs: ModelInput[], maxBatchSize = 0): ModelConfig =>
      create(ModelConfigSchema, {
        name: 'opt',
        maxBatchSize,
        input: inputs,
        output: [output('OUTPUT0', [3], { dataType: DataType.TYPE_FP32 })],
      });

    it('accepts the initializer listed with optional: true, or not listed at all', () => {
      validateConfig(cfg([fp32('INPUT0', [3]), fp32('BIAS', [3], { optional: true })]), IO);
      validateConfig(cfg([fp32('BIAS', [3], { optional: true }), fp32('INPUT0', [3])]), IO);
      validateConfig(cfg([fp32('INPUT0', [3])]), IO);
    });

    it('refuses the initializer listed without optional: true, as Triton does', () => {
      rejects(
        cfg([fp32('INPUT0', [3]), fp32('BIAS', [3])]),
        IO,
        'INVALID_ARG',
        "unable to load model 'opt', configuration expects 2 inputs, model provides 1",
      );
    });

    it('still needs every required model input, optional or not in the config', () => {
      rejects(cfg([fp32('BIAS', [3], { optional: true })]), IO, 'INVALID_ARG', "unable to load model 'opt', configuration expects 0 inputs, model provides 1");
      rejects(
        cfg([fp32('INPUT0', [3], { optional: true }), fp32('BIAS', [3], { optional: true })]),
        IO,
        'INVALID_ARG',
        "unable to load model 'opt', configuration expects 0 inputs, model provides 1",
      );
    });

    it('checks an optional input\'s name, datatype and dims like any other', () => {
      rejects(
        cfg([fp32('INPUT0', [3]), fp32('NOPE', [3], { optional: true })]),
        IO,
        'INVALID_ARG',
        "unexpected inference input 'NOPE', allowed inputs are: BIAS, INPUT0",
      );
      rejects(
        cfg([fp32('INPUT0', [3]), input('BIAS', [3], { optional: true })]),
        IO,
        'INVALID_ARG',
        "unable to load model 'opt', configuration expects datatype TYPE_INT32 for input 'BIAS', model provides TYPE_FP32",
      );
      rejects(
        cfg([fp32('INPUT0', [3]), fp32('BIAS', [4], { optional: true })]),
        IO,
        'INVALID_ARG',
        "model 'opt', tensor 'BIAS': the model expects 1 dimensions (shape [3]) but the model configuration specifies 1 dimensions (shape [4])",
      );
    });

    it('refuses the initializer as an optional input of a batching model, but batches without it', () => {
      const batchable: ModelIo = {
        inputs: [{ name: 'INPUT0', type: 'float32', shape: [-1, 3] }, IO.inputs[1]!],
        outputs: [{ name: 'OUTPUT0', type: 'float32', shape: [-1, 3] }],
      };
      rejects(
        cfg([fp32('INPUT0', [3]), fp32('BIAS', [3], { optional: true })], 4),
        batchable,
        'INVALID_ARG',
        "unable to load model 'opt', optional input 'BIAS' is not supported for models that support batching",
      );
      validateConfig(cfg([fp32('INPUT0', [3])], 4), batchable);
    });

    it('refuses allow_ragged_batch on an optional input', () => {
      rejects(
        cfg([fp32('INPUT0', [3]), fp32('BIAS', [3], { optional: true, allowRaggedBatch: true })]),
        IO,
        'INVALID_ARG',
        "unable to load model 'opt', configuration expects model provides input with shape [-1] for ragged input 'BIAS', which is not supported for optional input",
      );
    });
  });

  it('needs a [-1] model input for ragged inputs', () => {
    rejects(
      simpleConfig({ input: [input('INPUT0', [16], { allowRaggedBatch: true }), input('INPUT1', [16])] }),
      SIMPLE,
      'INVALID_ARG',
      /configuration expects model provides input with shape \[-1\] for ragged input 'INPUT0', model provides \[-1,16\]/,
    );
  });

  it('skips the dims check for batch outputs', () => {
    validateConfig(
      simpleConfig({
        output: [output('OUTPUT0', [16]), output('OUTPUT1', [5])],
        batchOutput: [create(BatchOutputSchema, { targetName: ['OUTPUT1'], sourceInput: ['INPUT0'] })],
      }),
      SIMPLE,
    );
  });
});
