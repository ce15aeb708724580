/**
 * gRPC and shared-memory benchmark (not part of the test suite). One Nereid child process, driven from
 * this process over both protocols, in one run:
 *   1. ModelInfer on `simple` (INT32 [1,16] x2 as raw_input_contents) against HTTP with the binary
 *      extension (as tritonclient sends), at concurrency 1 and 16;
 *   2. a 4 MiB FP32 tensor through `identity_fp32` over HTTP and gRPC, with the tensor bytes in the
 *      bodies and with input and output in registered system shared-memory regions (one pair of
 *      regions per caller), at concurrency 1 and 16.
 * Closed loop (load.ts), BENCH_SECONDS per case (default 5) after a short warm-up. Each caller has
 * its own HTTP keep-alive socket and its own HTTP/2 connection. BENCH_GRPC_WINDOW (bytes) sets the
 * gRPC client's HTTP/2 receive window: default 16 MiB, near what gRPC C-core (tritonclient) reaches by
 * BDP probing; 0 keeps grpc-js' 64 KiB, which stalls 4 MiB answers on window updates. Every case is
 * checked once before timing. BENCH_SERVER_NODE_ARGS adds node flags to the server's command line
 * (e.g. "--initial-heap-size=512" to see what V8's GC costs the large-tensor cases).
 */
