import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { ClientDuplexStream, StatusObject } from '@grpc/grpc-js';
import {
  InferParameterSchema,
  ModelInferRequestSchema,
  type ModelInferRequest,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type { GrpcCallError } from '../../helpers/grpc-client.js';
import { startFixture, type GrpcFixture } from './start.js';

/** ModelStreamInfer over a real socket: ordering, concurrency, error_message vs triton_grpc_error, cancel. */

type Stream = ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse>;

interface StreamResult {
  readonly responses: ModelStreamInferResponse[];
  readonly status?: StatusObject;
  readonly error?: GrpcCallError;
}

/** Resolves when the stream ends, with every response and the final status (or error). */
function collect(stream: Stream): Promise<StreamResult> {
  const responses: ModelStreamInferResponse[] = [];
  return new Promise((resolve) => {
    stream.on('data', (response: ModelStreamInferResponse) => responses.push(response));
    stream.on('status', (status: StatusObject) => {
      if (status.code === 0) resolve({ responses, status });
    });
    stream.on('error', (error: GrpcCallError) => resolve({ responses, error }));
  });
}

function request(id: string, parameters: Record<string, string | number> = {}, model = 'echo'): ModelInferRequest {
  const init: MessageInitShape<typeof ModelInferRequestSchema> = {
    modelName: model,
    id,
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1n] }],
    rawInputContents: [new Uint8Array(Int32Array.of(id.length).buffer)],
    parameters: Object.fromEntries(
      Object.entries(parameters).map(([key, value]) => [
        key,
        {
          parameterChoice:
            typeof value === 'string' ? { case: 'stringParam', value } : { case: 'int64Param', value: BigInt(value) },
        },
      ]),
    ),
  };
  return create(ModelInferRequestSchema, init);
}

function finalFlag(response: ModelStreamInferResponse): unknown {
  return response.inferResponse?.parameters['triton_final_response']?.parameterChoice;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  assert.ok(condition(), 'condition not reached in time');
}

describe('gRPC ModelStreamInfer', () => {
  let fx: GrpcFixture;

  before(async () => {
    fx = await startFixture();
  });

  after(async () => {
    await fx.close();
  });

  it('runs requests concurrently and answers in request order, each marked final', async () => {
    const stream = fx.client.stream();
    let answered = 0;
    stream.on('data', () => answered++);
    const done = collect(stream);
    stream.write(request('slow-a', { delay_ms: 300 }));
    stream.write(request('slow-b', { delay_ms: 300 }));
    stream.write(request('fast-c'));
    stream.end();
    // Concurrency shown without a clock verdict: slow-b reaches the core while nothing is answered
    // yet (slow-a, answered first, is still sleeping).
    await waitFor(() => fx.core.inferCalls.some((call) => call.id === 'slow-b'));
    assert.equal(answered, 0, 'the two slow requests overlapped');
    const { responses, status } = await done;
    assert.equal(status?.code, 0);
    assert.deepEqual(responses.map((r) => [r.errorMessage, r.inferResponse?.id]), [
      ['', 'slow-a'],
      ['', 'slow-b'],
      ['', 'fast-c'],
    ]);
    for (const response of responses) {
      assert.deepEqual(finalFlag(response), { case: 'boolParam', value: true });
      assert.equal(response.inferResponse?.modelName, 'echo');
      assert.equal(response.inferResponse?.outputs[0]?.name, 'OUTPUT0');
      assert.equal(response.inferResponse?.rawOutputContents[0]?.byteLength, 4);
    }
  });

  it('ends an empty stream with OK', async () => {
    const stream = fx.client.stream();
    const done = collect(stream);
    stream.end();
    const { responses, status } = await done;
    assert.equal(status?.code, 0);
    assert.equal(responses.length, 0);
  });

  it('puts per-request errors in error_message and keeps the stream open', async () => {
    const stream = fx.client.stream();
    const done = collect(stream);
    stream.write(request('ok-1'));
    stream.write(request('bad-1', { fail: 'INVALID_ARG:bad input' }));
    stream.write(request('bad-2', {}, 'nope'));
    const typedMismatch = request('bad-3');
    typedMismatch.rawInputContents = [];
    stream.write(typedMismatch);
    stream.write(request('ok-2'));
    stream.end();
    const { responses, status } = await done;
    assert.equal(status?.code, 0);
    assert.deepEqual(responses.map((r) => [r.inferResponse?.id, r.errorMessage]), [
      ['ok-1', ''],
      ['bad-1', 'bad input'],
      ['bad-2', "Request for unknown model: 'nope' is not found"],
      ['bad-3', "unable to find data for input tensor 'INPUT0' for model 'echo' in request."],
      ['ok-2', ''],
    ]);
    assert.equal(responses[1]?.inferResponse?.outputs.length, 0);
    assert.deepEqual(finalFlag(responses[1]!), { case: 'boolParam', value: true });
  });

  it('with triton_grpc_error: true, ends the stream with the first error status and cancels the rest', async () => {
    const stream = fx.client.stream({ triton_grpc_error: 'true' });
    const done = collect(stream);
    stream.write(request('first'));
    await waitFor(() => fx.core.inferCalls.some((call) => call.id === 'first'));
    stream.write(request('pending', { delay_ms: 10_000 }));
    await waitFor(() => fx.core.signals.has('pending'));
    stream.write(request('broken', { fail: 'NOT_FOUND:no such thing' }));
    const { responses, error } = await done;
    assert.equal(error?.code, 5);
    assert.equal(error?.details, 'no such thing');
    assert.deepEqual(responses.map((r) => r.inferResponse?.id), ['first']);
    await waitFor(() => fx.core.signals.get('pending')?.aborted === true);
  });

  it('aborts requests in flight when the client cancels the stream', async () => {
    const stream = fx.client.stream();
    const done = collect(stream);
    stream.write(request('cancel-me', { delay_ms: 10_000 }));
    await waitFor(() => fx.core.signals.has('cancel-me'));
    stream.cancel();
    const { error } = await done;
    assert.equal(error?.code, 1);
    await waitFor(() => fx.core.signals.get('cancel-me')?.aborted === true);
  });

  it('sends one response per request of a non-decoupled model even with empty final responses enabled', async () => {
    const stream = fx.client.stream();
    const done = collect(stream);
    const withFlag = request('flagged');
    withFlag.parameters['triton_enable_empty_final_response'] = create(InferParameterSchema, {
      parameterChoice: { case: 'boolParam', value: true },
    });
    stream.write(withFlag);
    stream.end();
    const { responses } = await done;
    assert.equal(responses.length, 1);
    assert.equal(responses[0]?.errorMessage, '');
    assert.equal(fx.core.inferCalls.at(-1)?.parameters['triton_enable_empty_final_response'], undefined);
  });
});
