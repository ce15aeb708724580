import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelInferRequestSchema,
  ModelInferResponseSchema,
  type ModelInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import { InferenceGrpcClient, type GrpcCallError } from '../helpers/grpc-client.js';
import { buildInferBody, decodeInferReply, tensorBytes, type HttpReply } from '../helpers/http-client.js';
import { EXAMPLE_MODELS, REPO_ROOT } from '../helpers/paths.js';

/**
 * The graceful exit of a real `nereid` process. Requests are held in flight deterministically by
 * sending only part of their body before SIGTERM (the server has their headers, so they are
 * admitted work) and the rest after the drain checks; some HTTP responses are then read slowly, so
 * they are still being written while the others finish.
 */

const BIN = join(REPO_ROOT, 'packages', 'server', 'bin', 'nereid.js');
const MODEL = 'identity_fp32';
const INFER_PATH = `/v2/models/${MODEL}/infer`;
const GRPC_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
/** 512 Ki FP32 elements: 2 MiB each way per request. */
const ELEMENTS = 1 << 19;
/** A slow reader stops after these chunks of a response. */
const SLOW_READ_PAUSES: ReadonlySet<number> = new Set([1, 16, 32]);

interface Nereid {
  readonly child: ChildProcess;
  readonly http: number;
  readonly grpc: number;
  log(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves once the log matches `pattern`. */
  waitForLog(pattern: RegExp, count?: number): Promise<void>;
}

async function startNereid(extraArgs: readonly string[]): Promise<Nereid> {
  const child = spawn(
    process.execPath,
    [BIN, '--model-repository', EXAMPLE_MODELS, '--http-port=0', '--grpc-port=0', '--http-address=127.0.0.1', '--grpc-address=127.0.0.1', '--metrics-port=0', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const waiters: Array<() => void> = [];
  // As in Triton, info lines go to stdout, warnings and errors to stderr.
  const onData = (chunk: Buffer): void => {
    log += chunk.toString();
    for (const check of waiters.splice(0)) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForLog = (pattern: RegExp, count = 1): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
        if ((log.match(global)?.length ?? 0) >= count) resolve();
        else if (child.exitCode !== null) reject(new Error(`exited (${child.exitCode}) before ${pattern}: ${log}`));
        else waiters.push(check);
      };
      check();
    });
  await waitForLog(/Started GRPCInferenceService at [\d.]+:\d+[\s\S]*Started HTTPService at [\d.]+:\d+/);
  const http = Number(/Started HTTPService at [\d.]+:(\d+)/.exec(log)?.[1]);
  const grpc = Number(/Started GRPCInferenceService at [\d.]+:(\d+)/.exec(log)?.[1]);
  return { child, http, grpc, log: () => log, exited, waitForLog };
}

/** Distinct FP32 contents per request, so a mixed-up or truncated reply cannot pass. */
function tensorFor(index: number): Buffer {
  const values = new Float32Array(ELEMENTS);
  for (let i = 0; i < ELEMENTS; i++) values[i] = index * ELEMENTS + i;
  return tensorBytes(values);
}

/** An HTTP infer request whose body is only half sent until `finish()`. */
interface HeldHttpRequest {
  finish(): void;
  readonly reply: Promise<HttpReply>;
}

function holdHttpInfer(port: number, tensor: Buffer, readSlowly: boolean): HeldHttpRequest {
  const built = buildInferBody({
    parameters: { binary_data_output: true },
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, ELEMENTS], binary: tensor }],
  });
  let req: ClientRequest | undefined;
  const reply = new Promise<HttpReply>((resolve, reject) => {
    req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: INFER_PATH,
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': built.body.length, ...built.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (readSlowly && SLOW_READ_PAUSES.has(chunks.length)) {
            // Stop reading for a while: the rest of the response waits in the server's buffers.
            res.pause();
            setTimeout(() => res.resume(), 150);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
  const half = built.body.length >> 1;
  req!.write(built.body.subarray(0, half));
  return { finish: () => req!.end(built.body.subarray(half)), reply };
}

/** A gRPC ModelInfer call, over a raw HTTP/2 stream, whose message is only half sent until `finish()`. */
interface HeldGrpcCall {
  /** Resolves once the server has seen the call's headers (a PING round trip after them). */
  readonly seen: Promise<void>;
  finish(): void;
  readonly reply: Promise<{ status: string; response?: ModelInferResponse }>;
  readonly session: ClientHttp2Session;
}

function holdGrpcInfer(port: number, tensor: Buffer): HeldGrpcCall {
  const message = toBinary(
    ModelInferRequestSchema,
    create(ModelInferRequestSchema, {
      modelName: MODEL,
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, BigInt(ELEMENTS)] }],
      rawInputContents: [tensor],
    }),
  );
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  const session = http2Connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': GRPC_INFER_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  const half = frame.length >> 1;
  stream.write(frame.subarray(0, half));
  // A PING sent after the headers comes back only once the server has read them.
  const seen = new Promise<void>((resolve, reject) => {
    const ping = (): void => void session.ping((error) => (error ? reject(error) : resolve()));
    if (session.connecting) session.once('connect', ping);
    else ping();
  });
  const reply = new Promise<{ status: string; response?: ModelInferResponse }>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = '';
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => {
      status = String(trailers['grpc-status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length === 0) {
        resolve({ status });
        return;
      }
      const length = body.readUInt32BE(1);
      assert.equal(body.length, 5 + length, 'one whole gRPC message');
      resolve({ status, response: fromBinary(ModelInferResponseSchema, body.subarray(5)) });
    });
    stream.on('error', reject);
  });
  return { seen, finish: () => stream.end(frame.subarray(half)), reply, session };
}

