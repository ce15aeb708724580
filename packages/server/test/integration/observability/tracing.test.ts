import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema, type ModelStreamInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { DEFAULT_TRACE_OPTIONS, type TraceOptions } from '../../../src/observability/tracing/trace-manager.js';
import { TRACE_LEVEL_TIMESTAMPS } from '../../../src/observability/tracing/trace-setting.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { Harness, addModel, simpleConfig } from '../../helpers/model-control-harness.js';

/** One entry of Triton's JSON trace file. */
interface TraceEntry {
  id: number;
  model_name?: string;
  model_version?: number;
  request_id?: string;
  parent_id?: number;
  timestamps?: { name: string; ns: number }[];
  activity?: string;
  tensor?: { name: string; data: string; shape: string; dtype: string };
}

/** A trace's header and its timestamps by name, in file order. */
interface Trace {
  header: TraceEntry | undefined;
  events: { name: string; ns: number }[];
  tensors: TraceEntry[];
}

function groupTraces(entries: readonly TraceEntry[]): Map<number, Trace> {
  const traces = new Map<number, Trace>();
  for (const entry of entries) {
    let trace = traces.get(entry.id);
    if (trace === undefined) traces.set(entry.id, (trace = { header: undefined, events: [], tensors: [] }));
    if (entry.model_name !== undefined) trace.header = entry;
    for (const stamp of entry.timestamps ?? []) trace.events.push(stamp);
    if (entry.tensor !== undefined) trace.tensors.push(entry);
  }
  return traces;
}

const MODEL_EVENTS = ['REQUEST_START', 'QUEUE_START', 'COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END', 'REQUEST_END'];
const HTTP_ORDER = ['HTTP_RECV_START', 'HTTP_RECV_END', ...MODEL_EVENTS, 'INFER_RESPONSE_COMPLETE', 'HTTP_SEND_START', 'HTTP_SEND_END'];
const GRPC_ORDER = ['GRPC_WAITREAD_START', 'GRPC_WAITREAD_END', ...MODEL_EVENTS, 'INFER_RESPONSE_COMPLETE', 'GRPC_SEND_START', 'GRPC_SEND_END'];

/** The trace has exactly these events, in this order in the file and in time. */
function assertOrdered(trace: Trace, names: readonly string[]): void {
  assert.deepEqual(trace.events.map((event) => event.name), names);
  for (let i = 1; i < trace.events.length; i++) {
    assert.ok(trace.events[i]!.ns >= trace.events[i - 1]!.ns, `${trace.events[i]!.name} before ${trace.events[i - 1]!.name}`);
  }
}

function readTraceFile(path: string): TraceEntry[] {
  return JSON.parse(readFileSync(path, 'utf8')) as TraceEntry[];
}

function ensembleOfSimple(repo: string): void {
  mkdirSync(join(repo, 'twice', '1'), { recursive: true });
  const tensor = (name: string): string => `{ name: "${name}" data_type: TYPE_INT32 dims: [ 16 ] }`;
  const step = (inputs: [string, string], outputs: [string, string]): string =>
    `{ model_name: "simple" model_version: -1 input_map { key: "INPUT0" value: "${inputs[0]}" } input_map { key: "INPUT1" value: "${inputs[1]}" } ` +
    `output_map { key: "OUTPUT0" value: "${outputs[0]}" } output_map { key: "OUTPUT1" value: "${outputs[1]}" } }`;
  writeFileSync(
    join(repo, 'twice', 'config.pbtxt'),
    `name: "twice"\nplatform: "ensemble"\nmax_batch_size: 8\ninput [ ${tensor('A')}, ${tensor('B')} ]\n` +
      `output [ ${tensor('TWICE_A')}, ${tensor('TWICE_B')} ]\n` +
      `ensemble_scheduling { step [ ${step(['A', 'B'], ['SUM', 'DIFF'])}, ${step(['SUM', 'DIFF'], ['TWICE_A', 'TWICE_B'])} ] }\n`,
  );
}

const A = Array.from({ length: 16 }, (_, i) => i);
const B = Array.from({ length: 16 }, () => 1);

function inferSimple(harness: Harness, id = ''): Promise<unknown> {
  return postInfer(harness.base, 'simple', {
    ...(id === '' ? {} : { id }),
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B },
    ],
  }).then((reply) => assert.equal(reply.status, 200));
}

