import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { httpCall, keepAliveAgent } from '../../helpers/http-client.js';
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
