import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelInferRequest } from '@nereid/protocol/generated/grpc_service_pb';
import type { GrpcCallError } from '../../helpers/grpc-client.js';
import { startFixture, type GrpcFixture } from './start.js';

/** The gRPC frontend's part of a graceful exit, over a real socket. */

const SHUTTING_DOWN = 'GRPC server is shutting down and has stopped accepting new requests.';

function echoRequest(id: string, delayMs = 0): ModelInferRequest {
  return create(ModelInferRequestSchema, {
    modelName: 'echo',
    id,
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1n] }],
    rawInputContents: [new Uint8Array(Int32Array.of(7).buffer)],
    parameters: delayMs > 0 ? { delay_ms: { parameterChoice: { case: 'int64Param', value: BigInt(delayMs) } } } : {},
  });
}

function assertRefused(error: unknown): true {
  const failure = error as GrpcCallError;
  assert.equal(failure.code, 14, 'UNAVAILABLE');
  assert.equal(failure.details, SHUTTING_DOWN);
  return true;
}

/** Waits (up to 2 s) until the server counts a call: a fixed sleep is flaky on a busy machine. */
async function callArrived(fx: GrpcFixture): Promise<void> {
  for (let waited = 0; fx.server.inFlight === 0 && waited < 2000; waited += 10) await sleep(10);
}

describe('gRPC graceful exit', () => {
  it('refuses new ModelInfer and ModelStreamInfer with Triton\'s text while draining, answers the rest, and finishes the call in flight', async () => {
    const fx = await startFixture();
    try {
      const inFlight = fx.client.call('modelInfer', echoRequest('before', 300));
      await callArrived(fx);
      fx.server.startDraining();
      assert.equal(fx.server.inFlight, 1);
      await assert.rejects(fx.client.call('modelInfer', echoRequest('after')), assertRefused);
      const stream = fx.client.stream();
      const streamError = new Promise<unknown>((resolve) => stream.on('error', resolve));
      stream.write(echoRequest('streamed'));
      assertRefused(await streamError);
      assert.equal((await fx.client.call('serverLive', {})).live, true);
      assert.equal((await fx.client.call('serverMetadata', {})).name, 'triton');
      assert.equal((await inFlight).id, 'before');
      await fx.server.close();
      assert.equal(fx.server.inFlight, 0);
    } finally {
      fx.client.close();
      fx.server.forceClose();
    }
  });

  it('an open stream finishes the requests it holds; a request written on it while draining is refused', async () => {
    const fx = await startFixture();
    try {
      const stream = fx.client.stream();
      const answers: Array<{ id: string; error: string }> = [];
      const two = new Promise<void>((resolve, reject) => {
        stream.on('data', (message: { inferResponse?: { id: string }; errorMessage: string }) => {
          answers.push({ id: message.inferResponse?.id ?? '', error: message.errorMessage });
          if (answers.length === 2) resolve();
        });
        stream.on('error', reject);
      });
      stream.write(echoRequest('held', 300));
      await callArrived(fx);
      fx.server.startDraining();
      stream.write(echoRequest('late'));
      await two;
      assert.deepEqual(answers[0], { id: 'held', error: '' });
      assert.equal(answers[1]!.error, SHUTTING_DOWN);
      stream.end();
      await fx.server.close();
    } finally {
      fx.client.close();
      fx.server.forceClose();
    }
  });

  it('waits for an open stream before shutting down, and forceClose cuts what is left', async () => {
    const fx = await startFixture();
    try {
      const stream = fx.client.stream();
      stream.on('data', () => {});
      const ended = new Promise<void>((resolve) => stream.on('status', () => resolve()));
      stream.on('error', () => {});
      stream.write(echoRequest('open'));
      await callArrived(fx);
      let closed = false;
      const closing = fx.server.close().then(() => {
        closed = true;
      });
      await sleep(200);
      assert.equal(closed, false, 'close() waits while the stream is open');
      stream.end();
      await ended;
      await closing;

      const second = await startFixture();
      const held = second.client.stream();
      held.on('data', () => {});
      const cut = new Promise<unknown>((resolve) => held.on('error', resolve));
      held.write(echoRequest('held'));
      await callArrived(second);
      void second.server.close();
      second.server.forceClose();
      assert.ok(((await cut) as GrpcCallError).code !== 0, 'the open stream was cut');
      second.client.close();
    } finally {
      fx.client.close();
    }
  });
});
