import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tracer } from '../../../src/observability/tracing/tracer.js';
import { TRACE_LEVEL_TIMESTAMPS } from '../../../src/observability/tracing/trace-setting.js';

/**
 * Traces are collected into 1 MiB chunks, and a chunk is reused once the file has written it: more
 * traces than several chunks hold, written while the server keeps serving, must all come back intact.
 */
test('a trace file spanning many reused chunks holds every trace, intact and in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-trace-chunks-'));
  try {
    const file = join(dir, 'trace.json');
    const errors: string[] = [];
    const tracer = new Tracer({ level: TRACE_LEVEL_TIMESTAMPS, rate: 1, count: -1, logFrequency: 0, file, mode: 'triton', config: new Map() }, (m) => errors.push(m));
    const traces = 12_000; // ~700 bytes each: ~8 MiB, eight chunks and more
    const rootIds: number[] = [];
    for (let i = 0; i < traces; i++) {
      const trace = tracer.start('simple', {})!;
      trace.captureTimestamp('HTTP_RECV_START', 1_000_000 + i);
      trace.root.requestStart('simple', 1n, `req-${i}`, 1_000_001 + i);
      for (const activity of ['QUEUE_START', 'COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END']) {
        trace.root.report(activity, 1_000_002 + i);
      }
      trace.root.requestEnd(1_000_003 + i);
      trace.captureTimestamp('HTTP_SEND_END', 1_000_004 + i);
      rootIds.push(trace.root.id);
      trace.finish();
      // Let the file's writes complete meanwhile, so written chunks are handed back and reused.
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    await tracer.close();
    assert.deepEqual(errors, []);
    const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{ id: number; request_id?: string; timestamps?: Array<{ name: string; ns: number }> }>;
    const headers = entries.filter((entry) => entry.request_id !== undefined);
    assert.equal(headers.length, traces);
    headers.forEach((header, i) => {
      assert.equal(header.request_id, `req-${i}`);
      assert.equal(header.id, rootIds[i]);
    });
    const ends = entries.filter((entry) => entry.timestamps?.[0]?.name === 'REQUEST_END');
    assert.equal(ends.length, traces);
    ends.forEach((end, i) => assert.equal(end.timestamps![0]!.ns, 1_000_003 + i));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
