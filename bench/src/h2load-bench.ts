/**
 * Transport benchmark driven by h2load (Debian `nghttp2-client`), a C load generator, so that the
 * client is not the bottleneck it is in grpc-bench.ts (not part of the test suite). Nereid serves
 * `simple`; the same request goes over HTTP/1.1 with the binary extension, over gRPC ModelInfer
 * (unary) and over gRPC ModelStreamInfer (100 requests per stream), and a bare `node:http` server
 * answers Nereid's HTTP bytes as the reference. For each: requests per second and the server's CPU
 * time per request. Targets of the transport issue: gRPC ≥ 1.0x HTTP for `simple`.
 * BENCH_SECONDS sets each window (default 5), after a 2 s warm-up. BENCH_TRANSPORTS=http runs only
 * the HTTP/1.1 rows (=grpc only the gRPC ones; default both).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { binaryCall } from './infer-calls.js';
import { processCpuSeconds } from './proc-stats.js';
import { freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const WARMUP_SECONDS = 2;
const STREAM_MESSAGES = 100;
const TRANSPORTS = process.env['BENCH_TRANSPORTS'] ?? 'http,grpc';

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
    ['packages/server/bin/nereid.js', '--model-repository', 'examples/models', '--http-port', String(httpPort), '--grpc-port', String(grpcPort)],
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
    const httpByLoad = new Map<string, Measured>();
    // The gRPC rows print their ratio to HTTP/1.1 only when the HTTP/1.1 rows ran.
    const httpLoads = TRANSPORTS.includes('http') ? HTTP1_LOADS : [];
    for (const load of httpLoads) {
      const viaNereid = h2load(nereid.pid!, h1(httpPort, load));
      const viaBare = h2load(bare.pid!, h1(barePort, load));
      httpByLoad.set(load.label, viaNereid);
      console.log(line(`HTTP/1.1 nereid, ${load.label}`, viaNereid));
      console.log(line(`HTTP/1.1 bare node:http, ${load.label}`, viaBare));
      console.log(`  nereid/bare throughput ${(viaNereid.perSecond / viaBare.perSecond).toFixed(2)}x`);
    }
    for (const load of TRANSPORTS.includes('grpc') ? GRPC_LOADS : []) {
      const unary = h2load(nereid.pid!, grpcArgs(load, 'unary.grpc', 'ModelInfer'));
      const stream = h2load(nereid.pid!, grpcArgs(load, 'stream.grpc', 'ModelStreamInfer'), STREAM_MESSAGES);
      const http1 = httpByLoad.get(load.label.startsWith('c=16') ? 'c=16' : load.label.startsWith('c=64') ? 'c=64' : 'c=1');
      console.log(line(`gRPC unary, ${load.label}`, unary));
      console.log(line(`gRPC stream (${STREAM_MESSAGES}/stream), ${load.label}`, stream));
      if (http1 === undefined) continue;
      console.log(
        `  gRPC/HTTP throughput: unary ${(unary.perSecond / http1.perSecond).toFixed(2)}x, ` +
          `stream ${(stream.perSecond / http1.perSecond).toFixed(2)}x (target ≥ 1.0x)`,
      );
    }
  } finally {
    await Promise.all([stopChild(nereid), stopChild(bare)]);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nh2load counts HTTP 200 responses; gRPC statuses are not read (check correctness with the test suite).');
}

await main();
