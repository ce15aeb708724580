import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import { httpCall, keepAliveAgent, replyJson, type HttpReply } from '../../helpers/http-client.js';

/** The shared-memory, logging and trace extensions over a real socket, against the echo core. */
describe('HTTP shared-memory, logging and trace extensions', () => {
  const core = new EchoCore();
  let server: HttpServerHandle;
  let base: string;
  const get = (path: string): Promise<HttpReply> => httpCall(base, 'GET', path);
  const post = (path: string, body?: unknown): Promise<HttpReply> =>
    httpCall(base, 'POST', path, body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    server = await startHttpServer(core, { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1 << 20 }, silentLogger);
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
  });

  function assertError(reply: HttpReply, status: number, message: string): void {
    assert.equal(reply.status, status, reply.body.toString());
    assert.deepEqual(replyJson(reply), { error: message });
  }

  it('registers, lists and unregisters system shared-memory regions', async () => {
    const register = await post('/v2/systemsharedmemory/region/in0/register', { key: '/in0', offset: 8, byte_size: 64 });
    assert.equal(register.status, 200);
    assert.equal(register.body.length, 0);
    assert.equal((await post('/v2/systemsharedmemory/region/out0/register', { key: '/out0', byte_size: 16 })).status, 200);
    assert.deepEqual(replyJson(await get('/v2/systemsharedmemory/status')), [
      { name: 'in0', key: '/in0', offset: 8, byte_size: 64 },
      { name: 'out0', key: '/out0', offset: 0, byte_size: 16 },
    ]);
    assert.deepEqual(replyJson(await get('/v2/systemsharedmemory/region/out0/status')), [
      { name: 'out0', key: '/out0', offset: 0, byte_size: 16 },
    ]);
    assert.equal((await post('/v2/systemsharedmemory/region/in0/unregister')).status, 200);
    assert.deepEqual(core.systemRegions.has('in0'), false);
    assert.equal((await post('/v2/systemsharedmemory/unregister')).status, 200);
    assert.equal(core.systemRegions.size, 0);
    assertError(await get('/v2/systemsharedmemory/region/gone/status'), 404, "Unable to find system shared memory region: 'gone'");
  });

  it('checks register bodies with Triton wording', async () => {
    assertError(await post('/v2/systemsharedmemory/region/r/register', { byte_size: 4 }), 400, "Shared memory register request has no 'key' field");
    assertError(await post('/v2/systemsharedmemory/region/r/register', { key: '/k' }), 400, "Shared memory register request has no 'byte_size' field");
    assertError(
      await post('/v2/systemsharedmemory/region/r/register', { key: '/k', byte_size: -1 }),
      400,
      "Unable to parse 'byte_size': attempt to access JSON non-unsigned-integer as unsigned-integer",
    );
    assertError(await post('/v2/systemsharedmemory/region/r/register'), 400, 'failed to parse the request JSON buffer: The document is empty. at 0');
    assertError(await post('/v2/systemsharedmemory/register', { key: '/k', byte_size: 4 }), 400, "'region name' is necessary to register system shared memory region");
    assertError(await post('/v2/systemsharedmemory/status'), 405, 'Method Not Allowed');
    assertError(await get('/v2/systemsharedmemory/region/r/register'), 405, 'Method Not Allowed');
  });

  it('passes the core refusal through when client shared memory is disabled', async () => {
    core.allowClientShm = false;
    try {
      assertError(
        await post('/v2/systemsharedmemory/region/r/register', { key: '/k', byte_size: 4 }),
        501,
        "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.",
      );
    } finally {
      core.allowClientShm = true;
    }
  });

  it('serves the CUDA shared-memory endpoints', async () => {
    assert.deepEqual(replyJson(await get('/v2/cudasharedmemory/status')), []);
    assertError(await get('/v2/cudasharedmemory/region/c/status'), 404, "Unable to find cuda shared memory region: 'c'");
    const handle = Buffer.alloc(64, 1).toString('base64');
    const refused = await post('/v2/cudasharedmemory/region/c/register', { raw_handle: { b64: handle }, device_id: 0, byte_size: 16 });
    assertError(refused, 501, "cannot register CUDA region 'c' (64 byte handle, device 0, 16 bytes)");
    assertError(
      await post('/v2/cudasharedmemory/region/c/register', { device_id: 0, byte_size: 16 }),
      400,
      "Shared memory register request has no 'raw_handle' field",
    );
    assert.equal((await post('/v2/cudasharedmemory/unregister')).status, 200);
  });

  it('reads and updates log settings, ignoring nulls and unknown keys', async () => {
    const initial = await get('/v2/logging');
    assert.equal(initial.status, 200);
    assert.equal(
      initial.body.toString(),
      '{"log_file":"","log_info":true,"log_warning":true,"log_error":true,"log_verbose_level":0,"log_format":"default"}',
    );
    const updated = replyJson(await post('/v2/logging', { log_verbose_level: 2, log_info: null, other: 1 })) as Record<string, unknown>;
    assert.equal(updated['log_verbose_level'], 2);
    assert.equal(updated['log_info'], true);
    assertError(await post('/v2/logging', { log_file: 'x.log' }), 501, 'log file location can not be updated through network protocol');
    assertError(await httpCall(base, 'PUT', '/v2/logging'), 405, 'Method Not Allowed');
  });

  it("reports Triton's default trace settings and refuses updates, as the gRPC frontend does", async () => {
    const defaults =
      '{"trace_level":["OFF"],"trace_rate":"1000","trace_count":"-1","log_frequency":"0","trace_file":"","trace_mode":"triton"}';
    for (const reply of [
      await get('/v2/trace/setting'),
      await get('/v2/models/echo/trace/setting'),
      await post('/v2/trace/setting'),
      await post('/v2/models/echo/trace/setting', {}),
    ]) {
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.headers['content-type'], 'application/json');
      assert.equal(reply.body.toString(), defaults);
    }
    assertError(await get('/v2/models/nope/trace/setting'), 400, 'Request for unknown model : nope');
    assertError(await post('/v2/trace/setting', { trace_file: '/tmp/t.json' }), 501, 'trace file location can not be updated through network protocol');
    assertError(
      await post('/v2/models/echo/trace/setting', { trace_rate: '5' }),
      501,
      'trace settings can not be updated: this server does not trace requests yet',
    );
    // Triton has no versioned trace path.
    assertError(await get('/v2/models/echo/versions/1/trace/setting'), 404, 'Not Found');
    assertError(await httpCall(base, 'PUT', '/v2/trace/setting'), 405, 'Method Not Allowed');
  });
});
