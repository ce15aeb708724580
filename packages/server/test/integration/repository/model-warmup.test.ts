import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeBytesElements } from '@nereid/protocol';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import type { ModelStatistics } from '../../../src/metrics/statistics-types.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { httpCall, keepAliveAgent, replyJson, type HttpReply } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS, FIXTURE_MODELS } from '../../helpers/paths.js';

/** A model folder `name` whose version 1 is a fixture's (linked), with its own config and warm-up files. */
function addModel(repo: string, name: string, from: string, config: string, files: Record<string, Uint8Array> = {}): void {
  const dir = join(repo, name);
  mkdirSync(dir);
  symlinkSync(join(from, '1'), join(dir, '1'));
  writeFileSync(join(dir, 'config.pbtxt'), config);
  for (const [file, data] of Object.entries(files)) {
    mkdirSync(join(dir, 'warmup'), { recursive: true });
    writeFileSync(join(dir, 'warmup', file), data);
  }
}

/** A fixture's config.pbtxt renamed, with `extra` appended. */
function configOf(from: string, fixture: string, name: string, extra: string): string {
  return readFileSync(join(from, fixture, 'config.pbtxt'), 'utf8').replace(`name: "${fixture}"`, `name: "${name}"`) + extra;
}

interface WarmupInputSpec {
  readonly type: string;
  readonly dims: readonly number[];
  /** `zero_data: true`, `random_data: true`, `input_data_file: "..."`, or '' for none. */
  readonly data: string;
}

/** One `model_warmup` entry in config.pbtxt text. */
function sample(name: string, batchSize: number, inputs: Record<string, WarmupInputSpec>, count?: number): string {
  const entries = Object.entries(inputs).map(
    ([key, input]) =>
      `  inputs { key: "${key}" value { data_type: ${input.type} dims: [ ${input.dims.join(', ')} ] ${input.data} } }\n`,
  );
  return `{\n  name: "${name}"\n  batch_size: ${batchSize}\n${count === undefined ? '' : `  count: ${count}\n`}${entries.join('')}}`;
}

function warmup(...samples: string[]): string {
  return `\nmodel_warmup [\n${samples.join(',\n')}\n]\n`;
}

const ZERO = 'zero_data: true';
const RANDOM = 'random_data: true';
const file = (name: string): string => `input_data_file: "${name}"`;

