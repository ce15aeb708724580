import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_CACHED_HEADERS, MAX_CACHED_HEADERS_OF_ONE_LENGTH, cachedHeaderCount } from '../../../src/frontends/http/codec/header-cache.js';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import { decodeInferReply, httpCall, inferPath, keepAliveAgent, postInfer, replyJson, tensorBytes } from '../../helpers/http-client.js';

/**
 * Binary-extension requests that repeat a JSON header are decoded from a cached template: each must
 * still get its own tensor bytes, the model named in its own URL, and a fresh decode's errors.
 */
describe('HTTP infer header cache', () => {
  const core = new EchoCore();
  let server: HttpServerHandle;
  let base: string;

  before(async () => {
    server = await startHttpServer(core, { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 64 * 1024 }, silentLogger);
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
  });

  /** A header for two FP32 inputs of `count` elements each, sent with whatever tail is given. */
  function header(count: number, id = 'cached'): Buffer {
    const input = (name: string): unknown => ({ name, shape: [1, count], datatype: 'FP32', parameters: { binary_data_size: 4 * count } });
    return Buffer.from(
      JSON.stringify({
        id,
        inputs: [input('INPUT0'), input('INPUT1')],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: true } }],
      }),
    );
  }

  function post(model: string, head: Buffer, tail: Buffer): ReturnType<typeof httpCall> {
    return httpCall(base, 'POST', inferPath(model), {
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(head.length) },
      body: Buffer.concat([head, tail]),
    });
  }

  const floats = (...values: number[]): Buffer => tensorBytes(new Float32Array(values));

  it('gives every request with a repeated header its own bytes, id and model', async () => {
    const head = header(2);
    const before = cachedHeaderCount();
    for (let i = 0; i < 5; i++) {
      const reply = decodeInferReply(await post('echo', head, floats(i, i + 1, -i, 10 * i)));
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.json['id'], 'cached');
      assert.equal(reply.json['model_name'], 'echo');
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.binary, floats(i, i + 1));
      assert.deepEqual(reply.outputs.get('OUTPUT1')?.binary, floats(-i, 10 * i));
      assert.deepEqual(reply.outputs.get('OUTPUT1')?.shape, [1, 2]);
    }
    assert.equal(cachedHeaderCount(), before + 1);
    // The same header to another model: its own name in the reply.
    const other = decodeInferReply(await post('raw_fp32', head, floats(1, 2, 3, 4)));
    assert.equal(other.json['model_name'], 'raw_fp32');
    assert.equal(core.inferCalls.at(-1)?.modelName, 'raw_fp32');
    const unknown = await post('no_such_model', head, floats(1, 2, 3));
    assert.equal(unknown.status, 400);
    assert.equal(
      (replyJson(unknown) as { error: string }).error,
      "unexpected size for input 'INPUT1', expecting 4 additional bytes for model 'no_such_model'",
    );
  });

  it('answers a cached header with a short or long tail as a fresh decode does', async () => {
    const head = header(3, 'tails');
    assert.equal((await post('echo', head, floats(1, 2, 3, 4, 5, 6))).status, 200);
    const short = await post('echo', head, floats(1, 2, 3, 4, 5));
    assert.equal(short.status, 400);
    assert.equal(
      (replyJson(short) as { error: string }).error,
      "unexpected size for input 'INPUT1', expecting 4 additional bytes for model 'echo'",
    );
    const long = await post('echo', head, Buffer.concat([floats(1, 2, 3, 4, 5, 6), Buffer.from([7])]));
    assert.equal(long.status, 400);
    assert.equal((replyJson(long) as { error: string }).error, "unexpected additional input data for model 'echo'");
    // The server still serves the header afterwards.
    const good = decodeInferReply(await post('echo', head, floats(6, 5, 4, 3, 2, 1)));
    assert.equal(good.status, 200);
    assert.deepEqual(good.outputs.get('OUTPUT0')?.binary, floats(6, 5, 4));
  });

  it('keeps no header whose inputs carry JSON data, and at most MAX_CACHED_HEADERS headers', async () => {
    const before = cachedHeaderCount();
    const json = await postInfer(base, 'echo', {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: [1] },
        { name: 'INPUT1', datatype: 'FP32', shape: [1, 1], binary: floats(2) },
      ],
    });
    assert.equal(json.status, 200);
    assert.equal(cachedHeaderCount(), before);
    // Headers of distinct lengths fill the cache up to its bound...
    for (let i = 0; i < MAX_CACHED_HEADERS + 8; i++) {
      const id = 'x'.repeat(i + 1);
      const reply = decodeInferReply(await post('echo', header(1, id), floats(i, -i)));
      assert.equal(reply.json['id'], id);
      assert.deepEqual(reply.outputs.get('OUTPUT1')?.binary, floats(-i));
    }
    assert.equal(cachedHeaderCount(), MAX_CACHED_HEADERS);
    // ...and many of one length replace each other, each request still answered from its own header.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2 * MAX_CACHED_HEADERS_OF_ONE_LENGTH; i++) {
        const id = `same-${String(i).padStart(3, '0')}`;
        const reply = decodeInferReply(await post('echo', header(1, id), floats(i, round)));
        assert.equal(reply.json['id'], id);
        assert.deepEqual(reply.outputs.get('OUTPUT0')?.binary, floats(i));
        assert.deepEqual(reply.outputs.get('OUTPUT1')?.binary, floats(round));
      }
    }
    assert.equal(cachedHeaderCount(), MAX_CACHED_HEADERS);
  });
});
