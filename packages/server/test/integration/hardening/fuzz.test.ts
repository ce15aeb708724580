import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import type { ServiceError } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import { caseSeed, Random } from '../../helpers/fuzz-random.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, replyJson, tensorBytes } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';
import { INFER_PATH, checkGrpc, decodable, describeGrpcMessage, grpcFrameCase, grpcMessageCase, sendFrames } from './fuzz-grpc-cases.js';
import { checkHttp, checkRaw, describeHttp, httpCase, sendHttp, sendRaw } from './fuzz-http-cases.js';
import { CONCURRENCY, GRPC_BUDGET_MS, GRPC_CASES, HTTP_BUDGET_MS, HTTP_CASES, MAX_INPUT_SIZE, REPLY_TIMEOUT_MS, RSS_GROWTH_LIMIT, SEED, Stream } from './fuzz-values.js';

/**
 * A bounded, seeded fuzz of both frontends (issue: hardening): mutated infer requests, odd routes,
 * methods and headers, malformed HTTP framing, wrong-but-well-formed gRPC messages and raw gRPC
 * frames of random protobuf bytes. Every reply must be one the server means to give (no 500 or
 * INTERNAL from a bug, error bodies well-formed and bounded), nothing may hang, and afterwards the
 * server still answers correctly with its memory in bounds.
 *
 * Replay a failure with `NEREID_FUZZ_SEED=<seed>` (the seed is in the suite's name); each case is
 * rebuilt from (seed, stream, index) alone, so the index in a failure message names it exactly.
 */

/** Runs cases 0, 1, ... on `concurrency` workers until `count` ran or `budgetMs` passed. */
async function runCases(count: number, budgetMs: number, concurrency: number, run: (index: number) => Promise<void>): Promise<number> {
  const deadline = Date.now() + budgetMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) await run(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return next;
}

function reportFailures(failures: string[], ran: number): void {
  assert.equal(
    failures.length,
    0,
    `${failures.length} of ${ran} cases failed (replay with NEREID_FUZZ_SEED=${SEED}):\n${failures.slice(0, 10).join('\n')}`,
  );
}