function grpcInferSimple(harness: Harness, metadata?: Record<string, string>): Promise<unknown> {
  const raw = (values: number[]): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
  return harness.grpc.call(
    'modelInfer',
    {
      modelName: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
      ],
      rawInputContents: [raw(A), raw(B)],
    },
    metadata,
  );
}

/** One request on ModelStreamInfer, then the stream closes. */
function streamInferSimple(harness: Harness): Promise<void> {
  const raw = (values: number[]): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
  const stream = harness.grpc.stream();
  return new Promise((resolve, reject) => {
    stream.on('data', (message: ModelStreamInferResponse) => {
      if (message.errorMessage !== '') reject(new Error(message.errorMessage));
      stream.end();
    });
    stream.on('error', reject);
    stream.on('end', () => resolve());
    stream.write(
      create(ModelInferRequestSchema, {
        modelName: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
          { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
        ],
        rawInputContents: [raw(A), raw(B)],
      }),
    );
  });
}

function startOptions(repo: string, trace: Partial<TraceOptions>): Parameters<Harness['start']>[0] {
  return { modelRepositories: [repo], trace: { ...DEFAULT_TRACE_OPTIONS, ...trace } };
}

describe("Triton's trace files", () => {
  let repo: string;
  let dir: string;
  before(() => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-trace-repo-'));
    dir = mkdtempSync(join(tmpdir(), 'nereid-trace-'));
    addModel(repo, 'simple', simpleConfig('simple'));
    ensembleOfSimple(repo);
  });
  after(() => {
    keepAliveAgent.destroy();
    rmSync(repo, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds every timestamp of HTTP, gRPC, gRPC stream and ensemble requests, in order, with the steps as children', async () => {
    const file = join(dir, 'all.json');
    const harness = new Harness();
    await harness.start(startOptions(repo, { level: TRACE_LEVEL_TIMESTAMPS, rate: 1, file }));
    await inferSimple(harness, 'req-1');
    await grpcInferSimple(harness);
    await streamInferSimple(harness);
    const reply = await postInfer(harness.base, 'twice', {
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 16], data: A },
        { name: 'B', datatype: 'INT32', shape: [1, 16], data: B },
      ],
    });
    assert.equal(reply.status, 200);
    await harness.stop();

    const traces = groupTraces(readTraceFile(file));
    const roots = [...traces.entries()].filter(([, trace]) => trace.header?.parent_id === undefined);
    assert.equal(roots.length, 4);
    const [http, grpc, stream, ensemble] = roots.map(([, trace]) => trace) as [Trace, Trace, Trace, Trace];
    const ensembleId = roots[3]![0];
    assert.deepEqual(http.header, { id: http.header!.id, model_name: 'simple', model_version: 1, request_id: 'req-1' });
    assertOrdered(http, HTTP_ORDER);
    assertOrdered(grpc, GRPC_ORDER);
    assertOrdered(stream, GRPC_ORDER);
    // The ensemble has no compute of its own; each step is a child trace with the member's timestamps.
    assert.equal(ensemble.header!.model_name, 'twice');
    assertOrdered(ensemble, ['HTTP_RECV_START', 'HTTP_RECV_END', 'REQUEST_START', 'QUEUE_START', 'REQUEST_END', 'INFER_RESPONSE_COMPLETE', 'HTTP_SEND_START', 'HTTP_SEND_END']);
    const children = [...traces.values()].filter((trace) => trace.header?.parent_id === ensembleId);
    assert.equal(children.length, 2);
    const requestStart = (trace: Trace): number => trace.events.find((event) => event.name === 'REQUEST_START')!.ns;
    const requestEnd = (trace: Trace): number => trace.events.find((event) => event.name === 'REQUEST_END')!.ns;
    for (const child of children) {
      assert.equal(child.header!.model_name, 'simple');
      assertOrdered(child, MODEL_EVENTS);
      assert.ok(requestStart(child) >= requestStart(ensemble) && requestEnd(child) <= requestEnd(ensemble), 'a step runs within its ensemble');
    }
    assert.ok(requestEnd(children[0]!) <= requestStart(children[1]!), 'the second step waits for the first');
  });

  it('log_frequency writes indexed files every N traces; trace_rate samples one in N; trace_count stops after N', async () => {
    const file = join(dir, 'indexed.json');
    const harness = new Harness();
    await harness.start(startOptions(repo, { file }));
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const reply = await httpCall(harness.base, 'POST', path, { body: JSON.stringify(body) });
      assert.equal(reply.status, 200, reply.body.toString());
      return replyJson(reply) as Record<string, unknown>;
    };
    try {
      // Tracing is off: nothing is written.
      await inferSimple(harness);
      await post('/v2/trace/setting', { trace_level: ['TIMESTAMPS'], trace_rate: '1', log_frequency: '2' });
      for (let i = 0; i < 4; i++) await inferSimple(harness);
      assert.equal(groupTraces(readTraceFile(`${file}.0`)).size, 2);
      assert.equal(groupTraces(readTraceFile(`${file}.1`)).size, 2);
      assert.ok(!existsSync(`${file}.2`));
      // One in three.
      await post('/v2/trace/setting', { trace_rate: '3' });
      for (let i = 0; i < 6; i++) await inferSimple(harness);
      assert.equal(groupTraces(readTraceFile(`${file}.2`)).size, 2);
      // A count: the traces taken are written (indexed) as soon as the count is used up, then no more.
      const counted = await post('/v2/trace/setting', { trace_rate: '1', trace_count: '3', log_frequency: '0' });
      assert.equal(counted['trace_count'], '3');
      for (let i = 0; i < 5; i++) await inferSimple(harness);
      assert.equal(groupTraces(readTraceFile(`${file}.3`)).size, 3);
      const spent = replyJson(await httpCall(harness.base, 'GET', '/v2/trace/setting')) as Record<string, unknown>;
      assert.equal(spent['trace_count'], '0');
      assert.ok(!existsSync(`${file}.4`));
      // A model setting of its own: only that model's requests are sampled under it.
      await post('/v2/trace/setting', { trace_level: ['OFF'], trace_count: null });
      await post('/v2/models/simple/trace/setting', { trace_level: ['TIMESTAMPS'], log_frequency: '1' });
      await inferSimple(harness);
      const [only] = groupTraces(readTraceFile(`${file}.4`)).values();
      assert.equal(only?.header?.model_name, 'simple');
      await inferSimple(harness, 'after');
      await postInfer(harness.base, 'twice', { inputs: [] });
      assert.ok(existsSync(`${file}.5`) && !existsSync(`${file}.6`), 'the ensemble, under the global setting, is not traced');
    } finally {
      await harness.stop();
    }
  });

  it('TENSORS adds the inputs as queued and the outputs as the backend made them', async () => {
    const file = join(dir, 'tensors.json');
    const harness = new Harness();
    await harness.start(startOptions(repo, { file, level: TRACE_LEVEL_TIMESTAMPS | 0x8, rate: 1, logFrequency: 1 }));
    try {
      await inferSimple(harness);
      const entries = readTraceFile(`${file}.0`);
      const tensors = entries.filter((entry) => entry.tensor !== undefined).map((entry) => [entry.activity, entry.tensor!.name, entry.tensor]);
      const data = (values: number[]): string => values.join(',');
      assert.deepEqual(tensors, [
        ['TENSOR_QUEUE_INPUT', 'INPUT0', { name: 'INPUT0', data: data(A), shape: '1,16', dtype: 'INT32' }],
        ['TENSOR_QUEUE_INPUT', 'INPUT1', { name: 'INPUT1', data: data(B), shape: '1,16', dtype: 'INT32' }],
        ['TENSOR_BACKEND_OUTPUT', 'OUTPUT0', { name: 'OUTPUT0', data: data(A.map((x) => x + 1)), shape: '1,16', dtype: 'INT32' }],
        ['TENSOR_BACKEND_OUTPUT', 'OUTPUT1', { name: 'OUTPUT1', data: data(A.map((x) => x - 1)), shape: '1,16', dtype: 'INT32' }],
      ]);
      assert.equal(groupTraces(entries).size, 1);
    } finally {
      await harness.stop();
    }
  });
});

