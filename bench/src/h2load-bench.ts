/**
 * Transport benchmark driven by h2load (Debian `nghttp2-client`), a C load generator, so that the
 * client is not the bottleneck it is in grpc-bench.ts (not part of the test suite). Nereid serves
 * `simple`; the same request goes over HTTP/1.1 with the binary extension, over gRPC ModelInfer
 * (unary) and over gRPC ModelStreamInfer (100 requests per stream), and a bare `node:http` server
 * answers Nereid's HTTP bytes as the reference. For each: requests per second and the server's CPU
 * time per request. Then a 4 MiB FP32 tensor through `identity_fp32`: in the request and response
 * bodies over gRPC and HTTP, and in registered system shared-memory regions (the bench creates one
 * input/output pair under /dev/shm; concurrent calls share it, which is fine for timing).
 * Targets of the transport issue: gRPC ≥ 1.0x HTTP for `simple`; 4 MiB over gRPC ≥ 0.5x the
 * shared-memory path.
 * BENCH_SECONDS sets each window (default 5), after a 2 s warm-up. BENCH_PARTS picks sections:
 * `simple`, `tensor` (default both, comma-separated).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { binaryCall, shmCall } from './infer-calls.js';
import { grpcInferInit, registerHttp, unregisterHttp } from './shm-cases.js';
import { createRegionPairs, destroyRegionPairs } from './shm-regions.js';
import { processCpuSeconds } from './proc-stats.js';
import { freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const WARMUP_SECONDS = 2;
const STREAM_MESSAGES = 100;
const PARTS = new Set((process.env['BENCH_PARTS'] ?? 'simple,tensor').split(','));
const TENSOR_ELEMENTS = 1024 * 1024;
const TENSOR_BYTES = TENSOR_ELEMENTS * 4;
const TENSOR_LOADS: readonly Loads[] = [
  { label: 'c=1', args: ['-c', '1', '-m', '1'] },
  { label: 'c=4', args: ['-c', '4', '-m', '1'] },
];

interface Loads {
  readonly label: string;
  /** h2load's client/connection options: -c connections, -m streams per connection. */
  readonly args: readonly string[];
}

const HTTP1_LOADS: readonly Loads[] = [
  { label: 'c=1', args: ['-c', '1', '-m', '1'] },
  { label: 'c=16', args: ['-c', '16', '-m', '1'] },
  { label: 'c=64', args: ['-c', '64', '-m', '1'] },
];
const GRPC_LOADS: readonly Loads[] = [
  { label: 'c=1', args: ['-c', '1', '-m', '1'] },
  { label: 'c=16 (16 conns)', args: ['-c', '16', '-m', '1'] },
  { label: 'c=16 (1 conn)', args: ['-c', '1', '-m', '16'] },
  { label: 'c=64 (4 conns)', args: ['-c', '4', '-m', '16'] },
];

interface Measured {
  readonly requests: number;
  readonly perSecond: number;
  readonly cpuUs: number;
}

function h2load(pid: number, args: readonly string[], messagesPerRequest = 1): Measured {
  spawnSync('h2load', ['-D', String(WARMUP_SECONDS), ...args], { stdio: 'ignore' });
  const before = processCpuSeconds(pid);
  const out = execFileSync('h2load', ['-D', String(SECONDS), ...args], { encoding: 'utf8' });
  const cpu = processCpuSeconds(pid) - before;
  const succeeded = Number(/requests: .*?(\d+) succeeded/.exec(out)?.[1] ?? 0) * messagesPerRequest;
  const rate = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0) * messagesPerRequest;
  return { requests: succeeded, perSecond: rate, cpuUs: (cpu * 1e6) / Math.max(1, succeeded) };
}

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