function assertGrpcRefused(error: unknown): void {
  const failure = error as GrpcCallError;
  assert.equal(failure.code, 14, 'UNAVAILABLE');
  assert.equal(failure.details, 'GRPC server is shutting down and has stopped accepting new requests.');
}

test('SIGTERM drains: in-flight HTTP and gRPC requests finish whole, health answers, new inference is refused, exit 0', async () => {
  const nereid = await startNereid(['--log-verbose=1']);
  const grpcClient = new InferenceGrpcClient(`127.0.0.1:${nereid.grpc}`);
  const sessions: ClientHttp2Session[] = [];
  try {
    const tensors = Array.from({ length: 16 }, (_, index) => tensorFor(index));
    const httpHeld = tensors.slice(0, 8).map((tensor, index) => holdHttpInfer(nereid.http, tensor, index % 2 === 0));
    const grpcHeld = tensors.slice(8).map((tensor) => holdGrpcInfer(nereid.grpc, tensor));
    sessions.push(...grpcHeld.map((call) => call.session));
    // The server has every request's headers: these 16 are in flight when the signal comes.
    await nereid.waitForLog(new RegExp(`HTTP request: POST ${INFER_PATH}`), 8);
    await Promise.all(grpcHeld.map((call) => call.seen));

    nereid.child.kill('SIGTERM');
    await nereid.waitForLog(/Waiting for in-flight requests to complete\./);

    // While draining: live, not ready, new inference refused over both protocols.
    const base = `http://127.0.0.1:${nereid.http}`;
    assert.equal((await fetch(`${base}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${base}/v2/health/ready`)).status, 400);
    const refused = await fetch(`${base}${INFER_PATH}`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: [1] }] }),
    });
    assert.equal(refused.status, 503);
    assert.deepEqual(await refused.json(), { error: 'HTTP server is shutting down and has stopped accepting new requests.' });
    assert.equal((await grpcClient.call('serverLive', {})).live, true);
    assert.equal((await grpcClient.call('serverReady', {})).ready, false);
    await assert.rejects(
      grpcClient.call('modelInfer', { modelName: MODEL, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, 1n], contents: { fp32Contents: [1] } }] }),
      (error) => {
        assertGrpcRefused(error);
        return true;
      },
    );
    assert.equal(nereid.child.exitCode, null, 'still running while requests are in flight');

    for (const held of [...httpHeld, ...grpcHeld]) held.finish();
    const httpReplies = await Promise.all(httpHeld.map((held) => held.reply));
    httpReplies.forEach((reply, index) => {
      assert.equal(reply.status, 200, `HTTP request ${index}: ${reply.body.subarray(0, 200).toString()}`);
      const output = decodeInferReply(reply).outputs.get('OUTPUT0');
      assert.ok(output?.binary !== undefined && output.binary.equals(tensors[index]!), `HTTP request ${index} came back whole`);
    });
    const grpcReplies = await Promise.all(grpcHeld.map((held) => held.reply));
    grpcReplies.forEach((reply, index) => {
      assert.equal(reply.status, '0', `gRPC request ${index}`);
      const raw = reply.response?.rawOutputContents[0];
      assert.ok(raw !== undefined && Buffer.from(raw).equals(tensors[8 + index]!), `gRPC request ${index} came back whole`);
    });

    assert.equal(await nereid.exited, 0);
    assert.match(nereid.log(), /All in-flight requests finished; exiting/);
  } finally {
    grpcClient.close();
    for (const session of sessions) session.destroy();
    nereid.child.kill('SIGKILL');
  }
});

test('a request that cannot finish before --exit-timeout-secs makes the exit non-zero, saying so', async () => {
  const nereid = await startNereid(['--exit-timeout-secs=1', '--log-verbose=1']);
  const held = holdHttpInfer(nereid.http, tensorFor(0), false);
  held.reply.catch(() => {}); // the connection is cut at the deadline
  const call = holdGrpcInfer(nereid.grpc, tensorFor(1));
  call.reply.catch(() => {});
  try {
    await nereid.waitForLog(new RegExp(`HTTP request: POST ${INFER_PATH}`));
    await call.seen;
    const signalled = Date.now();
    nereid.child.kill('SIGTERM');
    assert.equal(await nereid.exited, 1);
    const elapsed = Date.now() - signalled;
    assert.ok(elapsed >= 900 && elapsed < 10_000, `exited ${elapsed} ms after SIGTERM`);
    assert.match(nereid.log(), /Exit timeout reached with 2 requests in flight\. Exiting immediately\./);
    assert.doesNotMatch(nereid.log(), /All in-flight requests finished/);
  } finally {
    call.session.destroy();
    nereid.child.kill('SIGKILL');
  }
});
