import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { createLogger, type LogSettings } from '../../../src/observability/logger.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { Harness, addModel, simpleConfig } from '../../helpers/model-control-harness.js';

function recording(settings: Partial<LogSettings> = {}) {
  const lines: { level: string; line: string }[] = [];
  const logger = createLogger(
    { info: true, warning: true, error: true, verboseLevel: 0, format: 'default', ...settings },
    { write: (level, line) => lines.push({ level, line }) },
  );
  return { logger, lines };
}

test("Triton's default and ISO8601 line shapes; info to stdout's writer, warnings and errors to stderr's", () => {
  const { logger, lines } = recording();
  logger.info('hello');
  logger.warn('careful');
  logger.error('broken');
  assert.match(lines[0]!.line, new RegExp(`^I\\d{4} \\d{2}:\\d{2}:\\d{2}\\.\\d{6} ${process.pid} nereid\\] hello\\n$`));
  assert.deepEqual(lines.map((line) => line.level), ['I', 'W', 'E']);
  logger.settings.format = 'ISO8601';
  logger.info('iso');
  assert.match(lines[3]!.line, new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z I ${process.pid} nereid\\] iso\\n$`));
});

test('json lines through pino carry level, time, pid and message; verbose lines their level', () => {
  const { logger, lines } = recording({ format: 'json', verboseLevel: 2 });
  logger.warn('careful "quoted"');
  logger.verbose(2, 'detail');
  logger.verbose(3, 'hidden');
  assert.equal(lines.length, 2);
  const warn = JSON.parse(lines[0]!.line) as Record<string, unknown>;
  assert.equal(warn['level'], 'warn');
  assert.equal(warn['msg'], 'careful "quoted"');
  assert.equal(warn['pid'], process.pid);
  assert.match(String(warn['time']), /^\d{4}-\d{2}-\d{2}T/);
  assert.equal(lines[0]!.level, 'W');
  const verbose = JSON.parse(lines[1]!.line) as Record<string, unknown>;
  assert.deepEqual([verbose['level'], verbose['verbose'], verbose['msg']], ['info', 2, 'detail']);
});

test('--log-file appends every level to the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-logfile-'));
  const file = join(dir, 'server.log');
  const logger = createLogger({ info: true, warning: true, error: true, verboseLevel: 0, format: 'default' }, { file });
  logger.info('one');
  logger.error('two');
  logger.close();
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^I.* nereid\] one\nE.* nereid\] two\n$/);
  assert.equal(logger.file, file);
  rmSync(dir, { recursive: true, force: true });
});

describe('the logging extension and the request log over sockets', () => {
  const harness = new Harness();
  let repo: string;
  let logDir: string;
  let requestLog: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-logging-repo-'));
    logDir = mkdtempSync(join(tmpdir(), 'nereid-logging-'));
    requestLog = join(logDir, 'requests.jsonl');
    addModel(repo, 'simple', simpleConfig('simple'));
    await harness.start({ modelRepositories: [repo], requestLog, requestLogPayloadBytes: 8 });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
  });

  it('log_format changes at run time; a bad one is refused with Triton\'s text', async () => {
    const set = (body: unknown) => httpCall(harness.base, 'POST', '/v2/logging', { body: JSON.stringify(body) });
    assert.equal((replyJson(await set({ log_format: 'ISO8601' })) as Record<string, unknown>)['log_format'], 'ISO8601');
    const bad = await set({ log_format: 'xml' });
    assert.equal(bad.status, 503);
    assert.deepEqual(replyJson(bad), { error: 'invalid argument for --log_format, got: xml' });
    const settings = await harness.grpc.call('logSettings', { settings: {} });
    assert.equal(settings.settings['log_format']?.parameterChoice.value, 'ISO8601');
    assert.equal((replyJson(await set({ log_format: 'default' })) as Record<string, unknown>)['log_format'], 'default');
  });

  async function logLines(count: number): Promise<Record<string, unknown>[]> {
    // The log is buffered; it reaches the file at the latest when the server stops, or when full.
    for (let i = 0; i < 100; i++) {
      const text = (() => {
        try {
          return readFileSync(requestLog, 'utf8');
        } catch {
          return '';
        }
      })();
      const lines = text.split('\n').filter((line) => line !== '');
      if (lines.length >= count) return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      await sleep(20);
    }
    throw new Error(`fewer than ${count} request log lines`);
  }

  it('one line per request over HTTP and gRPC, with ids made, kept or taken from X-Request-Id', async () => {
    const plain = await harness.inferSimple('simple');
    assert.equal(plain.status, 200);
    const madeId = plain.headers['x-request-id'];
    assert.match(String(madeId), /^[0-9a-f-]{36}$/);
    assert.equal(plain.json['id'], madeId, 'the response id carries the new id');

    const withHeader = await postInfer(
      harness.base,
      'simple',
      {
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(2) },
        ],
      },
      { headers: { 'X-Request-Id': 'from-header' } },
    );
    assert.equal(withHeader.headers['x-request-id'], 'from-header');
    assert.equal(withHeader.json['id'], 'from-header');

    const failed = await postInfer(harness.base, 'simple', { id: 'client-id', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }] });
    assert.equal(failed.status, 400);
    assert.equal(failed.headers['x-request-id'], 'client-id');

    const grpc = await harness.grpc.call(
      'modelInfer',
      create(ModelInferRequestSchema, {
        modelName: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: new Array(16).fill(3) } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: new Array(16).fill(4) } },
        ],
      }),
    );
    assert.match(grpc.id, /^[0-9a-f-]{36}$/);

    // Flushed at stop at the latest: stop this server's log by reading after the buffer fills or the test ends.
    await harness.server.core.requestLog!.close();
    const lines = await logLines(4);
    const [first, second, third, fourth] = lines;
    assert.deepEqual(
      { ...first, time: undefined, duration_us: undefined, queue_us: undefined, compute_us: undefined },
      {
        level: 30,
        time: undefined,
        request_id: madeId,
        id_generated: true,
        model: 'simple',
        version: '1',
        protocol: 'http',
        status: 200,
        duration_us: undefined,
        queue_us: undefined,
        compute_us: undefined,
        batch_size: 1,
        bytes_in: first!['bytes_in'],
        bytes_out: first!['bytes_out'],
        inputs: { INPUT0: Buffer.from(new Int32Array([0, 1]).buffer).toString('base64'), INPUT1: Buffer.from(new Int32Array([1, 1]).buffer).toString('base64') },
        outputs: { OUTPUT0: Buffer.from(new Int32Array([1, 2]).buffer).toString('base64'), OUTPUT1: Buffer.from(new Int32Array([-1, 0]).buffer).toString('base64') },
      },
    );
    assert.ok((first!['bytes_in'] as number) > 100 && (first!['bytes_out'] as number) > 100);
    assert.ok(typeof first!['compute_us'] === 'number' && typeof first!['queue_us'] === 'number');
    assert.equal(second!['request_id'], 'from-header');
    assert.equal(second!['id_generated'], false);
    assert.equal(third!['request_id'], 'client-id');
    assert.equal(third!['status'], 400);
    assert.match(String(third!['error']), /expected 2 inputs but got 1 inputs for model 'simple'/);
    assert.equal(fourth!['protocol'], 'grpc');
    assert.equal(fourth!['status'], 0);
    assert.equal(fourth!['request_id'], grpc.id);
    assert.equal(fourth!['bytes_in'], 128);
  });
});
