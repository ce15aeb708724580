/**
 * End-to-end HTTP benchmark (not part of the test suite). In one run it measures, at concurrency 1
 * and 16, the same requests against:
 *   - Nereid serving examples/models (child process),
 *   - a bare node:http server answering the same bytes (child process): the floor for any Node server,
 *   - the same models called in-process through onnxruntime-node: the floor for the model itself,
 * and prints throughput, p50 and p99 with the ratios. BENCH_SECONDS sets the window per case (default 5).
 */
import { request } from 'node:http';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { binaryCall } from './infer-calls.js';
import { closedLoop, runHttpLoad, type HttpCall, type LoadResult } from './load.js';
import { processCpuSeconds } from './proc-stats.js';
import { REPO_ROOT, freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONCURRENCIES = [1, 16];

interface Case {
  readonly model: string;
  readonly call: HttpCall;
  readonly ortFeeds: () => Record<string, ort.Tensor>;
}

function cases(): Case[] {
  const int32 = new Int32Array(16).map((_, i) => i);
  const simpleData = Buffer.from(int32.buffer);
  const floats = new Float32Array(1024).map((_, i) => i / 7);
  const floatData = Buffer.from(floats.buffer);
  return [
    {
      model: 'simple',
      call: binaryCall('simple', [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: simpleData },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: simpleData },
      ], ['OUTPUT0', 'OUTPUT1']),
      ortFeeds: () => ({ INPUT0: new ort.Tensor('int32', int32, [1, 16]), INPUT1: new ort.Tensor('int32', int32, [1, 16]) }),
    },
    {
      model: 'identity_fp32',
      call: binaryCall('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1024], data: floatData }], ['OUTPUT0']),
      ortFeeds: () => ({ INPUT0: new ort.Tensor('float32', floats, [1, 1024]) }),
    },
  ];
}

/** Asks Nereid once for each call's answer, so the bare server can send identical bytes. */
function capture(port: number, call: HttpCall): Promise<{ headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: call.path, headers: call.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${call.path}: ${res.statusCode} ${Buffer.concat(chunks)}`));
        const headers: Record<string, string> = { 'Content-Type': String(res.headers['content-type']) };
        const ihcl = res.headers['inference-header-content-length'];
        if (ihcl) headers['Inference-Header-Content-Length'] = String(ihcl);
        resolve({ headers, body: Buffer.concat(chunks).toString('base64') });
      });
    });
    req.on('error', reject);
    req.end(call.body);
  });
}

function row(label: string, r: LoadResult, cpuUs?: number): string {
  const cpu = cpuUs === undefined ? '' : `  server CPU ${cpuUs.toFixed(0).padStart(4)} µs/req`;
  return `${label.padEnd(34)} ${r.throughput.toFixed(0).padStart(8)} req/s  p50 ${r.p50Us.toFixed(0).padStart(6)} µs  p99 ${r.p99Us.toFixed(0).padStart(6)} µs${cpu}${r.errors ? `  errors ${r.errors}` : ''}`;
}

/** A load run against a child server, with the server's CPU time per request (µs). */
async function withServerCpu(pid: number, run: () => Promise<LoadResult>): Promise<{ result: LoadResult; cpuUs: number }> {
  const before = processCpuSeconds(pid);
  const result = await run();
  return { result, cpuUs: ((processCpuSeconds(pid) - before) * 1e6) / Math.max(1, result.requests) };
}

async function main(): Promise<void> {
  const all = cases();
  const nereidPort = await freePort();
  const nereid = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', 'examples/models', '--http-port', String(nereidPort), '--allow-grpc', 'false'],
    /Started HTTPService/,
  );
  const responses: Record<string, { headers: Record<string, string>; body: string }> = {};
  for (const c of all) responses[c.call.path] = await capture(nereidPort, c.call);
  const barePort = await freePort();
  const bare = await startChild(process.execPath, [join('bench', 'dist', 'bare-echo-server.js'), String(barePort)], /listening/, {
    BARE_RESPONSES: JSON.stringify(responses),
  });
  console.log(`HTTP benchmark: ${SECONDS} s per case, node ${process.version}, ${SECONDS}s windows\n`);
  try {
    for (const c of all) {
      const session = await ort.InferenceSession.create(join(REPO_ROOT, 'examples', 'models', c.model, '1', 'model.onnx'));
      for (const concurrency of CONCURRENCIES) {
        const viaNereid = await withServerCpu(nereid.pid!, () => runHttpLoad(nereidPort, c.call, concurrency, SECONDS));
        const viaBare = await withServerCpu(bare.pid!, () => runHttpLoad(barePort, c.call, concurrency, SECONDS));
        const viaOrt = await closedLoop(async () => {
          const start = process.hrtime.bigint();
          await session.run(c.ortFeeds());
          return Number(process.hrtime.bigint() - start) / 1000;
        }, concurrency, SECONDS);
        console.log(`${c.model}, concurrency ${concurrency}`);
        console.log(row('  nereid HTTP', viaNereid.result, viaNereid.cpuUs));
        console.log(row('  bare node:http (same bytes)', viaBare.result, viaBare.cpuUs));
        console.log(row('  onnxruntime-node in-process', viaOrt));
        console.log(
          `  ratios: nereid/bare throughput ${(viaNereid.result.throughput / viaBare.result.throughput).toFixed(2)}, ` +
            `p50 overhead over bare ${(viaNereid.result.p50Us - viaBare.result.p50Us).toFixed(0)} µs, ` +
            `server CPU nereid/bare ${(viaNereid.cpuUs / viaBare.cpuUs).toFixed(2)}, ` +
            `nereid/ORT throughput ${(viaNereid.result.throughput / viaOrt.throughput).toFixed(3)}\n`,
        );
      }
      await session.release();
    }
  } finally {
    await stopChild(nereid);
    await stopChild(bare);
  }
}

await main();