import { cpus } from 'node:os';
import { fromBinary } from '@bufbuild/protobuf';
import { GRPCInferenceService, ModelInferRequestSchema, ModelInferResponseSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { GrpcBenchClient, encode } from './grpc-bench-client.js';
import { binaryCall, binaryOutputs, httpOk, shmCall } from './infer-calls.js';
import { closedLoop, runHttpLoad, type HttpCall, type LoadResult } from './load.js';
import { measure, type Measured } from './measure.js';
import { LEGEND, printTable, type Group, type Row } from './report.js';
import { grpcInferInit, registerGrpc, registerHttp, unregisterGrpc, unregisterHttp, type Protocol } from './shm-cases.js';
import { createRegionPairs, destroyRegionPairs, type RegionPair } from './shm-regions.js';
import { freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const GRPC_WINDOW = Number(process.env['BENCH_GRPC_WINDOW'] ?? 16 * 2 ** 20);
const SERVER_NODE_ARGS = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
const CONCURRENCIES = [1, 16] as const;
const MAX_CALLERS = 16;
const TENSOR_ELEMENTS = 1024 * 1024;
const TENSOR_BYTES = TENSOR_ELEMENTS * 4;
const MODEL_INFER = GRPCInferenceService.method.modelInfer;
const READY = /(?=[\s\S]*Started GRPCInferenceService)(?=[\s\S]*Started HTTPService)/;

/** What every case needs: the server and one gRPC client per caller. */
interface Bench {
  readonly pid: number;
  readonly httpPort: number;
  /** One per caller, each with its own HTTP/2 connection. */
  readonly clients: readonly GrpcBenchClient[];
  /** A second set of clients that all share one HTTP/2 connection (grpc-js' default). */
  readonly sharedClients: readonly GrpcBenchClient[];
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Closed loop of pre-encoded ModelInfer calls; caller i sends `requests[i % n]` on `clients[i]`. */
function runGrpcLoad(clients: readonly GrpcBenchClient[], requests: readonly Buffer[], concurrency: number): Promise<LoadResult> {
  return closedLoop(async (caller) => {
    const start = process.hrtime.bigint();
    await clients[caller]!.raw(MODEL_INFER, requests[caller % requests.length]!);
    return Number(process.hrtime.bigint() - start) / 1000;
  }, concurrency, SECONDS);
}

// ---- 1. simple over gRPC and HTTP ----

const SIMPLE_INPUT0 = Buffer.from(new Int32Array(16).map((_, i) => i).buffer);
const SIMPLE_INPUT1 = Buffer.from(new Int32Array(16).fill(1).buffer);

function simpleGrpcRequest(): Buffer {
  return encode(ModelInferRequestSchema, {
    modelName: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
      { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
    ],
    outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1' }],
    rawInputContents: [SIMPLE_INPUT0, SIMPLE_INPUT1],
  });
}

function simpleHttpCall(): HttpCall {
  return binaryCall('simple', [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: SIMPLE_INPUT0 },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: SIMPLE_INPUT1 },
  ], ['OUTPUT0', 'OUTPUT1']);
}

function checkSimpleOutputs(protocol: string, output0: Uint8Array | undefined, output1: Uint8Array | undefined): void {
  check(output0 !== undefined && output1 !== undefined, `${protocol}: simple returned both outputs`);
  const sum = new Int32Array(new Uint8Array(output0).buffer);
  const difference = new Int32Array(new Uint8Array(output1).buffer);
  for (let i = 0; i < 16; i++) {
    check(sum[i] === i + 1 && difference[i] === i - 1, `${protocol}: simple OUTPUT0/OUTPUT1 element ${i}`);
  }
}

async function simpleSection(bench: Bench): Promise<Group[]> {
  const grpcRequest = simpleGrpcRequest();
  const httpCall = simpleHttpCall();
  const answer = fromBinary(ModelInferResponseSchema, await bench.clients[0]!.raw(MODEL_INFER, grpcRequest));
  checkSimpleOutputs('gRPC', answer.rawOutputContents[0], answer.rawOutputContents[1]);
  const outputs = binaryOutputs(await httpOk(bench.httpPort, 'POST', httpCall.path, httpCall.body, httpCall.headers));
  checkSimpleOutputs('HTTP', outputs.get('OUTPUT0'), outputs.get('OUTPUT1'));

  const groups: Group[] = [];
  for (const concurrency of CONCURRENCIES) {
    const run = (load: () => Promise<LoadResult>): Promise<Measured> => measure(bench.pid, bench.httpPort, 'simple', load);
    const grpc = await run(() => runGrpcLoad(bench.clients, [grpcRequest], concurrency));
    const http = await run(() => runHttpLoad(bench.httpPort, httpCall, concurrency, SECONDS));
    const rows: Row[] = [
      { label: 'gRPC ModelInfer (raw contents)', concurrency, measured: grpc },
      { label: 'HTTP binary extension', concurrency, measured: http },
    ];
    if (concurrency > 1) {
      const shared = await run(() => runGrpcLoad(bench.sharedClients, [grpcRequest], concurrency));
      rows.push({ label: 'gRPC, all callers on 1 connection', concurrency, measured: shared });
    }
    groups.push({ rows, ratio: { label: 'gRPC/HTTP', numerator: grpc, denominator: http } });
  }
  return groups;
}

// ---- 2. 4 MiB through identity_fp32, with and without shared memory ----

/** Caller i's input: distinct per caller, so a mix-up of regions shows in the check. */
function tensorFor(caller: number): Buffer {
  return Buffer.from(new Float32Array(TENSOR_ELEMENTS).map((_, i) => (i % 4096) / 8 + caller).buffer);
}

interface TensorCase {
  readonly run: (concurrency: number) => Promise<LoadResult>;
  readonly verify: () => Promise<void>;
}

function bodyCase(bench: Bench, protocol: Protocol, input: Buffer): TensorCase {
  const shape = [1, TENSOR_ELEMENTS];
  if (protocol === 'HTTP') {
    const call = binaryCall('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape, data: input }], ['OUTPUT0']);
    return {
      run: (concurrency) => runHttpLoad(bench.httpPort, call, concurrency, SECONDS),
      verify: async () => {
        const outputs = binaryOutputs(await httpOk(bench.httpPort, 'POST', call.path, call.body, call.headers));
        check(outputs.get('OUTPUT0')?.equals(input) === true, 'HTTP: identity_fp32 returned its input');
      },
    };
  }
  const request = encode(ModelInferRequestSchema, grpcInferInit('identity_fp32', shape, { data: input }));
  return {
    run: (concurrency) => runGrpcLoad(bench.clients, [request], concurrency),
    verify: async () => {
      const answer = fromBinary(ModelInferResponseSchema, await bench.clients[0]!.raw(MODEL_INFER, request));
      check(Buffer.from(answer.rawOutputContents[0] ?? []).equals(input), 'gRPC: identity_fp32 returned its input');
    },
  };
}

function shmCaseOf(bench: Bench, protocol: Protocol, pairs: readonly RegionPair[]): TensorCase {
  const shape = [1, TENSOR_ELEMENTS];
  const places = pairs.map((pair) => ({
    input: { region: pair.inputName, byteSize: TENSOR_BYTES },
    output: { region: pair.outputName, byteSize: TENSOR_BYTES },
  }));
  const httpCalls = places.map((p) =>
    shmCall('identity_fp32', { name: 'INPUT0', datatype: 'FP32', shape, place: p.input }, { name: 'OUTPUT0', place: p.output }),
  );
  const grpcRequests = places.map((p) => encode(ModelInferRequestSchema, grpcInferInit('identity_fp32', shape, { shm: p })));
  const once = async (caller: number): Promise<void> => {
    if (protocol === 'HTTP') {
      const call = httpCalls[caller]!;
      const answer = await httpOk(bench.httpPort, 'POST', call.path, call.body, call.headers);
      check(answer.body.length < 1024, 'HTTP: shm answer carries no tensor bytes');
    } else {
      const answer = fromBinary(ModelInferResponseSchema, await bench.clients[0]!.raw(MODEL_INFER, grpcRequests[caller]!));
      check(answer.rawOutputContents.every((c) => c.byteLength === 0), 'gRPC: shm answer carries no tensor bytes');
    }
  };
  return {
    run: (concurrency) =>
      protocol === 'HTTP' ? runHttpLoad(bench.httpPort, httpCalls, concurrency, SECONDS) : runGrpcLoad(bench.clients, grpcRequests, concurrency),
    verify: async () => {
      for (const [caller, pair] of pairs.entries()) {
        pair.output.write(Buffer.alloc(TENSOR_BYTES));
        await once(caller);
        check(pair.output.read(TENSOR_BYTES).equals(tensorFor(caller)), `${protocol}: output region ${caller} holds input ${caller}`);
      }
    },
  };
}

async function shmSection(bench: Bench, regions: Record<Protocol, RegionPair[]>): Promise<Group[]> {
  const groups: Group[] = [];
  for (const protocol of ['HTTP', 'gRPC'] as const) {
    const plain = bodyCase(bench, protocol, tensorFor(0));
    const shm = shmCaseOf(bench, protocol, regions[protocol]);
    await plain.verify();
    await shm.verify();
    for (const concurrency of CONCURRENCIES) {
      const run = (load: () => Promise<LoadResult>): Promise<Measured> => measure(bench.pid, bench.httpPort, 'identity_fp32', load);
      const body = await run(() => plain.run(concurrency));
      const viaShm = await run(() => shm.run(concurrency));
      groups.push({
        rows: [
          { label: `${protocol}, tensor in bodies`, concurrency, measured: body },
          { label: `${protocol}, system shared memory`, concurrency, measured: viaShm },
        ],
        ratio: { label: `${protocol} shm/no-shm`, numerator: viaShm, denominator: body },
      });
    }
  }
  return groups;
}

// ---- main ----

async function startBench(): Promise<{ bench: Bench; stop: () => Promise<void> }> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const args = [...SERVER_NODE_ARGS, 'packages/server/bin/nereid.js', '--model-repository', 'examples/models', '--allow-client-shm=true'];
  const nereid = await startChild(process.execPath, [...args, '--http-port', String(httpPort), '--grpc-port', String(grpcPort)], READY);
  const address = `127.0.0.1:${grpcPort}`;
  const window = GRPC_WINDOW > 0 ? { flowControlWindow: GRPC_WINDOW } : {};
  const clients = Array.from({ length: MAX_CALLERS }, () => new GrpcBenchClient(address, { ownConnection: true, ...window }));
  const sharedClients = Array.from({ length: MAX_CALLERS }, () => new GrpcBenchClient(address, { ownConnection: false, ...window }));
  const all = [...clients, ...sharedClients];
  const stop = async (): Promise<void> => {
    for (const client of all) client.close();
    await stopChild(nereid);
  };
  try {
    await Promise.all(all.map((client) => client.ready()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { bench: { pid: nereid.pid ?? 0, httpPort, clients, sharedClients }, stop };
}

async function main(): Promise<void> {
  const { bench, stop } = await startBench();
  const regions: Record<Protocol, RegionPair[]> = { HTTP: [], gRPC: [] };
  try {
    regions.HTTP = createRegionPairs('http', MAX_CALLERS, TENSOR_BYTES);
    regions.gRPC = createRegionPairs('grpc', MAX_CALLERS, TENSOR_BYTES);
    for (const [caller, pair] of [...regions.HTTP.entries(), ...regions.gRPC.entries()]) pair.input.write(tensorFor(caller));
    await registerHttp(bench.httpPort, regions.HTTP);
    await registerGrpc(bench.clients[0]!, regions.gRPC);
    const window = GRPC_WINDOW > 0 ? `${GRPC_WINDOW} B` : "grpc-js' default (64 KiB)";
    console.log(
      `Nereid gRPC / shared-memory benchmark: ${SECONDS} s per case after a warm-up, node ${process.version}, ` +
        `${cpus().length} CPUs shared by client and server, gRPC client receive window ${window}` +
        (SERVER_NODE_ARGS.length > 0 ? `, server node flags: ${SERVER_NODE_ARGS.join(' ')}` : '') +
        (process.execArgv.length > 0 ? `, bench node flags: ${process.execArgv.join(' ')}` : ''),
    );
    const simple = await simpleSection(bench);
    printTable('1. ModelInfer on `simple` (INT32 [1,16] x2): gRPC raw_input_contents vs HTTP binary extension', simple);
    const tensors = await shmSection(bench, regions);
    printTable('2. identity_fp32, 4 MiB FP32 [1,1048576] in and out: tensor in bodies vs system shared memory', tensors);
    console.log(`\n${LEGEND}`);
    await unregisterHttp(bench.httpPort, regions.HTTP);
    await unregisterGrpc(bench.clients[0]!, regions.gRPC);
  } finally {
    destroyRegionPairs([...regions.HTTP, ...regions.gRPC]);
    await stop();
  }
}

await main();
