import assert from 'node:assert/strict';
import { connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelInferRequestSchema,
  ModelInferResponseSchema,
  type ModelInferRequest,
} from '@nereid/protocol/generated/grpc_service_pb';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { startFixture, type GrpcFixture } from './start.js';

/**
 * The gRPC transport itself, over real HTTP/2 connections: compression both ways, message framing
 * and limits, the receive window, keepalive pings, ping abuse and connection age.
 */

const INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
const GZIP = 2;
const DEFLATE = 1;

function echoRequest(values: number[]): ModelInferRequest {
  return create(ModelInferRequestSchema, {
    modelName: 'echo',
    id: 'transport',
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [BigInt(values.length)] }],
    rawInputContents: [new Uint8Array(Int32Array.from(values).buffer)],
  });
}

/** The INT32 values of raw bytes (copied: decoded `bytes` fields may be unaligned views). */
function int32s(bytes: Uint8Array): number[] {
  return [...new Int32Array(Uint8Array.from(bytes).buffer)];
}

function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

interface RawReply {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One call on a raw HTTP/2 session: what a gRPC client library would hide. */
function rawCall(session: ClientHttp2Session, path: string, headers: Record<string, string>, body: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      responseHeaders = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks) }));
    stream.end(body);
  });
}

/** grpc-status and grpc-message, from the trailers or from a trailers-only response. */
function statusOf(reply: RawReply): { code: number; details: string } {
  const source = reply.trailers['grpc-status'] !== undefined ? reply.trailers : reply.headers;
  return { code: Number(source['grpc-status']), details: decodeURIComponent(String(source['grpc-message'] ?? '')) };
}

/** A ModelStreamInfer call left open (requests may follow). */
function openStream(session: ClientHttp2Session): ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/inference.GRPCInferenceService/ModelStreamInfer',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  return stream;
}

function openSession(address: string): Promise<ClientHttp2Session> {
  const session = connect(`http://${address}`);
  session.on('error', () => {});
  return new Promise((resolve) => session.once('remoteSettings', () => resolve(session)));
}

