import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeBytesElements } from '@nereid/protocol';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import type { ModelStatistics } from '../../../src/metrics/statistics-types.js';
import { createLogger } from '../../../src/observability/logger.js';
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

/** Models whose model_warmup is refused at load, each named for what is wrong with it. */
function addInvalidModels(repo: string): void {
  const simple = (name: string, inputs: Record<string, WarmupInputSpec>) =>
    addModel(repo, name, join(EXAMPLE_MODELS, 'simple'), configOf(EXAMPLE_MODELS, 'simple', name, warmup(sample('s', 1, inputs))));
  const int32 = (dims: readonly number[], data = ZERO): WarmupInputSpec => ({ type: 'TYPE_INT32', dims, data });
  simple('bad_missing_input', { INPUT0: int32([16]) });
  simple('bad_datatype', { INPUT0: { type: 'TYPE_FP32', dims: [16], data: ZERO }, INPUT1: int32([16]) });
  simple('bad_dims', { INPUT0: int32([8]), INPUT1: int32([16]) });
  simple('bad_no_data', { INPUT0: int32([16], ''), INPUT1: int32([16]) });
  simple('bad_unknown_input', { INPUT0: int32([16]), INPUT1: int32([16]), BOGUS: int32([16]) });
  const identity = (name: string, text: string, files?: Record<string, Uint8Array>) =>
    addModel(repo, name, join(FIXTURE_MODELS, 'identity_fp32'), configOf(FIXTURE_MODELS, 'identity_fp32', name, text), files);
  const input = (dims: readonly number[], data: string): Record<string, WarmupInputSpec> => ({ INPUT0: { type: 'TYPE_FP32', dims, data } });
  identity('bad_wildcard', warmup(sample('s', 1, input([-1], ZERO))));
  identity('bad_dim', warmup(sample('s', 1, input([-2], ZERO))));
  identity('bad_batch_size', warmup(sample('big', 9, input([2], ZERO))));
  identity('bad_short_file', warmup(sample('s', 1, input([4], file('short')))), { short: fp32([1, 2]) });
  identity('bad_no_file', warmup(sample('s', 1, input([4], file('absent')))));
  identity('bad_escape', warmup(sample('s', 1, input([4], file('../config.pbtxt')))));
  identity('bad_link', warmup(sample('s', 1, input([4], file('link')))), { other: fp32([1, 2, 3, 4]) });
  symlinkSync(join(repo, 'bad_short_file', 'warmup', 'short'), join(repo, 'bad_link', 'warmup', 'link'));
  // A model that does not batch takes one request a run.
  addModel(
    repo,
    'bad_batch_unbatched',
    join(FIXTURE_MODELS, 'fixed_batch_dim'),
    'name: "bad_batch_unbatched"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\n' + warmup(sample('pair', 2, input([2, 3], ZERO))),
  );
}