describe(`fuzz: HTTP and gRPC requests, seeded (NEREID_FUZZ_SEED=${SEED})`, () => {
  let server: RunningServer;
  let base: string;
  let httpPort: number;
  let agent: Agent;
  let grpc: InferenceGrpcClient;
  let session: ClientHttp2Session;
  let rssBefore: number;
  const unexpectedErrors: string[] = [];
  /** Captures what the server logs as unexpected errors (bugs), otherwise silent. */
  const logger: Logger = { ...silentLogger, settings: { ...silentLogger.settings }, error: (message) => unexpectedErrors.push(message) };

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1', maxInputSize: MAX_INPUT_SIZE },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      logger,
    });
    httpPort = server.http!.port;
    base = `http://127.0.0.1:${httpPort}`;
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
    session = http2Connect(`http://127.0.0.1:${server.grpc!.port}`);
    session.on('error', () => {});
    await assertServesSimple();
    rssBefore = process.memoryUsage().rss;
  });

  after(async () => {
    agent?.destroy();
    grpc?.close();
    session?.close();
    await server?.close();
  });

  /** `simple` adds and subtracts correctly over HTTP and over the fuzzed gRPC client. */
  async function assertServesSimple(): Promise<void> {
    const input0 = Array.from({ length: 16 }, (_, i) => i);
    const input1 = Array.from({ length: 16 }, (_, i) => 3 * i - 7);
    const body = JSON.stringify({
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: input0 },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: input1 },
      ],
    });
    const reply = await httpCall(base, 'POST', '/v2/models/simple/infer', { body, agent });
    assert.equal(reply.status, 200, reply.body.toString());
    const outputs = (replyJson(reply) as { outputs: { name: string; data: number[] }[] }).outputs;
    const byName = new Map(outputs.map((o) => [o.name, o.data]));
    assert.deepEqual(byName.get('OUTPUT0'), input0.map((a, i) => a + input1[i]!));
    assert.deepEqual(byName.get('OUTPUT1'), input0.map((a, i) => a - input1[i]!));

    const response = await grpc.call('modelInfer', {
      modelName: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
      ],
      rawInputContents: [tensorBytes(Int32Array.from(input0)), tensorBytes(Int32Array.from(input1))],
    });
    const raw = new Map(
      response.outputs.map((o, i) => {
        const bytes = Buffer.from(response.rawOutputContents[i]!);
        return [o.name, Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))];
      }),
    );
    assert.deepEqual(raw.get('OUTPUT0'), input0.map((a, i) => a + input1[i]!));
    assert.deepEqual(raw.get('OUTPUT1'), input0.map((a, i) => a - input1[i]!));
  }

  it(`HTTP: up to ${HTTP_CASES} mutated requests each get a sane status and a well-formed error, within ${REPLY_TIMEOUT_MS} ms`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(HTTP_CASES, HTTP_BUDGET_MS, CONCURRENCY, async (index) => {
      const c = httpCase(new Random(caseSeed(SEED, Stream.Http, index)));
      const problem = c.raw === undefined ? checkHttp(c, await sendHttp(httpPort, agent, c)) : checkRaw(await sendRaw(httpPort, c.raw));
      if (problem !== undefined) failures.push(`HTTP case ${index}: ${problem}\n    ${describeHttp(c)}`);
    });
    t.diagnostic(`seed ${SEED}: ${ran} HTTP cases`);
    reportFailures(failures, ran);
  });

  it(`gRPC: up to ${GRPC_CASES} wrong-but-well-formed ModelInfer messages each get a sane status`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(GRPC_CASES, GRPC_BUDGET_MS, CONCURRENCY, async (index) => {
      const request = grpcMessageCase(new Random(caseSeed(SEED, Stream.GrpcMessages, index)));
      const problem = await grpc.call('modelInfer', request, undefined, { deadline: Date.now() + REPLY_TIMEOUT_MS }).then(
        () => undefined,
        (error: ServiceError) =>
          // Every message here is valid protobuf: failing to deserialize one is a server bug.
          error.code === 13 && error.details.startsWith('Error deserializing')
            ? 'a valid message failed to deserialize'
            : checkGrpc(error.code, error.details, INFER_PATH),
      );
      if (problem !== undefined) failures.push(`gRPC message case ${index}: ${problem}\n    ${describeGrpcMessage(request)}`);
    });
    t.diagnostic(`seed ${SEED}: ${ran} gRPC message cases`);
    reportFailures(failures, ran);
  });

  it(`gRPC: up to ${GRPC_CASES} raw HTTP/2 calls of random protobuf bytes each end with a sane grpc-status`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(GRPC_CASES, GRPC_BUDGET_MS, CONCURRENCY, async (index) => {
      const c = grpcFrameCase(new Random(caseSeed(SEED, Stream.GrpcFrames, index)));
      const outcome = await sendFrames(session, c);
      const details = outcome.details ?? '';
      const problem =
        outcome.error !== undefined
          ? `stream failed: ${outcome.error}`
          : outcome.httpStatus !== 200
            ? `HTTP/2 status ${outcome.httpStatus}`
            : // A valid message refused as undecodable means the census or the decoder is wrong.
              outcome.code === 13 && details.startsWith('Error deserializing') && c.message !== undefined && decodable(c.message)
              ? 'a decodable ModelInferRequest failed to deserialize'
              : checkGrpc(outcome.code, details, c.path);
      if (problem !== undefined) {
        const bytes = Buffer.concat(c.chunks);
        failures.push(`gRPC frame case ${index}: ${problem}\n    ${c.path} ${JSON.stringify(c.headers)} frames(${bytes.length})=${bytes.subarray(0, 300).toString('hex')}`);
      }
    });
    t.diagnostic(`seed ${SEED}: ${ran} raw gRPC cases`);
    reportFailures(failures, ran);
  });

  it('afterwards the server answers correctly, logged no unexpected error, and its memory stayed bounded', async () => {
    await assertServesSimple();
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      assert.equal((await httpCall(base, 'GET', path, { agent })).status, 200, path);
    }
    assert.equal((await grpc.call('serverLive', {})).live, true);
    assert.equal((await grpc.call('serverReady', {})).ready, true);
    assert.deepEqual(unexpectedErrors.slice(0, 5), [], `the server logged ${unexpectedErrors.length} unexpected errors`);
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round(growth / 2 ** 20)} MiB`);
  });
});