function fp32(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function strings(values: readonly string[]): Uint8Array {
  return encodeBytesElements(values.map((value) => Buffer.from(value)));
}

interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

describe('model warm-up (model_warmup)', () => {
  let repo: string;
  let server: RunningServer;
  let base: string;
  const get = (path: string): Promise<HttpReply> => httpCall(base, 'GET', path);
  const post = (path: string, body?: unknown): Promise<HttpReply> =>
    httpCall(base, 'POST', path, body === undefined ? {} : { body: JSON.stringify(body) });

  async function index(): Promise<Map<string, IndexEntry>> {
    const entries = replyJson(await post('/v2/repository/index', {})) as IndexEntry[];
    return new Map(entries.map((entry) => [entry.name, entry]));
  }

  async function statistics(model: string): Promise<ModelStatistics> {
    const reply = await get(`/v2/models/${model}/stats`);
    assert.equal(reply.status, 200, reply.body.toString());
    return (replyJson(reply) as { model_stats: ModelStatistics[] }).model_stats[0]!;
  }

  async function reasonOf(model: string): Promise<string> {
    const entry = (await index()).get(model);
    assert.equal(entry?.state, 'UNAVAILABLE', `${model}: ${JSON.stringify(entry)}`);
    return entry?.reason ?? '';
  }

  const fp32Input = (dims: readonly number[], data: string): WarmupInputSpec => ({ type: 'TYPE_FP32', dims, data });

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-warmup-'));
    const identity = (name: string, extra: string, files?: Record<string, Uint8Array>) =>
      addModel(repo, name, join(FIXTURE_MODELS, 'identity_fp32'), configOf(FIXTURE_MODELS, 'identity_fp32', name, extra), files);
    // Two instances and a passive one: each active instance runs each sample `count` times.
    identity(
      'warm_zero',
      'instance_group [ { count: 2 kind: KIND_CPU }, { count: 1 kind: KIND_CPU passive: true } ]\n' +
        warmup(sample('zeros', 3, { INPUT0: fp32Input([4], ZERO) }, 2), sample('skipped', 0, { INPUT0: fp32Input([4], ZERO) })),
    );
    identity('warm_random', 'instance_group [ { count: 1 kind: KIND_CPU } ]\n' + warmup(sample('noise', 1, { INPUT0: fp32Input([5], RANDOM) })));
    // runtime_error reshapes INPUT0 to [-1, 3]: 3 elements run, 4 fail inside onnxruntime.
    const runtimeError = (name: string, extra: string, files?: Record<string, Uint8Array>) =>
      addModel(repo, name, join(FIXTURE_MODELS, 'runtime_error'), `name: "${name}"\nplatform: "onnxruntime_onnx"\ninstance_group [ { count: 1 kind: KIND_CPU } ]\n${extra}`, files);
    runtimeError('warm_file', warmup(sample('from file', 2, { INPUT0: fp32Input([3], file('three')) }, 3)), { three: fp32([1, 2, 3, 4]) });
    runtimeError('warm_file_fails', warmup(sample('four', 1, { INPUT0: fp32Input([4], file('four')) })), { four: fp32([1, 2, 3, 4]) });
    // simple_string parses its BYTES inputs as integers: numbers run, anything else fails.
    const simpleString = (name: string, extra: string, files: Record<string, Uint8Array>) =>
      addModel(repo, name, join(EXAMPLE_MODELS, 'simple_string'), configOf(EXAMPLE_MODELS, 'simple_string', name, 'instance_group [ { count: 1 kind: KIND_CPU } ]\n' + extra), files);
    const numbers = strings(Array.from({ length: 16 }, (_, i) => String(i)));
    const words = strings(Array.from({ length: 16 }, (_, i) => `word${i}`));
    const bytesInput = (data: string): WarmupInputSpec => ({ type: 'TYPE_STRING', dims: [16], data });
    simpleString('warm_strings', warmup(sample('numbers', 2, { INPUT0: bytesInput(file('numbers')), INPUT1: bytesInput(file('numbers')) })), { numbers });
    simpleString('warm_strings_fail', warmup(sample('words', 1, { INPUT0: bytesInput(file('numbers')), INPUT1: bytesInput(file('words')) })), { numbers, words });
    simpleString('warm_strings_count', warmup(sample('short', 1, { INPUT0: bytesInput(file('numbers')), INPUT1: bytesInput(file('few')) })), {
      numbers,
      few: strings(['1', '2']),
    });
    server = await startServer({
      modelRepositories: [repo],
      modelControlMode: 'explicit',
      startupModels: ['*'],
      exitOnError: false,
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http!.port}`;
  });

  after(async () => {
    keepAliveAgent.destroy();
    await server?.close();
  });

  it('zero_data: every active instance runs each sample count times before the model is ready; batch_size 0 is skipped', async () => {
    assert.equal((await get('/v2/models/warm_zero/ready')).status, 200);
    const stats = await statistics('warm_zero');
    // 2 active instances x 2 iterations, one execution of 3 one-row requests each.
    assert.equal(stats.execution_count, 4);
    assert.equal(stats.inference_count, 12);
    assert.equal(stats.inference_stats.success.count, 12);
    assert.equal(stats.inference_stats.fail.count, 0);
    assert.deepEqual(stats.batch_stats.map((batch) => [batch.batch_size, batch.compute_infer.count]), [[3, 4]]);
  });

  it('random_data and input_data_file samples run; a file longer than the input uses its first bytes', async () => {
    assert.equal((await statistics('warm_random')).execution_count, 1);
    const stats = await statistics('warm_file');
    assert.equal(stats.execution_count, 3);
    assert.equal(stats.inference_count, 6);
    assert.equal((await get('/v2/models/warm_file/ready')).status, 200);
  });

  it('BYTES input files are length-prefixed elements, as Triton reads them', async () => {
    assert.equal((await statistics('warm_strings')).execution_count, 1);
    assert.equal((await statistics('warm_strings')).inference_count, 2);
  });

  it('a warm-up that fails in the backend fails the load with the reason, in the index', async () => {
    const reason = await reasonOf('warm_file_fails');
    assert.match(reason, /^failed to run warmup sample 'four': onnx runtime error: .*; $/s);
    const words = await reasonOf('warm_strings_fail');
    assert.match(words, /^failed to run warmup sample 'words': onnx runtime error: .*; $/s);
    assert.equal((await get('/v2/models/warm_file_fails/ready')).status, 400);
  });

  it('a BYTES file whose element count does not match the dims fails with the request check', async () => {
    assert.equal(
      await reasonOf('warm_strings_count'),
      "[request id: <id_unknown>] expected 16 string elements for inference input 'INPUT1' for model 'warm_strings_count', got 2",
    );
  });
});