describe('model warm-up (model_warmup)', () => {
  let repo: string;
  let server: RunningServer;
  let base: string;
  /** What the server logged at --log-verbose=1 (warnings and errors off). */
  const logged: string[] = [];
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
    // Sequence models are warmed without the sequence batcher: control and state tensors are named
    // in the sample and reach the backend as given (Triton's override inputs).
    const int32 = (data: string): WarmupInputSpec => ({ type: 'TYPE_INT32', dims: [1], data });
    addModel(
      repo,
      'warm_sequence',
      join(FIXTURE_MODELS, 'sequence_accumulator'),
      configOf(FIXTURE_MODELS, 'sequence_accumulator', 'warm_sequence', warmup(
        sample('sequence sample', 2, {
          INPUT: int32(ZERO), START: int32(ZERO), END: int32(ZERO), READY: int32(ZERO),
          CORRID: { type: 'TYPE_UINT64', dims: [1], data: ZERO }, STATE_IN: int32(RANDOM),
        }, 2),
      )),
    );
    addInvalidModels(repo);
    server = await startServer({
      modelRepositories: [repo],
      modelControlMode: 'explicit',
      startupModels: ['*'],
      exitOnError: false,
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: createLogger({ info: false, warning: false, error: false, verboseLevel: 1, format: 'default' }, { write: (_level, line) => logged.push(line) }),
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

  it("logs Triton's warm-up lines at --log-verbose=1 (Triton's L0_warmup greps them)", () => {
    const lines = logged.filter((line) => line.includes("warmup sample 'zeros'"));
    const running = lines.filter((line) => / model 'warm_zero' instance \S+ is running warmup sample 'zeros' for iteration [12]$/.test(line.trimEnd()));
    assert.equal(running.length, 4, lines.join(''));
    assert.ok(logged.some((line) => line.trimEnd().endsWith("Generating warmup sample data for 'zeros'")));
    assert.ok(logged.some((line) => line.trimEnd().endsWith("Skipping batch 0 warmup sample 'skipped'")));
    assert.ok(!logged.some((line) => line.includes("failed to run warmup sample 'zeros'")));
    assert.ok(logged.some((line) => /instance \S+ failed to run warmup sample 'four'/.test(line)));
  });

  it('random_data and input_data_file samples run; a file longer than the input uses its first bytes', async () => {
    assert.equal((await statistics('warm_random')).execution_count, 1);
    const stats = await statistics('warm_file');
    assert.equal(stats.execution_count, 3);
    assert.equal(stats.inference_count, 6);
    assert.equal((await get('/v2/models/warm_file/ready')).status, 200);
  });

  it('a config override in the load API brings its own model_warmup (JSON)', async () => {
    const config = {
      name: 'warm_random',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [-1] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [-1] }],
      instance_group: [{ count: 1, kind: 'KIND_CPU' }],
      model_warmup: [{ name: 'json', batch_size: 2, count: 3, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [2], zero_data: true } } }],
    };
    const reply = await post('/v2/repository/models/warm_random/load', { parameters: { config: JSON.stringify(config) } });
    assert.equal(reply.status, 200, reply.body.toString());
    const stats = await statistics('warm_random');
    assert.deepEqual([stats.execution_count, stats.inference_count], [3, 6]);
    const served = replyJson(await get('/v2/models/warm_random/config')) as { model_warmup: unknown[] };
    assert.deepEqual(served.model_warmup, [
      { name: 'json', batch_size: 2, count: 3, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [2], zero_data: true } } },
    ]);
  });

  it('an instance-group-only change applied in place warms the new instances before they serve', async () => {
    const config = (count: number) =>
      JSON.stringify({
        name: 'warm_in_place',
        platform: 'onnxruntime_onnx',
        max_batch_size: 8,
        input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [-1] }],
        output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [-1] }],
        instance_group: [{ count, kind: 'KIND_CPU' }],
        model_warmup: [{ name: 'twice', batch_size: 1, count: 2, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [2], zero_data: true } } }],
      });
    addModel(repo, 'warm_in_place', join(FIXTURE_MODELS, 'identity_fp32'), configOf(FIXTURE_MODELS, 'identity_fp32', 'warm_in_place', ''));
    assert.equal((await post('/v2/repository/models/warm_in_place/load', { parameters: { config: config(1) } })).status, 200);
    assert.equal((await statistics('warm_in_place')).execution_count, 2);
    assert.equal((await post('/v2/repository/models/warm_in_place/load', { parameters: { config: config(3) } })).status, 200);
    // The statistics are kept across an in-place change: 2 before, then 3 new instances x 2 runs.
    assert.equal((await statistics('warm_in_place')).execution_count, 8);
  });

  it('BYTES input files are length-prefixed elements, as Triton reads them', async () => {
    assert.equal((await statistics('warm_strings')).execution_count, 1);
    assert.equal((await statistics('warm_strings')).inference_count, 2);
  });

  it('a warm-up that fails in the backend fails the load with the reason, in the index', async () => {
    const reason = await reasonOf('warm_file_fails');
    assert.match(reason, /^failed to run warmup sample 'four': onnx runtime error(?: \d+)?: .*; $/s);
    const words = await reasonOf('warm_strings_fail');
    assert.match(words, /^failed to run warmup sample 'words': onnx runtime error(?: \d+)?: .*; $/s);
    assert.equal((await get('/v2/models/warm_file_fails/ready')).status, 400);
  });

  it('a BYTES file whose element count does not match the dims fails with the request check', async () => {
    assert.equal(
      await reasonOf('warm_strings_count'),
      "[request id: <id_unknown>] expected 16 string elements for inference input 'INPUT1' for model 'warm_strings_count', got 2",
    );
  });

  it('sequence models: control and state tensors named in the sample reach the backend', async () => {
    const stats = await statistics('warm_sequence');
    assert.equal(stats.execution_count, 2);
    assert.equal(stats.inference_count, 4);
  });

  it("refuses invalid samples at load with Triton's messages", async () => {
    const dir = (name: string) => join(repo, name);
    const expected: Record<string, string | RegExp> = {
      bad_missing_input:
        "[request id: <id_unknown>] expected 2 inputs but got 1 inputs for model 'bad_missing_input'. Got input(s) ['INPUT0'], " +
        "but missing required input(s) ['INPUT1']. Please provide all required input(s).",
      bad_datatype: "[request id: <id_unknown>] inference input 'INPUT0' data-type is 'FP32', but model 'bad_datatype' expects 'INT32'",
      bad_dims: /^\[request id: <id_unknown>\] unexpected shape for input 'INPUT0' for model 'bad_dims'\. Expected \[-1,16\], got \[1,8\]\. NOTE:/,
      bad_no_data: "[request id: <id_unknown>] warmup setting expects input 'INPUT0' to have input_data_type set",
      bad_unknown_input: /^failed to run warmup sample 's': onnx runtime error(?: \d+)?: .*BOGUS.*; $/s,
      bad_wildcard: "warmup setting expects all variable-size dimensions are specified for input 'INPUT0'",
      bad_dim: "tensor 'INPUT0' contains an invalid dimension [-2]",
      bad_batch_size: `failed to run warmup sample 'big': ${"batch size 9 for 'bad_batch_size', max allowed is 8; ".repeat(9)}`,
      bad_batch_unbatched: `failed to run warmup sample 'pair': ${"batch size 2 for 'bad_batch_unbatched', max allowed is 0; ".repeat(2)}`,
      bad_short_file: '[request id: <id_unknown>] warmup setting expects 16 bytes, but the data provided from shortonly has 8 bytes',
      bad_no_file: `failed to open text file for read ${join(dir('bad_no_file'), 'warmup', 'absent')}: No such file or directory`,
      bad_escape: "warmup input_data_file '../config.pbtxt' must name a file inside the model's 'warmup/' folder",
      bad_link: /^warmup input_data_file '.*bad_link\/warmup\/link' is outside the model folder/,
    };
    for (const [model, reason] of Object.entries(expected)) {
      const actual = await reasonOf(model);
      if (typeof reason === 'string') assert.equal(actual, reason, model);
      else assert.match(actual, reason, model);
    }
  });

  it('over the load API: ready only once warm-up ran; a failing warm-up fails the load with its reason', async () => {
    const slow = (extra: string) =>
      configOf(FIXTURE_MODELS, 'slow_identity', 'slow_warm', 'instance_group [ { count: 1 kind: KIND_CPU } ]\n' + extra);
    // Each run of slow_identity takes ~20 ms: six iterations keep the load busy long enough to watch.
    addModel(repo, 'slow_warm', join(FIXTURE_MODELS, 'slow_identity'), slow(warmup(sample('slow', 1, { INPUT0: fp32Input([4], ZERO) }, 6))));
    let settled = false;
    const loading = post('/v2/repository/models/slow_warm/load').finally(() => (settled = true));
    let polls = 0;
    while (!settled) {
      const state = (await index()).get('slow_warm')?.state;
      if (state === 'READY' || (await get('/v2/models/slow_warm/ready')).status === 200) {
        // Ready (the load answer may still be on its way): every warm-up run has happened.
        assert.equal((await statistics('slow_warm')).execution_count, 6);
        break;
      }
      polls++;
    }
    assert.equal((await loading).status, 200);
    assert.ok(polls > 0, 'the load was watched while it ran');
    assert.equal((await get('/v2/models/slow_warm/ready')).status, 200);
    assert.equal((await statistics('slow_warm')).execution_count, 6);

    // A reload whose second sample fails in the backend: the loaded version serves throughout.
    writeFileSync(
      join(repo, 'slow_warm', 'config.pbtxt'),
      slow(warmup(sample('fine', 1, { INPUT0: fp32Input([4], ZERO) }, 3), sample('bogus', 1, { INPUT0: fp32Input([4], ZERO), BOGUS: fp32Input([4], ZERO) }))),
    );
    settled = false;
    const reloading = post('/v2/repository/models/slow_warm/load').finally(() => (settled = true));
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    let served = 0;
    while (!settled) {
      const reply = await httpCall(base, 'POST', '/v2/models/slow_warm/infer', { body });
      assert.equal(reply.status, 200, reply.body.toString());
      served++;
    }
    const answer = await reloading;
    assert.equal(answer.status, 400);
    assert.match((replyJson(answer) as { error: string }).error, /failed to run warmup sample 'bogus': onnx runtime error(?: \d+)?: .*BOGUS/s);
    assert.ok(served > 0);
    assert.equal((await index()).get('slow_warm')?.state, 'READY');
    assert.equal((await statistics('slow_warm')).execution_count, 6 + served, 'the old version served every request');

    // A first load that fails: the answer and the index carry the reason.
    addModel(
      repo,
      'late_fail',
      join(FIXTURE_MODELS, 'runtime_error'),
      'name: "late_fail"\nplatform: "onnxruntime_onnx"\n' + warmup(sample('four', 1, { INPUT0: fp32Input([4], ZERO) })),
    );
    const failed = await post('/v2/repository/models/late_fail/load');
    assert.equal(failed.status, 400);
    const error = (replyJson(failed) as { error: string }).error;
    assert.match(error, /^load failed for model 'late_fail': version 1 is at UNAVAILABLE state: failed to run warmup sample 'four': onnx runtime error(?: \d+)?: /);
    assert.match(await reasonOf('late_fail'), /^failed to run warmup sample 'four': onnx runtime error(?: \d+)?: .*Input shape:\{1,4\}, requested shape:\{-1,3\}/s);
  });
});
