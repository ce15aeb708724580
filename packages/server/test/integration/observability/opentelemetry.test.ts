import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TRACE_OPTIONS } from '../../../src/observability/tracing/trace-manager.js';
import { TRACE_LEVEL_TIMESTAMPS } from '../../../src/observability/tracing/trace-setting.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { Harness, addModel, simpleConfig } from '../../helpers/model-control-harness.js';

/** OTLP/HTTP JSON as the collector receives it (the parts the test reads). */
interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
  events: { name: string; timeUnixNano: string }[];
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

/** A local OTLP/HTTP endpoint: keeps every JSON export posted to /v1/traces. */
function startCollector(): Promise<{ server: Server; url: string; exports: OtlpExport[] }> {
  const exports: OtlpExport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json')) {
        exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      } else {
        res.writeHead(415).end();
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/v1/traces`, exports });
    });
  });
}

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c12666c';
const CLIENT_SPAN = 'b7ad6b7169242424';
const A = Array.from({ length: 16 }, (_, i) => i);

describe('OpenTelemetry mode exports spans to an OTLP/HTTP collector', () => {
  let repo: string;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const harness = new Harness();
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-otel-repo-'));
    addModel(repo, 'simple', simpleConfig('simple'));
    collector = await startCollector();
    await harness.start({
      modelRepositories: [repo],
      trace: {
        ...DEFAULT_TRACE_OPTIONS,
        mode: 'opentelemetry',
        level: TRACE_LEVEL_TIMESTAMPS,
        // One in 1000: only the requests that carry a trace context are traced.
        rate: 1000,
        config: new Map([
          ['opentelemetry', [['url', collector.url], ['resource', 'test.key=test.value'], ['resource', 'service.name=test_triton'], ['bsp_schedule_delay', '20']]],
        ]),
      },
    });
  });
  after(async () => {
    keepAliveAgent.destroy();
    collector.server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("continues the client's W3C trace over HTTP and gRPC, with Triton's spans, events and attributes", async () => {
    const settings = replyJson(await httpCall(harness.base, 'GET', '/v2/trace/setting')) as Record<string, unknown>;
    assert.equal(settings['trace_mode'], 'opentelemetry');
    assert.equal(settings['url'], collector.url);
    assert.ok(!('trace_file' in settings) && !('log_frequency' in settings), 'Triton reports no file in this mode');
    const inputs = [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: A },
    ];
    const traceparent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
    assert.equal((await postInfer(harness.base, 'simple', { id: 'otel-1', inputs }, { headers: { traceparent } })).status, 200);
    // Not sampled (rate 1000) and no context: no spans.
    assert.equal((await postInfer(harness.base, 'simple', { inputs })).status, 200);
    const raw = (values: number[]): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
    await harness.grpc.call(
      'modelInfer',
      { modelName: 'simple', inputs: inputs.map((input) => ({ name: input.name, datatype: 'INT32', shape: [1n, 16n] })), rawInputContents: [raw(A), raw(A)] },
      { traceparent: `00-${CLIENT_TRACE}-${'c'.repeat(16)}-01` },
    );
    // Stopping flushes the batch span processor.
    await harness.stop();

    const resources = collector.exports.flatMap((e) => e.resourceSpans);
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    assert.ok(resources.every((r) => r.scopeSpans.every((s) => s.scope.name === 'triton-server')));
    const attributes = Object.fromEntries(resources[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    assert.equal(attributes['service.name'], 'test_triton');
    assert.equal(attributes['test.key'], 'test.value');
    assert.equal(spans.length, 6, spans.map((s) => s.name).join());
    assert.ok(spans.every((span) => span.traceId === CLIENT_TRACE && span.kind === 2), 'server spans in the client trace');

    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const roots = spans.filter((span) => span.name === 'InferRequest');
    assert.deepEqual(roots.map((span) => span.parentSpanId).sort(), [CLIENT_SPAN, 'c'.repeat(16)].sort());
    const events = (span: OtlpSpan): string[] => span.events.map((event) => event.name);
    const http = roots.find((span) => span.parentSpanId === CLIENT_SPAN)!;
    const grpc = roots.find((span) => span.parentSpanId !== CLIENT_SPAN)!;
    assert.deepEqual(events(http), ['HTTP_RECV_START', 'HTTP_RECV_END', 'INFER_RESPONSE_COMPLETE', 'HTTP_SEND_START', 'HTTP_SEND_END']);
    assert.deepEqual(events(grpc), ['GRPC_WAITREAD_START', 'GRPC_WAITREAD_END', 'INFER_RESPONSE_COMPLETE', 'GRPC_SEND_START', 'GRPC_SEND_END']);
    for (const root of [http, grpc]) {
      const model = spans.find((span) => span.parentSpanId === root.spanId)!;
      assert.equal(model.name, 'simple');
      assert.deepEqual(events(model), ['REQUEST_START', 'QUEUE_START', 'REQUEST_END']);
      const modelAttributes = Object.fromEntries(model.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));
      assert.equal(modelAttributes['triton.model_name'], 'simple');
      assert.equal(modelAttributes['triton.model_version'], 1);
      assert.equal(modelAttributes['triton.trace_parent_id'], 0);
      assert.equal(typeof modelAttributes['triton.trace_id'], 'number');
      const compute = spans.find((span) => span.parentSpanId === model.spanId)!;
      assert.equal(compute.name, 'compute');
      assert.deepEqual(events(compute), ['COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END']);
      // Spans nest in time: root ⊇ model ⊇ compute.
      const t = (value: string): bigint => BigInt(value);
      assert.ok(t(root.startTimeUnixNano) <= t(model.startTimeUnixNano) && t(model.endTimeUnixNano) <= t(root.endTimeUnixNano));
      assert.ok(t(model.startTimeUnixNano) <= t(compute.startTimeUnixNano) && t(compute.endTimeUnixNano) <= t(model.endTimeUnixNano));
      assert.ok(byId.has(model.spanId));
    }
    const httpModel = spans.find((span) => span.parentSpanId === http.spanId)!;
    assert.deepEqual(
      httpModel.attributes.find((a) => a.key === 'triton.request_id')?.value,
      { stringValue: 'otel-1' },
    );
  });
});
