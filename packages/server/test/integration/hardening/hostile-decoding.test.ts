import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { connect } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { MAX_REQUEST_STRING_ELEMENTS } from '../../../src/request/limits.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { bytesTensor, decodeInferReply, httpCall, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/**
 * Requests built to exhaust memory or hold the event loop (issue: hardening, items 1, 2 and 7): each
 * is refused or served without harm, and the server answers correctly afterwards.
 */
describe('hostile request bodies: bounded before allocation, decoded off the event loop', () => {
  let server: RunningServer;
  let base: string;
  let grpc: InferenceGrpcClient;

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1', maxInputSize: 256 * 1024 * 1024 },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http!.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
  });

  after(async () => {
    keepAliveAgent.destroy();
    grpc.close();
    await server.close();
  });

  /** The server still answers a real inference correctly. */
  async function stillServes(): Promise<void> {
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], data: ['ok', 'ü\u0000'] }] });
    const reply = await httpCall(base, 'POST', '/v2/models/simple_identity/infer', { body });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual((replyJson(reply) as { outputs: { data: string[] }[] }).outputs[0]!.data, ['ok', 'ü\u0000']);
    const live = await httpCall(base, 'GET', '/v2/health/live');
    assert.equal(live.status, 200);
  }

  it('33,554,432 empty BYTES elements in a 128 MiB binary tail: 400 naming the limit, nothing allocated per element', async () => {
    const count = 33_554_432;
    const tail = Buffer.alloc(4 * count);
    const header = Buffer.from(
      JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, count], parameters: { binary_data_size: tail.length } }] }),
    );
    const reply = await httpCall(base, 'POST', '/v2/models/simple_identity/infer', {
      headers: { 'Inference-Header-Content-Length': header.length },
      body: Buffer.concat([header, tail]),
    });
    assert.equal(reply.status, 400);
    assert.match(
      (replyJson(reply) as { error: string }).error,
      new RegExp(`holds ${count} BYTES elements, more than the ${MAX_REQUEST_STRING_ELEMENTS} a request may hold`),
    );
    await stillServes();
  });

  it('the same over gRPC, as raw contents and as millions of bytes_contents (refused before protobuf decoding)', async () => {
    const count = 33_554_432;
    const raw = await grpc
      .call('modelInfer', {
        modelName: 'simple_identity',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1n, BigInt(count)] }],
        rawInputContents: [new Uint8Array(4 * count)],
      })
      .then(
        () => assert.fail('accepted'),
        (error: ServiceError) => error,
      );
    assert.equal(raw.code, 3);
    assert.match(raw.details, /BYTES elements, more than the/);
    const many = MAX_REQUEST_STRING_ELEMENTS + 1;
    const typed = await grpc
      .call('modelInfer', {
        modelName: 'simple_identity',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1n, BigInt(many)], contents: { bytesContents: new Array(many).fill(new Uint8Array(0)) } }],
      })
      .then(
        () => assert.fail('accepted'),
        (error: ServiceError) => error,
      );
    assert.equal(typed.code, 3);
    assert.match(typed.details, new RegExp(`holds ${many} BYTES elements`));
    const ok = await grpc.call('modelInfer', {
      modelName: 'simple_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1n, 1n], contents: { bytesContents: [Buffer.from('fine')] } }],
    });
    assert.equal(Buffer.from(ok.rawOutputContents[0]!).subarray(4).toString(), 'fine');
    await stillServes();
  });

  it('gRPC: a million bytes_contents are decoded on a codec worker, in unary calls and in stream order', async () => {
    const count = 1_000_000;
    const elements = new Array<Uint8Array>(count).fill(Buffer.from('a'));
    elements[count - 1] = Buffer.from('z\u0000');
    const big = {
      modelName: 'simple_identity',
      id: 'big',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1n, BigInt(count)], contents: { bytesContents: elements } }],
    };
    const order: string[] = [];
    const pending = grpc.call('modelInfer', big).then((response) => {
      order.push('infer');
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await grpc.call('serverLive', {})).live, true);
    order.push('live');
    const response = await pending;
    assert.equal(response.id, 'big');
    const raw = Buffer.from(response.rawOutputContents[0]!);
    assert.equal(raw.length, 4 * count + count + 1);
    assert.equal(raw.subarray(raw.length - 2).toString('latin1'), 'z\u0000');
    assert.equal(order[0], 'live');

    // A stream: the deferred request's response still comes first, as it was sent first.
    const stream = grpc.stream();
    const ids: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: { inferResponse?: { id: string }; errorMessage: string }) => {
        ids.push(message.inferResponse?.id ?? `error: ${message.errorMessage}`);
        if (ids.length === 2) resolve();
      });
      stream.on('error', reject);
    });
    stream.write(create(ModelInferRequestSchema, big));
    stream.write(
      create(ModelInferRequestSchema, {
        modelName: 'simple_identity',
        id: 'small',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1n, 1n], contents: { bytesContents: [Buffer.from('s')] } }],
      }),
    );
    await done;
    stream.end();
    assert.deepEqual(ids, ['big', 'small']);
  });

  it('gRPC: an unknown group in the message does not hide millions of bytes_contents from the census', async () => {
    const varint = (value: number): number[] => {
      const out: number[] = [];
      while (value >= 0x80) {
        out.push((value % 0x80) | 0x80);
        value = Math.floor(value / 0x80);
      }
      out.push(value);
      return out;
    };
    const field = (number: number, payload: Uint8Array): Buffer =>
      Buffer.concat([Buffer.from([...varint(number * 8 + 2), ...varint(payload.length)]), payload]);
    const count = MAX_REQUEST_STRING_ELEMENTS + 1;
    const contents = Buffer.alloc(2 * count);
    for (let i = 0; i < count; i++) contents[2 * i] = 0x42; // bytes_contents (8), length 0
    const shape = Buffer.from([...varint(1), ...varint(count)]);
    const input = Buffer.concat([
      field(1, Buffer.from('INPUT0')),
      field(2, Buffer.from('BYTES')),
      field(3, shape),
      field(5, contents),
    ]);
    // An empty unknown group (field 15: start 0x7b, end 0x7c) first, which protobuf decoders skip.
    const message = Buffer.concat([Buffer.from([0x7b, 0x7c]), field(1, Buffer.from('simple_identity')), field(5, input)]);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const session = connect(`http://127.0.0.1:${server.grpc!.port}`);
    try {
      const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/inference.GRPCInferenceService/ModelInfer',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('response', (headers) => {
          if (headers['grpc-status'] !== undefined) resolve(headers);
        });
        stream.on('trailers', resolve);
        stream.on('error', reject);
        stream.resume();
        stream.end(frame);
      });
      assert.equal(trailers['grpc-status'], '3');
      // The census's wording (refused before decoding), not the core's "for model '…'" one.
      assert.match(decodeURIComponent(String(trailers['grpc-message'])), new RegExp(`^inference request holds ${count} BYTES elements`));
    } finally {
      session.close();
    }
    await stillServes();
  });

  it('a JSON body of a million one-character strings is served while health probes are answered first', async () => {
    const count = 1_000_000;
    const body = `{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,${count}],"data":[${'"a",'.repeat(count - 1)}"b"]}]}`;
    const order: string[] = [];
    const big = httpCall(base, 'POST', '/v2/models/simple_identity/infer', { body }).then((reply) => {
      order.push('infer');
      return reply;
    });
    // Probes sent while the body is decoded (on a codec worker) come back before the big reply.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < 3; i++) {
      const live = await httpCall(base, 'GET', '/v2/health/live');
      assert.equal(live.status, 200);
      order.push('live');
    }
    const reply = await big;
    assert.equal(reply.status, 200, reply.body.toString().slice(0, 300));
    const data = (replyJson(reply) as { outputs: { data: string[]; shape: number[] }[] }).outputs[0]!;
    assert.deepEqual(data.shape, [1, count]);
    assert.equal(data.data.length, count);
    assert.equal(data.data[count - 1], 'b');
    assert.deepEqual(order.slice(0, 3), ['live', 'live', 'live']);
  });

  it('a large JSON request with a binary output and exact BYTES (NUL, non-UTF-8) round-trips through the codec worker', async () => {
    const elements = Array.from({ length: 50_000 }, (_, i) => (i % 2 === 0 ? `e${i}\u0000"\\` : `x${i}`));
    const body = JSON.stringify({
      id: 'large-json',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, elements.length], data: elements }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    });
    assert.ok(body.length > 256 * 1024);
    const reply = decodeInferReply(await httpCall(base, 'POST', '/v2/models/simple_identity/infer', { body }));
    assert.equal(reply.status, 200);
    assert.deepEqual(Buffer.from(reply.outputs.get("OUTPUT0")!.binary!), bytesTensor(elements));
  });

  it('binary BYTES of 20,000 elements (built and read on run threads) round-trip exactly, with and without NUL', async () => {
    for (const withNul of [false, true]) {
      const elements = Array.from({ length: 20_000 }, (_, i) => (withNul && i === 7 ? `n\u0000${i}` : `el-${i}-${'x'.repeat(i % 5)}`));
      const tail = bytesTensor(elements);
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, elements.length], parameters: { binary_data_size: tail.length } }],
          outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
        }),
      );
      const reply = decodeInferReply(
        await httpCall(base, 'POST', '/v2/models/simple_identity/infer', {
          headers: { 'Inference-Header-Content-Length': header.length },
          body: Buffer.concat([header, tail]),
        }),
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(Buffer.from(reply.outputs.get('OUTPUT0')!.binary!), tail);
    }
  });

  it('a JSON integer of 10 million digits is a 400, like its shorter cousins', async () => {
    const body = `{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":[${'1'.repeat(10_000_000)}]}]}`;
    const reply = await httpCall(base, 'POST', '/v2/models/identity_fp32/infer', { body });
    assert.equal(reply.status, 400);
    assert.match((replyJson(reply) as { error: string }).error, /failed to parse the request JSON buffer: Number too big/);
    await stillServes();
  });

  it('a malformed JSON body decoded on a worker answers the same error as on the main thread', async () => {
    const body = `{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,100000],"data":[${'1,'.repeat(99_999)}1]}],}`;
    const reply = await httpCall(base, 'POST', '/v2/models/identity_fp32/infer', { body });
    assert.equal(reply.status, 400);
    assert.match((replyJson(reply) as { error: string }).error, /failed to parse the request JSON buffer: Missing a name for object member/);
    await stillServes();
  });
});
