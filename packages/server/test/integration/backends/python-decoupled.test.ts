import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { httpCall, keepAliveAgent, postInfer } from '../../helpers/http-client.js';
import { Harness } from '../../helpers/model-control-harness.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/** A decoupled Python model (examples/models/repeat_int32: Triton's repeat_int32 behaviour) answering through its response sender. */
describe('decoupled Python models', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-py-decoupled-'));
    cpSync(join(EXAMPLE_MODELS, 'repeat_int32'), join(repo, 'repeat_int32'), { recursive: true });
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  const request = (id: string, values: number[], delayMs = 5, waitMs = 0) =>
    create(ModelInferRequestSchema, {
      modelName: 'repeat_int32',
      id,
      inputs: [
        { name: 'IN', datatype: 'INT32', shape: [BigInt(values.length)], contents: { intContents: values } },
        { name: 'DELAY', datatype: 'UINT32', shape: [BigInt(values.length)], contents: { uintContents: values.map(() => delayMs) } },
        { name: 'WAIT', datatype: 'UINT32', shape: [1n], contents: { uintContents: [waitMs] } },
      ],
    });

  function stream(requests: ReturnType<typeof request>[]): Promise<ModelStreamInferResponse[]> {
    const call = harness.grpc.stream();
    const messages: ModelStreamInferResponse[] = [];
    return new Promise((resolve, reject) => {
      call.on('data', (message: ModelStreamInferResponse) => messages.push(message));
      call.on('end', () => resolve(messages));
      call.on('error', reject);
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  const int32 = (message: ModelStreamInferResponse, index: number): number =>
    new Int32Array(new Uint8Array(message.inferResponse!.rawOutputContents[index]!).slice().buffer)[0]!;

  it('sends one response per element from its own thread, after execute returned, for interleaved requests', async () => {
    const messages = await stream([request('a', [10, 11, 12, 13]), request('b', [20, 21], 5, 30)]);
    const values = (id: string) => messages.filter((m) => m.inferResponse?.id === id).map((m) => [int32(m, 0), int32(m, 1)]);
    assert.deepEqual(values('a'), [[10, 0], [11, 1], [12, 2], [13, 3]]);
    assert.deepEqual(values('b'), [[20, 0], [21, 1]]);
    assert.ok(messages.every((m) => m.errorMessage === ''));
    // Response statistics by index within the request: a's 4 and b's 2 responses, then each one's final flag alone.
    const stats = (JSON.parse((await httpCall(harness.base, 'GET', '/v2/models/repeat_int32/stats')).body.toString()) as {
      model_stats: { response_stats: Record<string, Record<'success' | 'empty_response', { count: number }>> }[];
    }).model_stats[0]!.response_stats;
    const counts = Object.fromEntries(Object.entries(stats).map(([key, entry]) => [key, [entry.success.count, entry.empty_response.count]]));
    assert.deepEqual(counts, { 0: [2, 0], 1: [2, 0], 2: [1, 1], 3: [1, 0], 4: [0, 1] });
  });

  it('generate_stream carries each response as an event', async () => {
    const reply = await httpCall(harness.base, 'POST', '/v2/models/repeat_int32/generate_stream', { body: JSON.stringify({ IN: [7, 8], DELAY: [1, 1], WAIT: [0] }) });
    assert.equal(reply.status, 200);
    assert.equal(
      reply.body.toString(),
      'data: {"IDX":0,"OUT":7,"model_name":"repeat_int32","model_version":"1"}\n\ndata: {"IDX":1,"OUT":8,"model_name":"repeat_int32","model_version":"1"}\n\n',
    );
  });

  it("a model error in execute reaches the stream as the request's error", async () => {
    const bad = create(ModelInferRequestSchema, {
      modelName: 'repeat_int32',
      id: 'bad',
      inputs: [
        { name: 'IN', datatype: 'INT32', shape: [2n], contents: { intContents: [1, 2] } },
        { name: 'DELAY', datatype: 'UINT32', shape: [1n], contents: { uintContents: [1] } },
        { name: 'WAIT', datatype: 'UINT32', shape: [1n], contents: { uintContents: [0] } },
      ],
    });
    const messages = await stream([bad]);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!.errorMessage, /expected IN and DELAY of the same length, got 2 and 1/);
  });
});

describe('BLS calls to a decoupled model from Python', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-py-bls-decoupled-'));
    cpSync(join(EXAMPLE_MODELS, 'repeat_int32'), join(repo, 'repeat_int32'), { recursive: true });
    for (const [name, call] of [['sum_sync', 'request.exec(decoupled=True)'], ['sum_async', 'await request.async_exec(decoupled=True)']] as const) {
      mkdirSync(join(repo, name, '1'), { recursive: true });
      writeFileSync(
        join(repo, name, 'config.pbtxt'),
        `name: "${name}"\nbackend: "python"\nmax_batch_size: 0\ninput [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]\n` +
          'output [ { name: "SUM" data_type: TYPE_INT32 dims: [ 1 ] }, { name: "COUNT" data_type: TYPE_INT32 dims: [ 1 ] } ]\n',
      );
      writeFileSync(
        join(repo, name, '1', 'model.py'),
        [
          'import numpy as np',
          'import triton_python_backend_utils as pb_utils',
          '',
          'class TritonPythonModel:',
          '    async def execute(self, requests):',
          '        out = []',
          '        for r in requests:',
          '            values = pb_utils.get_input_tensor_by_name(r, "IN").as_numpy()',
          '            request = pb_utils.InferenceRequest(model_name="repeat_int32", requested_output_names=["OUT"], inputs=[',
          '                pb_utils.Tensor("IN", values), pb_utils.Tensor("DELAY", np.ones(len(values), dtype=np.uint32)),',
          '                pb_utils.Tensor("WAIT", np.zeros(1, dtype=np.uint32))])',
          `            total, count = 0, 0`,
          `            for response in ${call}:`,
          '                if response.has_error():',
          '                    raise pb_utils.TritonModelException(response.error().message())',
          '                count += 1',
          '                if len(response.output_tensors()) > 0:',
          '                    total += int(pb_utils.get_output_tensor_by_name(response, "OUT").as_numpy()[0])',
          '            out.append(pb_utils.InferenceResponse(output_tensors=[',
          '                pb_utils.Tensor("SUM", np.array([total], dtype=np.int32)), pb_utils.Tensor("COUNT", np.array([count], dtype=np.int32))]))',
          '        return out',
          '',
        ].join('\n'),
      );
    }
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('exec(decoupled=True) and async_exec(decoupled=True) iterate every response, then an empty final one', async () => {
    for (const model of ['sum_sync', 'sum_async']) {
      const reply = await postInfer(harness.base, model, { inputs: [{ name: 'IN', datatype: 'INT32', shape: [3], data: [4, 5, 6] }] });
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      assert.deepEqual(reply.outputs.get('SUM')?.data, [15], model);
      // Three responses, and the final flag alone as an empty response (as Triton's iterator yields it).
      assert.deepEqual(reply.outputs.get('COUNT')?.data, [4], model);
    }
  });
});