describe('gRPC transport', () => {
  let fx: GrpcFixture;
  let compressing: GrpcFixture;
  before(async () => {
    fx = await startFixture();
    compressing = await startFixture({ inferResponseCompressionLevel: 'high' });
  });
  after(async () => {
    await fx.close();
    await compressing.close();
  });

  for (const [name, algorithm] of [['gzip', GZIP], ['deflate', DEFLATE]] as const) {
    it(`takes ${name}-compressed requests (grpc-encoding: ${name}) from a gRPC client`, async () => {
      const client = new InferenceGrpcClient(fx.address, undefined, { 'grpc.default_compression_algorithm': algorithm });
      try {
        const values = Array.from({ length: 4096 }, (_, i) => i % 7);
        const response = await client.call('modelInfer', echoRequest(values));
        assert.deepEqual(int32s(response.rawOutputContents[0]!), values);
      } finally {
        client.close();
      }
    });
  }

  it('compresses infer responses with --grpc-infer-response-compression-level when the client accepts gzip', async () => {
    const session = await openSession(compressing.address);
    try {
      const values = Array.from({ length: 1000 }, () => 5);
      const body = frame(toBinary(ModelInferRequestSchema, echoRequest(values)));
      const compressed = await rawCall(session, INFER_PATH, { 'grpc-accept-encoding': 'identity,gzip' }, body);
      assert.equal(compressed.headers['grpc-encoding'], 'gzip');
      assert.equal(statusOf(compressed).code, 0);
      assert.equal(compressed.body[0], 1, 'the message is flagged compressed');
      const message = gunzipSync(compressed.body.subarray(5, 5 + compressed.body.readUInt32BE(1)));
      const response = fromBinary(ModelInferResponseSchema, message);
      assert.deepEqual(int32s(response.rawOutputContents[0]!), values);
      assert.ok(compressed.body.length < 4000 / 4, `4000 repetitive bytes shrink (${compressed.body.length} B sent)`);

      const plain = await rawCall(session, INFER_PATH, {}, body);
      assert.equal(plain.headers['grpc-encoding'], undefined, 'a client that accepts nothing compressed gets identity');
      assert.equal(plain.body[0], 0);
      const metadata = await rawCall(session, '/inference.GRPCInferenceService/ServerLive', { 'grpc-accept-encoding': 'gzip' }, frame(new Uint8Array(0)));
      assert.equal(metadata.body[0], 0, 'only infer responses follow the flag, as in Triton');
    } finally {
      session.close();
    }
    const client = new InferenceGrpcClient(compressing.address);
    try {
      const response = await client.call('modelInfer', echoRequest([1, 2, 3]));
      assert.deepEqual(int32s(response.rawOutputContents[0]!), [1, 2, 3], 'grpc-js reads them');
    } finally {
      client.close();
    }
  });

  it('refuses unknown encodings, bad compressed bytes, oversized and truncated messages with a status, and keeps serving', async () => {
    const session = await openSession(fx.address);
    try {
      const message = toBinary(ModelInferRequestSchema, echoRequest([1]));
      const unknown = await rawCall(session, INFER_PATH, { 'grpc-encoding': 'br' }, frame(message, true));
      assert.deepEqual(statusOf(unknown), { code: 12, details: 'Received message compressed with unsupported encoding "br"' });
      const corrupt = await rawCall(session, INFER_PATH, { 'grpc-encoding': 'gzip' }, frame(Buffer.from('not gzip'), true));
      assert.equal(statusOf(corrupt).code, 13);
      assert.match(statusOf(corrupt).details, /^Failed to decompress message/);
      const flaggedIdentity = await rawCall(session, INFER_PATH, {}, frame(message, true));
      assert.equal(statusOf(flaggedIdentity).code, 13);

      const huge = Buffer.alloc(5);
      huge.writeUInt32BE(0xffffffff, 1);
      const oversized = await rawCall(session, INFER_PATH, {}, huge);
      assert.deepEqual(statusOf(oversized), { code: 8, details: 'Received message larger than max (4294967295 vs. 2147483647)' });
      const truncated = await rawCall(session, INFER_PATH, {}, frame(message).subarray(0, 9));
      assert.equal(statusOf(truncated).code, 13);
      const none = await rawCall(session, INFER_PATH, {}, Buffer.alloc(0));
      assert.equal(statusOf(none).code, 12);
      const two = await rawCall(session, INFER_PATH, {}, Buffer.concat([frame(message), frame(message)]));
      assert.equal(statusOf(two).code, 12);
      const unknownMethod = await rawCall(session, '/inference.GRPCInferenceService/Nope', {}, frame(message));
      assert.equal(statusOf(unknownMethod).code, 12);
      const notGrpc = await rawCall(session, INFER_PATH, { 'content-type': 'application/json' }, Buffer.from('{}'));
      assert.equal(notGrpc.headers[':status'], 415);

      const gzipped = await rawCall(session, INFER_PATH, { 'grpc-encoding': 'gzip' }, frame(gzipSync(message), true));
      assert.equal(statusOf(gzipped).code, 0, 'the same session still serves');
    } finally {
      session.close();
    }
  });

  it('opens a wide receive window so multi-megabyte tensors are not throttled', async () => {
    const session = await openSession(fx.address);
    try {
      assert.ok(session.remoteSettings.initialWindowSize! >= 4 * 1024 * 1024, `stream window ${session.remoteSettings.initialWindowSize}`);
      const values = Array.from({ length: 1024 * 1024 }, (_, i) => i);
      const reply = await rawCall(session, INFER_PATH, {}, frame(toBinary(ModelInferRequestSchema, echoRequest(values))));
      assert.equal(statusOf(reply).code, 0);
      const response = fromBinary(ModelInferResponseSchema, reply.body.subarray(5));
      assert.equal(response.rawOutputContents[0]!.byteLength, 4 * 1024 * 1024);
    } finally {
      session.close();
    }
  });
});

