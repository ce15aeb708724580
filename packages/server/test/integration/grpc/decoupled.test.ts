import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { defaultBackends, resolveOptions } from '../../../src/cli/start-server.js';
import { InferenceServer } from '../../../src/core/inference-server.js';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/frontends/grpc/grpc-server.js';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient, type GrpcCallError } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent } from '../../helpers/http-client.js';
import { REPEAT_CONFIG, repeatBackend } from '../../helpers/repeat-backend.js';

/** The decoupled path of the core and frontends: many responses per request, over gRPC streaming and generate_stream. */
describe('decoupled models: many responses per request', () => {
  let repo: string;
  let core: InferenceServer;
  let http: HttpServerHandle;
  let grpcServer: GrpcServerHandle;
  let grpc: InferenceGrpcClient;
  let base: string;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-decoupled-'));
    mkdirSync(join(repo, 'repeat', '1'), { recursive: true });
    writeFileSync(join(repo, 'repeat', '1', 'model.repeat'), '');
    writeFileSync(join(repo, 'repeat', 'config.pbtxt'), REPEAT_CONFIG);
    const options = resolveOptions({ modelRepositories: [repo], http: { port: 0, address: '127.0.0.1' }, grpc: { port: 0, address: '127.0.0.1' } });
    core = await InferenceServer.create(options, defaultBackends().register(repeatBackend), silentLogger);
    http = await startHttpServer(core, options.http, silentLogger);
    grpcServer = await startGrpcServer(core, options.grpc, silentLogger);
    base = `http://127.0.0.1:${http.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${grpcServer.port}`);
  });
  after(async () => {
    keepAliveAgent.destroy();
    grpc.close();
    await http.close();
    await grpcServer.close();
    await core.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  function request(id: string, values: number[], enableEmptyFinal = false) {
    return create(ModelInferRequestSchema, {
      modelName: 'repeat',
      id,
      inputs: [{ name: 'IN', datatype: 'INT32', shape: [BigInt(values.length)], contents: { intContents: values } }],
      ...(enableEmptyFinal ? { parameters: { triton_enable_empty_final_response: { parameterChoice: { case: 'boolParam', value: true } } } } : {}),
    });
  }

  /** Sends the requests on one stream; resolves with every message once the server ends the stream. */
  function stream(requests: ReturnType<typeof request>[]): Promise<ModelStreamInferResponse[]> {
    const call = grpc.stream();
    const messages: ModelStreamInferResponse[] = [];
    return new Promise((resolve, reject) => {
      call.on('data', (message: ModelStreamInferResponse) => messages.push(message));
      call.on('end', () => resolve(messages));
      call.on('error', reject);
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  const outValue = (message: ModelStreamInferResponse): number => new Int32Array(new Uint8Array(message.inferResponse!.rawOutputContents[0]!).slice().buffer)[0]!;

  it('ModelStreamInfer: n responses per request, interleaved across requests; a final flag alone is not sent', async () => {
    const messages = await stream([request('a', [10, 11, 12]), request('b', [20, 21])]);
    const byId = (id: string) => messages.filter((message) => message.inferResponse?.id === id);
    assert.deepEqual(byId('a').map(outValue), [10, 11, 12]);
    assert.deepEqual(byId('b').map(outValue), [20, 21]);
    assert.equal(messages.length, 5);
    for (const message of messages) {
      assert.equal(message.errorMessage, '');
      assert.equal(message.inferResponse?.parameters['triton_final_response']?.parameterChoice.value, false);
    }
  });

  it('with triton_enable_empty_final_response the final flag comes as an empty response', async () => {
    const messages = await stream([request('c', [7], true)]);
    assert.equal(messages.length, 2);
    assert.equal(outValue(messages[0]!), 7);
    assert.equal(messages[1]!.inferResponse?.outputs.length, 0);
    assert.equal(messages[1]!.inferResponse?.parameters['triton_final_response']?.parameterChoice.value, true);
    assert.equal(messages[1]!.inferResponse?.id, 'c');
  });

  it('an error response ends its request; zero responses are fine', async () => {
    const messages = await stream([request('d', [1, -1, 3]), request('e', [])]);
    const d = messages.filter((message) => message.inferResponse?.id === 'd');
    assert.equal(d.length, 2);
    assert.equal(outValue(d[0]!), 1);
    assert.equal(d[1]!.errorMessage, 'negative value -1 at 1');
    assert.equal(messages.filter((message) => message.inferResponse?.id === 'e').length, 0);
  });

  it('ModelInfer and HTTP /infer refuse decoupled models with Triton\'s texts', async () => {
    await assert.rejects(grpc.call('modelInfer', request('f', [1])), (error: GrpcCallError) => {
      assert.equal(error.code, 12);
      assert.equal(error.details, "ModelInfer RPC doesn't support models with decoupled transaction policy");
      return true;
    });
    const reply = await httpCall(base, 'POST', '/v2/models/repeat/infer', {
      body: JSON.stringify({ inputs: [{ name: 'IN', datatype: 'INT32', shape: [1], data: [1] }] }),
    });
    assert.equal(reply.status, 501);
    assert.deepEqual(JSON.parse(reply.body.toString()), { error: "HTTP end point doesn't support models with decoupled transaction policy" });
  });

  it('generate_stream sends one event per response; generate needs exactly one', async () => {
    const events = await httpCall(base, 'POST', '/v2/models/repeat/generate_stream', { body: JSON.stringify({ IN: [4, 5, 6] }) });
    assert.equal(events.status, 200);
    assert.equal(
      events.body.toString(),
      ['{"IDX":0,"OUT":4,"model_name":"repeat","model_version":"1"}', '{"IDX":1,"OUT":5,"model_name":"repeat","model_version":"1"}', '{"IDX":2,"OUT":6,"model_name":"repeat","model_version":"1"}']
        .map((event) => `data: ${event}\n\n`)
        .join(''),
    );
    const failing = await httpCall(base, 'POST', '/v2/models/repeat/generate_stream', { body: JSON.stringify({ IN: [4, -5] }) });
    assert.equal(failing.status, 200, 'the status went with the first event');
    assert.match(failing.body.toString(), /data: \{"error":"negative value -5 at 1"\}\n\n$/);
    const single = await httpCall(base, 'POST', '/v2/models/repeat/generate', { body: JSON.stringify({ IN: [9] }) });
    assert.equal(single.status, 200);
    assert.deepEqual(JSON.parse(single.body.toString()), { IDX: 0, OUT: 9, model_name: 'repeat', model_version: '1' });
    const many = await httpCall(base, 'POST', '/v2/models/repeat/generate', { body: JSON.stringify({ IN: [1, 2] }) });
    assert.equal(many.status, 500);
    assert.match(JSON.parse(many.body.toString()).error as string, /^generate expects model to produce exactly 1 response/);
  });
});