describe('a text model through /generate and /generate_stream (examples/models/text_stream)', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-py-text-'));
    cpSync(join(EXAMPLE_MODELS, 'text_stream'), join(repo, 'text_stream'), { recursive: true });
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('answers once through /generate, word by word through /generate_stream', async () => {
    const once = await httpCall(harness.base, 'POST', '/v2/models/text_stream/generate', {
      body: JSON.stringify({ id: 'g1', text_input: 'the quick brown fox', parameters: { max_tokens: 3 } }),
    });
    assert.equal(once.status, 200, once.body.toString());
    assert.deepEqual(JSON.parse(once.body.toString()), { id: 'g1', model_name: 'text_stream', model_version: '1', text_output: 'THE QUICK BROWN' });
    const streamed = await httpCall(harness.base, 'POST', '/v2/models/text_stream/generate_stream', {
      body: JSON.stringify({ text_input: 'hello streaming world', parameters: { stream: true } }),
    });
    assert.equal(streamed.status, 200);
    const events = streamed.body.toString().split('\n\n').filter((e) => e !== '').map((e) => JSON.parse(e.replace(/^data: /, '')) as { text_output: string });
    assert.deepEqual(events.map((e) => e.text_output), ['HELLO', ' STREAMING', ' WORLD']);
  });
});
