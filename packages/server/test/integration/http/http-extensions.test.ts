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

  it("answers Triton's trace settings, global and per model, and applies updates with Triton's rules and texts", async () => {
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
    const json = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const reply = body === undefined ? await get(path) : await post(path, body);
      assert.equal(reply.status, 200, reply.body.toString());
      return replyJson(reply) as Record<string, unknown>;
    };
    // A model's own values; the rest mirrors the global setting, and follows it when it changes.
    const model = await json('/v2/models/echo/trace/setting', { trace_rate: '5', log_frequency: '3' });
    assert.deepEqual([model['trace_rate'], model['log_frequency'], model['trace_count']], ['5', '3', '-1']);
    await json('/v2/trace/setting', { trace_rate: '7', trace_count: '10' });
    const followed = await json('/v2/models/echo/trace/setting');
    assert.deepEqual([followed['trace_rate'], followed['trace_count']], ['5', '10']);
    // null clears a field: the model's reverts to the global value, the global one to its start-up value.
    assert.equal((await json('/v2/models/echo/trace/setting', { trace_rate: null }))['trace_rate'], '7');
    assert.equal((await json('/v2/trace/setting', { trace_rate: null, trace_count: null }))['trace_rate'], '1000');
    // Clearing the model's last own field drops its setting: it is the global one again.
    assert.equal((await json('/v2/models/echo/trace/setting', { log_frequency: null }))['log_frequency'], '0');
    assert.equal((await get('/v2/models/echo/trace/setting')).body.toString(), defaults);
    // Triton's stoi: trailing text ignored, negative rates wrap to uint32.
    assert.equal((await json('/v2/trace/setting', { trace_rate: '12abc' }))['trace_rate'], '12');
    assert.equal((await json('/v2/trace/setting', { trace_rate: '-1' }))['trace_rate'], '4294967295');
    await json('/v2/trace/setting', { trace_rate: null });
    assertError(await get('/v2/models/nope/trace/setting'), 400, 'Request for unknown model : nope');
    assertError(await post('/v2/trace/setting', { trace_file: '/tmp/t.json' }), 501, 'trace file location can not be updated through network protocol');
    // Without a trace file, Triton mode cannot be turned on.
    assertError(await post('/v2/trace/setting', { trace_level: ['TIMESTAMPS'] }), 400, 'Attempting to set invalid trace setting :trace file name is not given');
    assertError(await post('/v2/trace/setting', { trace_level: ['OFF', 'TIMESTAMPS'] }), 400, "Expect only one trace level 'OFF' is specified");
    assertError(await post('/v2/trace/setting', { trace_rate: 'often' }), 400, "Unable to parse 'trace_rate', got: often");
    assertError(
      await post('/v2/trace/setting', { trace_rate: '99999999999' }),
      400,
      "Unable to parse 'trace_rate', value is out of range [ 0, 4294967295 ], got: 99999999999",
    );
    assertError(await post('/v2/trace/setting', { trace_count: '-2' }), 400, "Unable to parse 'trace_count'. Expecting value >= -1, got:-2");
    assertError(await post('/v2/trace/setting', { log_frequency: 3 }), 500, 'attempt to access JSON non-string as string');
    assertError(await post('/v2/trace/setting', { trace_level: 'TIMESTAMPS' }), 500, 'attempt to access JSON non-array as array');
    assert.equal((await get('/v2/trace/setting')).body.toString(), defaults);
    // Triton has no versioned trace path.
    assertError(await get('/v2/models/echo/versions/1/trace/setting'), 404, 'Not Found');
    assertError(await httpCall(base, 'PUT', '/v2/trace/setting'), 405, 'Method Not Allowed');
  });
});