function hasH2load(): boolean {
  return spawnSync('h2load', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  if (!hasH2load()) {
    console.log('h2load not found: install Debian\'s nghttp2-client (apt-get install -y nghttp2-client)');
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nereid-h2load-'));
  const values = new Int32Array(16).map((_, i) => i);
  const data = Buffer.from(values.buffer);
  const http = binaryCall('simple', [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data },
  ], ['OUTPUT0', 'OUTPUT1']);
  writeFileSync(join(dir, 'http.bin'), http.body);
  const message = toBinary(
    ModelInferRequestSchema,
    create(ModelInferRequestSchema, {
      modelName: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
      ],
      rawInputContents: [data, data],
    }),
  );
  writeFileSync(join(dir, 'unary.grpc'), grpcFrame(message));
  writeFileSync(join(dir, 'stream.grpc'), Buffer.concat(Array.from({ length: STREAM_MESSAGES }, () => grpcFrame(message))));

  const httpPort = await freePort();
  const grpcPort = await freePort();
  const nereid = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', 'examples/models', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--allow-client-shm=true'],
    /Started GRPCInferenceService/,
  );
  const answer = execFileSync('curl', ['-s', '-D', '-', '--data-binary', `@${join(dir, 'http.bin')}`, '-H',
    `Inference-Header-Content-Length: ${http.headers['Inference-Header-Content-Length']}`, `http://127.0.0.1:${httpPort}${http.path}`]);
  const split = answer.indexOf('\r\n\r\n');
  const headerLines = answer.subarray(0, split).toString().split('\r\n').slice(1);
  const headers = Object.fromEntries(
    headerLines
      .map((line) => line.split(': '))
      .filter(([name]) => /^(content-type|inference-header-content-length)$/i.test(name ?? ''))
      .map(([name, value]) => [name!, value!]),
  );
  const barePort = await freePort();
  const bare = await startChild(process.execPath, [join('bench', 'dist', 'bare-echo-server.js'), String(barePort)], /listening/, {
    BARE_RESPONSES: JSON.stringify({ [http.path]: { headers, body: answer.subarray(split + 4).toString('base64') } }),
  });

  const h1 = (port: number, load: Loads): string[] => [
    '--h1', ...load.args, '-d', join(dir, 'http.bin'),
    '-H', `Inference-Header-Content-Length: ${http.headers['Inference-Header-Content-Length']}`,
    `http://127.0.0.1:${port}${http.path}`,
  ];
  const grpcArgs = (load: Loads, file: string, method: string): string[] => [
    ...load.args, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', join(dir, file),
    `http://127.0.0.1:${grpcPort}/inference.GRPCInferenceService/${method}`,
  ];
  const line = (label: string, m: Measured): string =>
    `${label.padEnd(44)}${m.perSecond.toFixed(0).padStart(9)} req/s${m.cpuUs.toFixed(1).padStart(9)} µs CPU/req`;

  console.log(`Transports through h2load, simple, ${SECONDS} s windows after ${WARMUP_SECONDS} s warm-up, node ${process.version}\n`);
  try {
    if (PARTS.has('simple')) {
      const httpByLoad = new Map<string, Measured>();
      for (const load of HTTP1_LOADS) {
        const viaNereid = h2load(nereid.pid!, h1(httpPort, load));
        const viaBare = h2load(bare.pid!, h1(barePort, load));
        httpByLoad.set(load.label, viaNereid);
        console.log(line(`HTTP/1.1 nereid, ${load.label}`, viaNereid));
        console.log(line(`HTTP/1.1 bare node:http, ${load.label}`, viaBare));
        console.log(`  nereid/bare throughput ${(viaNereid.perSecond / viaBare.perSecond).toFixed(2)}x`);
      }
      for (const load of GRPC_LOADS) {
        const unary = h2load(nereid.pid!, grpcArgs(load, 'unary.grpc', 'ModelInfer'));
        const stream = h2load(nereid.pid!, grpcArgs(load, 'stream.grpc', 'ModelStreamInfer'), STREAM_MESSAGES);
        const http1 = httpByLoad.get(load.label.startsWith('c=16') ? 'c=16' : load.label.startsWith('c=64') ? 'c=64' : 'c=1')!;
        console.log(line(`gRPC unary, ${load.label}`, unary));
        console.log(line(`gRPC stream (${STREAM_MESSAGES}/stream), ${load.label}`, stream));
        console.log(
          `  gRPC/HTTP throughput: unary ${(unary.perSecond / http1.perSecond).toFixed(2)}x, ` +
            `stream ${(stream.perSecond / http1.perSecond).toFixed(2)}x (target ≥ 1.0x)`,
        );
      }
    }
    if (PARTS.has('tensor')) await tensorCases(dir, nereid.pid!, httpPort, grpcPort, line);
  } finally {
    await Promise.all([stopChild(nereid), stopChild(bare)]);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nh2load counts HTTP 200 responses; gRPC statuses are not read (check correctness with the test suite).');
}

