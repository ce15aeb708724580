import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runGenerateModel } from '../../../src/cli/generate-model.js';
import { keepAliveAgent, postInfer } from '../../helpers/http-client.js';
import { Harness } from '../../helpers/model-control-harness.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';

async function generate(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runGenerateModel(argv, (text) => (out += text), (text) => (err += text));
  return { code, out, err };
}

test('generate-model for ONNX copies the model in, completes the config from it, and the folder serves', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'nereid-generate-'));
  try {
    const made = await generate(
      '--triton_model_dir', join(repo, 'my_identity'),
      '--compiled_model', join(FIXTURE_MODELS, 'identity_fp32', '1', 'model.onnx'),
      '--triton_max_batch_size', '4', '--triton_model_instance_count', '2',
    );
    assert.equal(made.code, 0, made.err);
    const config = readFileSync(join(repo, 'my_identity', 'config.pbtxt'), 'utf8');
    assert.equal(made.out, `wrote ${join(repo, 'my_identity')}\n${config}`);
    assert.match(config, /name: "INPUT0"\s+data_type: TYPE_FP32/, 'inputs completed from the model');
    assert.match(config, /max_batch_size: 4/);
    assert.match(config, /count: 2/);
    const harness = new Harness();
    await harness.start({ modelRepositories: [repo] });
    try {
      const reply = await postInfer(harness.base, 'my_identity', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, [1, 2, 3]);
    } finally {
      keepAliveAgent.destroy();
      await harness.stop();
    }
    // A second run refuses to overwrite the folder.
    const again = await generate('--triton_model_dir', join(repo, 'my_identity'), '--compiled_model', join(FIXTURE_MODELS, 'identity_fp32', '1', 'model.onnx'));
    assert.equal(again.code, 2);
    assert.match(again.err, /--triton_model_dir: '.*my_identity' already holds a config\.pbtxt/);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test('bad arguments are errors naming the argument', async () => {
  const cases: [string[], RegExp][] = [
    [['--backend', 'python', '--triton_input', 'A,FP32,3'], /--triton_model_dir is required/],
    [['--triton_model_dir', '/tmp/x', '--triton_input', 'A,FLOAT99,3', '--triton_output', 'B,FP32,3'], /--triton_input: unknown datatype 'FLOAT99' in 'A,FLOAT99,3'/],
    [['--triton_model_dir', '/tmp/x', '--triton_input', 'A,FP32,3x0', '--triton_output', 'B,FP32,3'], /--triton_input: dims must be positive integers or -1/],
    [['--triton_model_dir', '/tmp/x', '--backend', 'tensorrt'], /--backend: expected one of onnxruntime, python, javascript, got 'tensorrt'/],
    [['--triton_model_dir', '/tmp/x', '--backend', 'onnxruntime'], /--compiled_model is required with --backend onnxruntime/],
    [['--triton_model_dir', '/tmp/x', '--backend', 'python', '--triton_output', 'B,FP32,3'], /--triton_input and --triton_output are required/],
    [['--triton_model_dir', '/tmp/x', '--triton_max_batch_size', 'many', '--backend', 'python', '--triton_input', 'A,FP32,3', '--triton_output', 'B,FP32,3'], /--max_batch_size: expected an integer >= 0, got 'many'/],
    [['--triton_model_dir', '/tmp/x', '--frobnicate'], /unknown option '--frobnicate'/],
  ];
  for (const [argv, message] of cases) {
    const result = await generate(...argv);
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.err, message, argv.join(' '));
  }
});

test('generate-model for Python and JavaScript writes skeletons that serve zeros of the declared shapes', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'nereid-generate-scripts-'));
  try {
    for (const backend of ['python', 'javascript']) {
      const made = await generate(
        '--backend', backend, '--triton_model_dir', join(repo, `gen_${backend}`),
        '--triton_input', 'INPUT__0,INT32,3', '--triton_input', 'FP32,-1',
        '--triton_output', 'OUTPUT__0,FP32,2x2', '--triton_output', 'STRING,1',
        '--triton_max_batch_size', '4',
      );
      assert.equal(made.code, 0, made.err);
      assert.match(made.out, /name: "INPUT__1"\s+data_type: TYPE_FP32/, 'an unnamed tensor follows Triton\'s <name>__<index> convention');
    }
    const harness = new Harness();
    await harness.start({ modelRepositories: [repo] });
    try {
      for (const backend of ['python', 'javascript']) {
        const reply = await postInfer(harness.base, `gen_${backend}`, {
          inputs: [
            { name: 'INPUT__0', datatype: 'INT32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
            { name: 'INPUT__1', datatype: 'FP32', shape: [2, 1], data: [1, 2] },
          ],
        });
        assert.equal(reply.status, 200, `${backend}: ${JSON.stringify(reply.json)}`);
        assert.deepEqual(reply.outputs.get('OUTPUT__0')?.shape, [2, 2, 2], backend);
        assert.deepEqual(reply.outputs.get('OUTPUT__0')?.data, [0, 0, 0, 0, 0, 0, 0, 0], backend);
        assert.deepEqual(reply.outputs.get('OUTPUT__1')?.shape, [2, 1], backend);
      }
    } finally {
      keepAliveAgent.destroy();
      await harness.stop();
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