describe('gRPC connection policy (--grpc-keepalive-*, --grpc-http2-*, max connection age)', () => {
  it('pings every keepalive interval while a call is open, and not at all on an idle connection by default', async () => {
    const fx = await startFixture({ keepaliveTimeMs: 50, keepaliveTimeoutMs: 1000, http2MaxPingsWithoutData: 0 });
    try {
      const idle = await openSession(fx.address);
      let idlePings = 0;
      idle.on('ping', () => idlePings++);
      const busy = await openSession(fx.address);
      let busyPings = 0;
      busy.on('ping', () => busyPings++);
      const stream = openStream(busy);
      stream.resume();
      await sleep(400);
      assert.ok(busyPings >= 3, `${busyPings} pings on the connection with an open call`);
      assert.equal(idlePings, 0, 'keepalive_permit_without_calls is false by default');
      stream.close();
      idle.close();
      busy.close();
    } finally {
      await fx.close();
    }
  });

  it('sends at most --grpc-http2-max-pings-without-data pings until it sends data', async () => {
    const fx = await startFixture({ keepaliveTimeMs: 30, keepalivePermitWithoutCalls: true, http2MaxPingsWithoutData: 2 });
    try {
      const session = await openSession(fx.address);
      let pings = 0;
      session.on('ping', () => pings++);
      await sleep(300);
      assert.equal(pings, 2);
      session.close();
    } finally {
      await fx.close();
    }
  });

  it('ends a connection that pings too often with GOAWAY ENHANCE_YOUR_CALM "too_many_pings"', async () => {
    const fx = await startFixture({ keepalivePermitWithoutCalls: true, http2MaxPingStrikes: 2, http2MinRecvPingIntervalWithoutDataMs: 60_000 });
    try {
      const session = await openSession(fx.address);
      const goaway = new Promise<{ code: number; data: string }>((resolve) =>
        session.once('goaway', (code: number, _last: number, data?: Buffer) => resolve({ code, data: data?.toString() ?? '' })),
      );
      for (let i = 0; i < 4; i++) session.ping(() => {});
      assert.deepEqual(await goaway, { code: h2.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });
      const polite = await openSession(fx.address);
      polite.ping(() => {});
      await sleep(50);
      assert.equal(polite.closed, false, 'one ping is fine');
      polite.close();
    } finally {
      await fx.close();
    }
  });

  it('does not strike pings that arrive while a response is being sent (a BDP probe during a large tensor)', async () => {
    const fx = await startFixture({ http2MaxPingStrikes: 2, http2MinRecvPingIntervalWithoutDataMs: 60_000 });
    try {
      const session = await openSession(fx.address);
      let goaway = false;
      session.on('goaway', () => {
        goaway = true;
      });
      const stream = openStream(session);
      const firstResponse = new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.write(frame(toBinary(ModelInferRequestSchema, echoRequest([1, 2]))));
      await firstResponse;
      for (let i = 0; i < 5; i++) session.ping(() => {});
      await sleep(100);
      assert.equal(goaway, false, 'the stream is answering: its pings come with data');
      stream.end();
      session.close();
    } finally {
      await fx.close();
    }
  });

  it('sends GOAWAY past the maximum connection age, and closes it after the grace period', async () => {
    const fx = await startFixture({ maxConnectionAgeMs: 100, maxConnectionAgeGraceMs: 100 });
    try {
      const session = await openSession(fx.address);
      const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      const stream = openStream(session);
      stream.resume();
      assert.equal(await goaway, h2.NGHTTP2_NO_ERROR);
      await closed;
    } finally {
      await fx.close();
    }
  });
});
