import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { ClientTestServer } from '../client/client-server.js';
import { checkWellFormed } from './xml.js';

/** `nereid-perf` as users run it (the package's bin), against a real Nereid. */
const BIN = join(REPO_ROOT, 'packages', 'perf', 'bin', 'nereid-perf.js');
const FAST = ['-p', '200', '-s', '10000', '--max-trials', '8'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function perf(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const server = new ClientTestServer();
let dir = '';

before(async () => {
  await server.start();
  dir = mkdtempSync(join(tmpdir(), 'nereid-perf-cli-'));
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const CSV_HEADER =
  'Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency';

// The three runs at once: each spawns its own processes, and the assertions hold under load.
describe('nereid-perf', { concurrency: true }, () => {
  it('sweeps a concurrency range over HTTP: report, CSV and SVG chart', async () => {
    const csv = join(dir, 'c.csv');
    const svg = join(dir, 'c.svg');
    const run = await perf(['-m', 'simple', '-u', server.httpUrl, '--concurrency-range', '1:2', ...FAST, '-f', csv, '--chart', svg]);
    assert.equal(run.code, 0, run.stderr);
    // Progress: stderr is not a terminal here, so plain lines, one per window.
    assert.match(run.stderr, /^nereid-perf: measuring concurrency 1 \(level 1 of 2\)\n/);
    assert.match(run.stderr, /nereid-perf: concurrency 2 window 3\/8: \d+ requests, [\d.]+ infer\/sec, latency \d+ usec\n/);
    assert.doesNotMatch(run.stderr, /\x1b\[/);
    const summary = [...run.stdout.matchAll(/^Concurrency: (\d+), throughput: ([\d.]+) infer\/sec, latency (\d+) usec$/gm)];
    assert.deepEqual(summary.map((m) => m[1]), ['1', '2']);
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], CSV_HEADER);
    assert.equal(lines.length, 3);
    // Rows sorted by throughput, as perf_analyzer's writer does; figures as the report printed them.
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.ok(rows.every((r) => r.length === 13 && r.every((c) => /^\d+(\.\d+)?$/.test(c))));
    assert.ok(Number(rows[0]![1]) <= Number(rows[1]![1]));
    for (const m of summary) {
      const row = rows.find((r) => r[0] === m[1])!;
      assert.equal(row[1], m[2]);
    }
    const chart = readFileSync(svg, 'utf8');
    checkWellFormed(chart);
    assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((chart.match(/<circle /g) ?? []).length, 2 * 5, 'two levels × avg, p50, p90, p95, p99');
    assert.match(chart, />Throughput \(infer\/sec\)</);
    assert.match(chart, />Latency \(ms\)</);
    assert.match(chart, />c=2</);
    assert.doesNotMatch(chart, /<script|href=/);
  });

  it('sweeps a request rate over gRPC: verbose CSV and an HTML chart', async () => {
    const csv = join(dir, 'r.csv');
    const html = join(dir, 'r.html');
    const run = await perf(['-m', 'simple', '-i', 'grpc', '-u', server.grpcAddress, '--request-rate-range', '100:200:100', ...FAST, '-f', csv, '--verbose-csv', '--chart', html]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Request Rate: 100 inference requests per second$/m);
    assert.match(run.stdout, /^ {2}Using uniform distribution on request generation$/m);
    assert.match(run.stdout, /^Request Rate: 200, throughput: [\d.]+ infer\/sec, latency \d+ usec$/m);
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], `${CSV_HEADER.replace('Concurrency', 'Request Rate')},Avg latency,request/response,response wait`);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]).sort(), ['100', '200']);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/);
    const svg = page.slice(page.indexOf('<svg'), page.indexOf('</svg>') + 6);
    checkWellFormed(svg);
    assert.match(page, /<table>/);
    assert.doesNotMatch(page, /<script|<link|src=|@import/);
  });

  it('exits as perf_analyzer does on errors', async () => {
    const [unknown, unreachable, badRange, noModel, unknownFlag, streamingHttp, unstable, help, failing] = await Promise.all([
      perf(['-m', 'nope', '-u', server.httpUrl]),
      perf(['-m', 'simple', '-u', '127.0.0.1:1', '-i', 'grpc']),
      perf(['-m', 'simple', '--concurrency-range', 'a:b']),
      perf(['--concurrency-range', '1:2']),
      perf(['-m', 'simple', '--no-such-flag']),
      perf(['-m', 'simple', '--streaming']),
      perf(['-m', 'simple', '-u', server.httpUrl, '-p', '100', '-s', '0.001', '--max-trials', '3']),
      perf(['--help']),
      // Output regions too small for the outputs: every request fails on the server.
      perf(['-m', 'simple', '-u', server.httpUrl, '-p', '100', '--shared-memory', 'system', '--output-shared-memory-size', '4']),
    ]);
    assert.equal(unknown.code, 99);
    assert.match(unknown.stderr, /^error: failed to get model metadata: Request for unknown model: 'nope' is not found\n/m);
    assert.equal(unreachable.code, 99);
    assert.match(unreachable.stderr, /^error: failed to get model metadata: /m);
    assert.equal(badRange.code, 3);
    assert.match(badRange.stderr, /failed to parse --concurrency-range: a:b/);
    assert.equal(noModel.code, 3);
    assert.match(noModel.stderr, /-m flag must be specified/);
    assert.equal(unknownFlag.code, 3);
    assert.match(unknownFlag.stderr, /unknown option '--no-such-flag'/);
    assert.equal(streamingHttp.code, 3);
    assert.match(streamingHttp.stderr, /Streaming is only allowed with gRPC protocol\./);
    assert.equal(unstable.code, 2, unstable.stderr);
    assert.match(unstable.stderr, /Failed to obtain stable measurement within 3 measurement windows for concurrency 1\. Please try to increase the --measurement-interval\.\nFailed to obtain stable measurement\.\n$/);
    assert.equal(failing.code, 99);
    assert.match(failing.stderr, /^Thread \[0\] had error: shared memory size specified with the request for output 'OUTPUT0' \(4 bytes\) should be at least 64 bytes to hold the results\nFailed to retrieve results from inference request\.\n$/m);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--concurrency-range <start:end:step>/);
  });
});
