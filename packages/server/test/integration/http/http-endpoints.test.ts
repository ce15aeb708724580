import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import type { Logger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import { httpCall, keepAliveAgent, replyJson, type HttpReply } from '../../helpers/http-client.js';

/** Every non-infer endpoint over a real socket, against the echo core. */

function recordingLogger(lines: string[]): Logger {
  return {
    settings: { info: true, warning: true, error: true, verboseLevel: 0, format: 'default' },
    file: '',
    close: () => {},
    info: (m) => lines.push(`I ${m}`),
    warn: (m) => lines.push(`W ${m}`),
    error: (m) => lines.push(`E ${m}`),
    verbose: () => {},
  };
}

describe('HTTP endpoints', () => {
  const core = new EchoCore();
  const logLines: string[] = [];
  let server: HttpServerHandle;
  let base: string;
  const get = (path: string): Promise<HttpReply> => httpCall(base, 'GET', path);
  const post = (path: string, body?: unknown): Promise<HttpReply> =>
    httpCall(base, 'POST', path, body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    server = await startHttpServer(core, { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1 << 20 }, recordingLogger(logLines));
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
  });

  function assertError(reply: HttpReply, status: number, message: string): void {
    assert.equal(reply.status, status, reply.body.toString());
    assert.equal(reply.headers['content-type'], 'application/json');
    assert.deepEqual(replyJson(reply), { error: message });
  }

  it('answers health with 200 or 400 and an empty body', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const ok = await get(path);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.length, 0);
    }
    core.ready = false;
    core.live = false;
    try {
      assert.equal((await get('/v2/health/ready')).status, 400);
      const notLive = await get('/v2/health/live');
      assert.equal(notLive.status, 400);
      assert.equal(notLive.body.length, 0);
    } finally {
      core.ready = true;
      core.live = true;
    }
  });

  it('answers model readiness like Triton', async () => {
    assert.equal((await get('/v2/models/echo/ready')).status, 200);
    assert.equal((await get('/v2/models/echo/versions/1/ready')).status, 200);
    assertError(await get('/v2/models/not_ready/ready'), 400, 'Model version not ready');
    assertError(await get('/v2/models/echo/versions/2/ready'), 400, 'Model version not ready');
    assertError(await get('/v2/models/nobody/ready'), 400, 'Model version not ready');
  });

  it('serves server and model metadata in key order', async () => {
    const server = await get('/v2');
    assert.equal(server.status, 200);
    assert.equal(server.headers['content-type'], 'application/json');
    assert.equal(server.body.toString(), '{"name":"triton","version":"2.73.0","extensions":["binary_tensor_data","statistics"]}');
    const model = await get('/v2/models/raw_fp32/versions/1');
    assert.equal(
      model.body.toString(),
      '{"name":"raw_fp32","versions":["1"],"platform":"echo","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[-1,-1]}],' +
        '"outputs":[{"name":"OUTPUT0","datatype":"FP32","shape":[-1,-1]}]}',
    );
    assertError(await get('/v2/models/nobody'), 404, "Request for unknown model: 'nobody' is not found");
  });

  it('prints the configuration with int64 fields as exact numbers', async () => {
    const reply = await get('/v2/models/raw_fixed/config');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), '{"name":"raw_fixed","max_batch_size":0,"input":[{"name":"INPUT0","data_type":"TYPE_INT32","dims":[2,2]}]}');
  });

  it('serves statistics as {"model_stats":[...]}', async () => {
    const all = replyJson(await get('/v2/models/stats')) as { model_stats: { name: string }[] };
    assert.deepEqual(Object.keys(all), ['model_stats']);
    assert.ok(all.model_stats.length > 2);
    const one = replyJson(await get('/v2/models/echo/versions/1/stats')) as { model_stats: { name: string; inference_stats: unknown }[] };
    assert.deepEqual(one.model_stats.map((s) => s.name), ['echo']);
    assert.deepEqual(Object.keys(one.model_stats[0]?.inference_stats ?? {}), [
      'success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss',
    ]);
    assertError(await get('/v2/models/nobody/stats'), 404, "Request for unknown model: 'nobody' is not found");
  });

  it('lists the repository, optionally ready models only', async () => {
    const all = replyJson(await post('/v2/repository/index')) as { name: string }[];
    assert.ok(all.some((e) => e.name === 'not_ready'));
    assert.deepEqual(all.find((e) => e.name === 'not_ready'), { name: 'not_ready', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    const ready = replyJson(await post('/v2/repository/index', { ready: true })) as { name: string }[];
    assert.ok(!ready.some((e) => e.name === 'not_ready'));
    assertError(await post('/v2/repository/index', { ready: 1 }), 400, "Invalid value for 'ready': expected a boolean");
    assertError(await get('/v2/repository/index'), 405, 'Method Not Allowed');
  });

  it('loads models with config and base64 file parameters', async () => {
    const reply = await post('/v2/repository/models/new_model/load', {
      parameters: { config: '{"backend":"onnxruntime"}', 'file:1/model.onnx': Buffer.from('ONNX!').toString('base64') },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, 0);
    const call = core.loadCalls.at(-1);
    assert.equal(call?.name, 'new_model');
    assert.equal(call?.parameters['config'], '{"backend":"onnxruntime"}');
    assert.deepEqual(call?.parameters['file:1/model.onnx'], Buffer.from('ONNX!'));
    assert.equal((await post('/v2/repository/models/plain/load')).status, 200);
    assertError(await post('/v2/repository/models/x/load', { parameters: { config: 5 } }), 400, "Unable to parse 'config': attempt to access JSON non-string as string");
    assertError(await post('/v2/repository/models/bad/load'), 400, "failed to load 'bad'");
    assertError(await post('/v2/repository/models/x/load', '{"parameters":'), 400, 'failed to parse the request JSON buffer: Invalid value. at 14');
  });

  it('unloads models, with unload_dependents', async () => {
    assert.equal((await post('/v2/repository/models/echo/unload', { parameters: { unload_dependents: true } })).status, 200);
    assert.deepEqual(core.unloadCalls.at(-1), { name: 'echo', unloadDependents: true });
    assert.equal((await post('/v2/repository/models/echo/unload')).status, 200);
    assert.deepEqual(core.unloadCalls.at(-1), { name: 'echo', unloadDependents: false });
    assertError(
      await post('/v2/repository/models/echo/unload', { parameters: { unload_dependents: 'yes' } }),
      400,
      "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean",
    );
    assertError(await post('/v2/repository/models/nobody/unload'), 404, "Request for unknown model: 'nobody' is not found");
  });

  it('refuses to name a repository in load/unload', async () => {
    assertError(await post('/v2/repository/other/models/echo/load'), 501, "'repository_name' specification is not supported");
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    assertError(await get('/v2/nothing'), 404, 'Not Found');
    assertError(await get('/'), 404, 'Not Found');
    assertError(await get('/v2/models/echo/versions/1/x'), 404, 'Not Found');
    assertError(await post('/v2/health/live'), 405, 'Method Not Allowed');
    assertError(await httpCall(base, 'DELETE', '/v2/models/echo'), 405, 'Method Not Allowed');
    assertError(await get('/v2/models/echo/infer'), 405, 'Method Not Allowed');
    assert.equal((await get('/v2/health/live?verbose=1')).status, 200, 'the query string is not part of the path');
  });

  it('bounds errors echoing huge client strings and keeps serving after them', async () => {
    // Beyond node's header limit (16 KiB) a path is refused before routing, and the server carries on.
    const tooLong = await get(`/v2/models/${'m'.repeat(100_000)}`);
    assert.equal(tooLong.status, 431);
    // Within it, the error (which quotes the name) is capped at 4 KiB of message.
    const reply = await get(`/v2/models/${'m'.repeat(12_000)}/versions/${'v'.repeat(3_000)}/ready`);
    assert.equal(reply.status, 400);
    const message = (replyJson(reply) as { error: string }).error;
    assert.equal(message, `failed to get model version from specified version string '${'v'.repeat(256)}...[3000 chars]' (details: stol), version should be an integral value > 0`);
    const unknown = await httpCall(base, 'POST', `/v2/models/${'m'.repeat(12_000)}/infer`, { body: '{"inputs":[]}' });
    assert.ok(unknown.status >= 400 && unknown.status < 500, `status ${unknown.status}`);
    assert.ok((replyJson(unknown) as { error: string }).error.length <= 4096);
    assert.equal((await get('/v2/models/echo/versions/1/ready')).status, 200);
  });

  it('answers unexpected errors with 500 and logs them', async () => {
    const reply = await httpCall(base, 'POST', '/v2/models/echo/infer', {
      body: JSON.stringify({ parameters: { fail: 'plain:kaboom' }, inputs: [] }),
    });
    assertError(reply, 500, 'kaboom');
    assert.ok(logLines.some((line) => line.startsWith('E ') && line.includes('kaboom')));
  });

  it('keeps connections alive across requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpCall(base, 'GET', '/v2/health/live', { agent });
      const second = await httpCall(base, 'GET', '/v2', { agent });
      assert.equal(first.headers['connection'], 'keep-alive');
      assert.equal(second.status, 200);
      const sockets = Object.values(agent.freeSockets).flat();
      assert.equal(sockets.length, 1, 'one socket served both requests');
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTP server lifecycle', () => {
  it('listens on an ephemeral port and closes despite idle keep-alive connections', async () => {
    const server = await startHttpServer(new EchoCore(), { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1024 }, recordingLogger([]));
    assert.ok(server.port > 0);
    const agent = new Agent({ keepAlive: true });
    assert.equal((await httpCall(`http://127.0.0.1:${server.port}`, 'GET', '/v2/health/live', { agent })).status, 200);
    const started = Date.now();
    await server.close();
    assert.ok(Date.now() - started < 2000, 'close did not wait for the keep-alive timeout');
    agent.destroy();
  });

  it('lets requests in flight finish when closing, then closes their connections', async () => {
    const core = new EchoCore();
    const server = await startHttpServer(core, { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1024 }, recordingLogger([]));
    const agent = new Agent({ keepAlive: true });
    const pending = httpCall(`http://127.0.0.1:${server.port}`, 'POST', '/v2/models/echo/infer', {
      agent,
      body: JSON.stringify({ parameters: { delay_ms: 200 }, inputs: [] }),
    });
    // Closing starts once the request is in flight (a timer alone races a busy machine).
    while (core.inferCalls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = server.close();
    const reply = await pending;
    assert.equal(reply.status, 200);
    const started = Date.now();
    await closed;
    assert.ok(Date.now() - started < 2000, 'the finished connection did not linger');
    agent.destroy();
  });

  it('fails to start on a port in use with Triton wording', async () => {
    const first = await startHttpServer(new EchoCore(), { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1024 }, recordingLogger([]));
    try {
      await assert.rejects(
        startHttpServer(new EchoCore(), { allow: true, port: first.port, address: '127.0.0.1', maxInputSize: 1024 }, recordingLogger([])),
        { code: 'UNAVAILABLE', message: `Socket '127.0.0.1:${first.port}' already in use ` },
      );
    } finally {
      await first.close();
    }
  });
});
