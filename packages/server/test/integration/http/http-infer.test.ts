import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import {
  buildInferBody,
  bytesTensor,
  decodeInferReply,
  httpCall,
  inferPath,
  keepAliveAgent,
  postInfer,
  postRawInfer,
  replyJson,
  tensorBytes,
  type HttpReply,
} from '../../helpers/http-client.js';

/** POST /infer over a real socket: JSON, binary, raw, compression, limits, errors, cancellation. */
describe('HTTP infer', () => {
  const core = new EchoCore();
  const LIMIT = 64 * 1024;
  let server: HttpServerHandle;
  let base: string;

  before(async () => {
    server = await startHttpServer(core, { allow: true, port: 0, address: '127.0.0.1', maxInputSize: LIMIT }, silentLogger);
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
  });

  function assertError(reply: HttpReply, status: number, message: string | RegExp): void {
    assert.equal(reply.status, status, reply.body.toString());
    assert.equal(reply.headers['content-type'], 'application/json');
    const error = (replyJson(reply) as { error: string }).error;
    if (typeof message === 'string') assert.equal(error, message);
    else assert.match(error, message);
  }

  it('round-trips a JSON request and echoes the id', async () => {
    const reply = await postInfer(base, 'echo', {
      id: 'abc',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: [[1, 2.5, -3]] },
        { name: 'INPUT1', datatype: 'INT64', shape: [1, 2], data: [9007199254740993n, -2n] },
      ],
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/json');
    assert.equal(reply.headers['inference-header-content-length'], undefined);
    assert.equal(
      reply.body.toString(),
      '{"id":"abc","model_name":"echo","model_version":"1","outputs":[' +
        '{"name":"OUTPUT0","datatype":"FP32","shape":[1,3],"data":[1,2.5,-3]},' +
        '{"name":"OUTPUT1","datatype":"INT64","shape":[1,2],"data":[9007199254740993,-2]}]}',
    );
    const noId = await postInfer(base, 'echo', { inputs: [{ name: 'INPUT0', datatype: 'BOOL', shape: [2], data: [true, false] }] });
    assert.equal(noId.json['id'], undefined);
    assert.deepEqual(noId.outputs.get('OUTPUT0')?.data, [true, false]);
  });

  it('takes binary inputs and returns binary outputs with Inference-Header-Content-Length', async () => {
    const floats = tensorBytes(new Float32Array([1, 2, 3, 4]));
    const strings = bytesTensor(['a', '', 'x\u0000y']);
    const reply = await postInfer(base, 'echo', {
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [2, 2], binary: floats },
        { name: 'INPUT1', datatype: 'BYTES', shape: [3], binary: strings },
      ],
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/octet-stream');
    assert.ok(Number(reply.headers['inference-header-content-length']) > 0);
    assert.deepEqual(reply.outputs.get('OUTPUT0')?.binary, floats);
    assert.deepEqual(reply.outputs.get('OUTPUT1')?.binary, strings);
    assert.deepEqual(reply.outputs.get('OUTPUT1')?.parameters, { binary_data_size: strings.length });
    assert.equal(core.inferCalls.at(-1)?.parameters['binary_data_output'], undefined, 'a transport setting, not passed on');
  });

  it('honours binary_data per requested output and keeps their parameters for the core', async () => {
    const reply = await postInfer(base, 'echo', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [2], data: [5, 6] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1], data: [7] },
      ],
      outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }, { name: 'OUTPUT0' }],
    });
    assert.equal(reply.status, 200);
    assert.deepEqual([...reply.outputs.keys()], ['OUTPUT1', 'OUTPUT0']);
    assert.deepEqual(reply.outputs.get('OUTPUT1')?.binary, tensorBytes(new Int32Array([7])));
    assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, [5, 6]);
    assert.deepEqual(core.inferCalls.at(-1)?.outputs, [
      { name: 'OUTPUT1', parameters: { binary_data: true } },
      { name: 'OUTPUT0', parameters: {} },
    ]);
  });

  it('passes shared-memory tensors to the core and only describes shared-memory outputs', async () => {
    const region = { shared_memory_region: 'r', shared_memory_byte_size: 8 };
    const reply = await postInfer(base, 'echo', {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], parameters: region }],
      outputs: [{ name: 'OUTPUT0', parameters: region }],
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/json');
    assert.deepEqual(reply.json['outputs'], [{ name: 'OUTPUT0', datatype: 'FP32', shape: [2] }]);
    const sent = core.inferCalls.at(-1);
    assert.deepEqual(sent?.inputs[0]?.parameters, region);
    assert.equal(sent?.inputs[0]?.data.byteLength, 0);
    assert.deepEqual(sent?.outputs, [{ name: 'OUTPUT0', parameters: region }]);
  });

  it('serves raw binary requests for single-input models', async () => {
    const floats = tensorBytes(new Float32Array([1, 2, 3]));
    const reply = await postRawInfer(base, 'raw_fp32', floats);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/octet-stream');
    const output = reply.outputs.get('OUTPUT0');
    assert.deepEqual(output?.shape, [1, 3]);
    assert.deepEqual(output?.binary, floats);
    const text = await postRawInfer(base, 'raw_bytes', Buffer.from('427'));
    assert.equal(text.outputs.get('OUTPUT0')?.binary?.subarray(4).toString(), '427');
    assertError(await postRawInfer(base, 'echo', floats), 400, /Raw request must only have 1 input \(found 1\) to be deduced but got 2 inputs in 'echo' model configuration$/);
  });

  it('maps core errors to Triton status codes', async () => {
    const input = [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [1] }];
    assertError(await postInfer(base, 'nobody', { inputs: input }), 404, "Request for unknown model: 'nobody' is not found");
    assertError(await postInfer(base, 'not_ready', { inputs: input }), 503, /has no available versions/);
    assertError(await postInfer(base, 'echo', { parameters: { fail: 'UNSUPPORTED:nope' }, inputs: input }), 501, 'nope');
    assertError(await postInfer(base, 'echo', { parameters: { fail: 'ALREADY_EXISTS:dup' }, inputs: input }), 400, 'dup');
    assertError(await postInfer(base, 'echo', { inputs: input }, { version: '7' }), 404, "Request for unknown model: 'echo' version 7 is not found");
  });

  it('reports request decoding errors as 400', async () => {
    const bad = (body: string, headers: Record<string, string> = {}): Promise<HttpReply> =>
      httpCall(base, 'POST', inferPath('echo'), { body, headers });
    assertError(await bad('{"inputs":[}'), 400, 'failed to parse the request JSON buffer: Invalid value. at 11');
    assertError(await bad('{"inputs":[]}', { 'Inference-Header-Content-Length': 'x' }), 400, 'Unable to parse Inference-Header-Content-Length, got: x');
    assertError(await bad('{"inputs":[]}', { 'Inference-Header-Content-Length': '99999999999' }), 400, /value is out of range/);
    assertError(
      await postInfer(base, 'echo', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1], data: [1] }] }),
      400,
      'receiving FP16 data via JSON is not supported. Please use the binary data format for input INPUT0',
    );
    const fp16 = await postInfer(base, 'echo', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1], binary: Buffer.alloc(2) }] });
    assertError(fp16, 400, 'sending FP16 data via JSON is not supported. Please use the binary data format for output');
  });

  it('returns response parameters and prints NaN as Triton does', async () => {
    const text = '{"parameters":{"echo_parameters":true,"tag":"t"},"inputs":[{"name":"INPUT0","datatype":"FP64","shape":[2],"data":[NaN,-Infinity]}]}';
    const reply = await httpCall(base, 'POST', inferPath('echo'), { body: text });
    assert.equal(reply.status, 200);
    assert.match(reply.body.toString(), /"parameters":\{"echo_parameters":true,"tag":"t"\}/);
    assert.match(reply.body.toString(), /"data":\[NaN,-Infinity\]/);
  });

  it('accepts gzip and deflate request bodies, and refuses other encodings with 501', async () => {
    const built = buildInferBody({ inputs: [{ name: 'INPUT0', datatype: 'UINT8', shape: [2], binary: Buffer.from([4, 5]) }] });
    for (const [encoding, body] of [['gzip', gzipSync(built.body)], ['deflate', deflateSync(built.body)]] as const) {
      const reply = decodeInferReply(
        await httpCall(base, 'POST', inferPath('echo'), { headers: { ...built.headers, 'Content-Encoding': encoding }, body }),
      );
      assert.equal(reply.status, 200, encoding);
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, [4, 5]);
    }
    const refused = await httpCall(base, 'POST', inferPath('echo'), { headers: { 'Content-Encoding': 'br' }, body: built.body });
    assertError(refused, 501, 'Unsupported compression type');
    assert.equal(refused.headers['accept-encoding'], 'gzip, deflate');
  });

  it('compresses infer responses when the client accepts gzip or deflate', async () => {
    const spec = { parameters: { binary_data_output: true }, inputs: [{ name: 'INPUT0', datatype: 'UINT8', shape: [3], binary: Buffer.from([1, 2, 3]) }] };
    for (const encoding of ['gzip', 'deflate']) {
      const reply = await postInfer(base, 'echo', spec, { headers: { 'Accept-Encoding': encoding } });
      assert.equal(reply.headers['content-encoding'], encoding);
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.binary, Buffer.from([1, 2, 3]));
    }
    const plain = await postInfer(base, 'echo', spec, { headers: { 'Accept-Encoding': 'br' } });
    assert.equal(plain.headers['content-encoding'], undefined);
  });

  it('enforces --http-max-input-size on raw and decompressed bodies', async () => {
    const big = Buffer.alloc(LIMIT + 1, 0x20);
    const declared = await httpCall(base, 'POST', inferPath('echo'), { body: big });
    assertError(declared, 400, `request JSON size of ${LIMIT + 1} bytes exceeds the maximum allowed input size of ${LIMIT} bytes. Use --http-max-input-size to increase the limit.`);
    // The rest of the body is drained, not cut off: the connection stays usable.
    assert.equal(declared.headers['connection'], 'keep-alive');
    const raw = await httpCall(base, 'POST', inferPath('raw_fp32'), { body: big, headers: { 'Inference-Header-Content-Length': '0' } });
    assertError(raw, 400, /^Raw input has a byte_size \(65537 bytes\) that exceeds the maximum allowed value of 65536 bytes/);
    const chunked = await httpCall(base, 'POST', inferPath('echo'), { body: big, headers: { 'Transfer-Encoding': 'chunked' } });
    assertError(chunked, 400, /^request JSON size of \d+ bytes exceeds the maximum allowed input size of 65536 bytes/);
    const bomb = await httpCall(base, 'POST', inferPath('echo'), { body: gzipSync(Buffer.alloc(4 * LIMIT)), headers: { 'Content-Encoding': 'gzip' } });
    assertError(bomb, 400, `Decompressed data size exceeds the maximum allowed value of ${LIMIT} bytes. Use --http-max-input-size to increase the limit.`);
    assert.equal((await httpCall(base, 'GET', '/v2/health/live')).status, 200, 'the server is fine afterwards');
  });

  it('lets a client finish a large oversized upload and read the error, as Triton does', async () => {
    // Far beyond what socket buffers absorb: cutting the connection early broke the upload (EPIPE)
    // before the client could read the 400.
    const huge = Buffer.alloc(512 * LIMIT, 0x20);
    const raw = await httpCall(base, 'POST', inferPath('raw_fp32'), { body: huge, headers: { 'Inference-Header-Content-Length': '0' } });
    assertError(raw, 400, /^Raw input has a byte_size \(33554432 bytes\) that exceeds the maximum allowed value of 65536 bytes/);
    assert.equal(raw.headers['connection'], 'keep-alive');
    const refused = await httpCall(base, 'POST', inferPath('echo'), { body: huge, headers: { 'Content-Encoding': 'br' } });
    assertError(refused, 501, 'Unsupported compression type');
  });

  it('bounds only the JSON header of a binary request by --http-max-input-size, as Triton does', async () => {
    const tensor = Buffer.alloc(4 * LIMIT);
    tensor.writeFloatLE(1.5, 0);
    tensor.writeFloatLE(-2, tensor.length - 4);
    const big = await postInfer(base, 'echo', {
      parameters: { binary_data_output: true },
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, LIMIT], binary: tensor }],
    });
    assert.equal(big.status, 200, JSON.stringify(big.json));
    assert.deepEqual(big.outputs.get('OUTPUT0')?.binary, tensor);
    const longId = 'x'.repeat(LIMIT);
    const header = await postInfer(base, 'echo', { id: longId, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], binary: tensor.subarray(0, 4) }] });
    assert.equal(header.status, 400);
    assert.match(
      (header.json as { error: string }).error,
      /^request JSON size of \d+ bytes exceeds the maximum allowed input size of 65536 bytes\. Use --http-max-input-size to increase the limit\.$/,
    );
  });

  it('aborts the core request when the client disconnects', async () => {
    const body = JSON.stringify({ id: 'slow', parameters: { delay_ms: 10_000 }, inputs: [] });
    const req = httpRequest(new URL(inferPath('echo'), base), { method: 'POST', headers: { 'Content-Length': Buffer.byteLength(body) } });
    req.on('error', () => {});
    req.end(body);
    while (!core.signals.has('slow')) await new Promise((resolve) => setTimeout(resolve, 5));
    const signal = core.signals.get('slow');
    const aborted = (): boolean => signal?.aborted === true;
    assert.equal(aborted(), false);
    req.destroy();
    const deadline = Date.now() + 2000;
    while (!aborted() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(aborted(), true);
  });
});