/** The 4 MiB identity over gRPC and HTTP, with the tensor in the bodies and in shared memory. */
async function tensorCases(
  dir: string,
  pid: number,
  httpPort: number,
  grpcPort: number,
  line: (label: string, m: Measured) => string,
): Promise<void> {
  const shape = [1, TENSOR_ELEMENTS];
  const data = Buffer.from(new Float32Array(TENSOR_ELEMENTS).map((_, i) => i % 4096).buffer);
  const [pair] = createRegionPairs('h2load', 1, TENSOR_BYTES);
  const places = {
    input: { region: pair!.inputName, byteSize: TENSOR_BYTES },
    output: { region: pair!.outputName, byteSize: TENSOR_BYTES },
  };
  pair!.input.write(data);
  await registerHttp(httpPort, [pair!]);
  try {
    const write = (name: string, bytes: Uint8Array): string => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };
    const grpcBody = write('tensor.grpc', grpcFrame(toBinary(ModelInferRequestSchema, create(ModelInferRequestSchema, grpcInferInit('identity_fp32', shape, { data })))));
    const grpcShm = write('tensor-shm.grpc', grpcFrame(toBinary(ModelInferRequestSchema, create(ModelInferRequestSchema, grpcInferInit('identity_fp32', shape, { shm: places })))));
    const http = binaryCall('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape, data }], ['OUTPUT0']);
    const httpBody = write('tensor.http', http.body);
    const httpShm = shmCall('identity_fp32', { name: 'INPUT0', datatype: 'FP32', shape, place: places.input }, { name: 'OUTPUT0', place: places.output });
    const httpShmBody = write('tensor-shm.http', httpShm.body);
    const grpc = (load: Loads, file: string): string[] => [
      ...load.args, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', file,
      `http://127.0.0.1:${grpcPort}/inference.GRPCInferenceService/ModelInfer`,
    ];
    const h1 = (load: Loads, file: string, headers: Record<string, string>): string[] => [
      '--h1', ...load.args, '-d', file, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      `http://127.0.0.1:${httpPort}/v2/models/identity_fp32/infer`,
    ];
    console.log(`\n4 MiB FP32 through identity_fp32 (${TENSOR_BYTES} B in, the same out)`);
    for (const load of TENSOR_LOADS) {
      const viaGrpc = h2load(pid, grpc(load, grpcBody));
      const viaGrpcShm = h2load(pid, grpc(load, grpcShm));
      const viaHttp = h2load(pid, h1(load, httpBody, { 'Inference-Header-Content-Length': http.headers['Inference-Header-Content-Length']! }));
      const viaHttpShm = h2load(pid, h1(load, httpShmBody, { 'Content-Type': 'application/json' }));
      const mib = (m: Measured): string => `${((m.perSecond * TENSOR_BYTES) / 2 ** 20).toFixed(0)} MiB/s in`;
      console.log(`${line(`gRPC tensor in body, ${load.label}`, viaGrpc)}  ${mib(viaGrpc)}`);
      console.log(line(`gRPC tensor in system shm, ${load.label}`, viaGrpcShm));
      console.log(`${line(`HTTP tensor in body, ${load.label}`, viaHttp)}  ${mib(viaHttp)}`);
      console.log(line(`HTTP tensor in system shm, ${load.label}`, viaHttpShm));
      console.log(
        `  gRPC body / gRPC shm ${(viaGrpc.perSecond / viaGrpcShm.perSecond).toFixed(2)}x (target ≥ 0.5x), ` +
          `gRPC body / HTTP body ${(viaGrpc.perSecond / viaHttp.perSecond).toFixed(2)}x`,
      );
    }
  } finally {
    await unregisterHttp(httpPort, [pair!]).catch(() => {});
    destroyRegionPairs([pair!]);
  }
}

await main();