describe('a traced HTTP request whose client leaves before the response', () => {
  it('is still written, its response timestamps taken when the server gave up sending', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'nereid-trace-gone-'));
    const file = join(repo, 'gone.json');
    // A model slower than the client's patience.
    mkdirSync(join(repo, 'slow', '1'), { recursive: true });
    writeFileSync(
      join(repo, 'slow', '1', 'model.js'),
      'export async function execute(requests) {\n' +
        '  await new Promise((resolve) => setTimeout(resolve, 300));\n' +
        "  return requests.map((request) => ({ outputs: [{ name: 'OUTPUT0', shape: request.inputs[0].shape, data: request.inputs[0].data }] }));\n}\n",
    );
    writeFileSync(
      join(repo, 'slow', 'config.pbtxt'),
      'backend: "javascript"\nmax_batch_size: 0\ninput [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 2 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 2 ] } ]\n',
    );
    addModel(repo, 'simple', simpleConfig('simple'));
    const harness = new Harness();
    await harness.start(startOptions(repo, { file, level: TRACE_LEVEL_TIMESTAMPS, rate: 1, logFrequency: 1 }));
    try {
      const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], data: [1, 2] }] });
      const { port } = new URL(harness.base);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      // Written once finished (log_frequency 1): the trace must not wait forever for a response that cannot leave.
      const deadline = Date.now() + 5_000;
      while (!existsSync(`${file}.0`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.ok(existsSync(`${file}.0`), 'the trace of the abandoned request was never written');
      const [trace] = groupTraces(readTraceFile(`${file}.0`)).values();
      assert.equal(trace?.header?.model_name, 'slow');
      assert.deepEqual(trace?.events.map((event) => event.name).slice(-4), ['REQUEST_END', 'INFER_RESPONSE_COMPLETE', 'HTTP_SEND_START', 'HTTP_SEND_END']);
      // The server goes on serving (and tracing).
      await inferSimple(harness);
      assert.ok(existsSync(`${file}.1`));
    } finally {
      await harness.stop();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('the trace file agrees with the statistics', () => {
  it('every traced request of a workload (direct, concurrent, through an ensemble, refused) matches the statistics', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'nereid-trace-stats-'));
    const dir = mkdtempSync(join(tmpdir(), 'nereid-trace-stats-file-'));
    addModel(repo, 'simple', simpleConfig('simple'));
    ensembleOfSimple(repo);
    const file = join(dir, 'workload.json');
    const harness = new Harness();
    await harness.start(startOptions(repo, { level: TRACE_LEVEL_TIMESTAMPS, rate: 1, file }));
    let stats: { inference_stats: Record<string, { count: number; ns: number }> };
    try {
      for (let i = 0; i < 3; i++) await inferSimple(harness);
      await Promise.all(Array.from({ length: 6 }, () => inferSimple(harness)));
      const twice = { inputs: [{ name: 'A', datatype: 'INT32', shape: [1, 16], data: A }, { name: 'B', datatype: 'INT32', shape: [1, 16], data: B }] };
      assert.equal((await postInfer(harness.base, 'twice', twice)).status, 200);
      // Refused before entering the model: traced up to REQUEST_END, not counted in the statistics.
      const refused = await postInfer(harness.base, 'simple', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A }] });
      assert.equal(refused.status, 400);
      const reply = await httpCall(harness.base, 'GET', '/v2/models/simple/stats');
      stats = (replyJson(reply) as { model_stats: (typeof stats)[] }).model_stats[0]!;
    } finally {
      await harness.stop();
      keepAliveAgent.destroy();
    }
    const simpleTraces = [...groupTraces(readTraceFile(file)).values()].filter((trace) => trace.header?.model_name === 'simple');
    const at = (trace: Trace, name: string): number | undefined => trace.events.find((event) => event.name === name)?.ns;
    const computed = simpleTraces.filter((trace) => at(trace, 'COMPUTE_END') !== undefined);
    // 3 + 6 direct, 2 ensemble steps; the refused one has no compute.
    assert.equal(simpleTraces.length, 12);
    assert.equal(computed.length, 11);
    assert.equal(stats.inference_stats['success']!.count, computed.length);
    const sum = (from: string, to: string): number => computed.reduce((total, trace) => total + at(trace, to)! - at(trace, from)!, 0);
    assert.equal(sum('QUEUE_START', 'COMPUTE_START'), stats.inference_stats['queue']!.ns, 'queue time');
    assert.equal(sum('COMPUTE_START', 'COMPUTE_INPUT_END'), stats.inference_stats['compute_input']!.ns, 'compute input');
    assert.equal(sum('COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START'), stats.inference_stats['compute_infer']!.ns, 'compute infer');
    assert.equal(sum('COMPUTE_OUTPUT_START', 'COMPUTE_END'), stats.inference_stats['compute_output']!.ns, 'compute output');
    rmSync(repo, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
});
