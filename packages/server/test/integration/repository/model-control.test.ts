import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createLogger } from '../../../src/observability/logger.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GrpcCallError } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { Harness, SIMPLE_ONNX, addModel, simpleConfig, steadyLoad, until, type IndexEntry } from '../../helpers/model-control-harness.js';

describe('--model-control-mode=none', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-mc-none-'));
    addModel(repo, 'simple', simpleConfig('simple'));
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('loads everything at start and refuses load and unload over HTTP and gRPC with Triton\'s text', async () => {
    assert.equal((await harness.inferSimple('simple')).status, 200);
    const load = await harness.load('simple');
    assert.equal(load.status, 503);
    assert.equal(load.error, 'explicit model load / unload is not allowed if polling is enabled');
    assert.equal(await harness.unload('simple'), 503);
    await assert.rejects(harness.grpc.call('repositoryModelUnload', { modelName: 'simple' }), (error: GrpcCallError) => {
      assert.equal(error.code, 14);
      assert.equal(error.details, 'explicit model load / unload is not allowed if polling is enabled');
      return true;
    });
    // Files added later are not noticed in this mode.
    addModel(repo, 'later', simpleConfig('later'));
    await sleep(50);
    assert.equal((await harness.inferSimple('later')).status, 404);
    assert.equal((await harness.inferSimple('simple')).status, 200);
  });
});

describe('--model-control-mode=explicit', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-mc-explicit-'));
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) addModel(repo, name, simpleConfig(name));
    addModel(repo, 'broken', 'name: "broken"\nplatform: "onnxruntime_onnx"\nmax_batch_sise: 8\n');
    await harness.start({ modelRepositories: [repo], modelControlMode: 'explicit', startupModels: ['a'], modelLoadThreadCount: 2 });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('loads only --load-model at start; the index lists the others by name only', async () => {
    const index = await harness.index();
    assert.deepEqual(index.get('a'), [{ name: 'a', version: '1', state: 'READY' }]);
    assert.deepEqual(index.get('b'), [{ name: 'b' }]);
    const reply = await harness.inferSimple('b');
    assert.equal(reply.status, 404);
    assert.match(String(reply.json['error']), /Request for unknown model: 'b' is not found/);
  });

  it('loads over HTTP, unloads over gRPC; the index says UNAVAILABLE "unloaded"', async () => {
    assert.deepEqual(await harness.load('b'), { status: 200, error: undefined });
    assert.equal((await harness.inferSimple('b')).status, 200);
    await harness.grpc.call('repositoryModelUnload', { modelName: 'b' });
    assert.deepEqual((await harness.index()).get('b'), [{ name: 'b', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assert.equal((await harness.inferSimple('b')).status, 404);
    await harness.grpc.call('repositoryModelLoad', { modelName: 'b' });
    assert.equal((await harness.inferSimple('b')).status, 200);
  });

  it('a missing model, a broken config and a bad name fail with Triton\'s texts; the rest keeps serving', async () => {
    const missing = await harness.load('nope');
    assert.equal(missing.status, 500);
    assert.equal(missing.error, "failed to load 'nope', failed to poll from model repository");
    assert.equal((await harness.index()).get('nope'), undefined, 'a model that exists nowhere is not remembered');

    const broken = await harness.load('broken');
    assert.equal(broken.status, 500);
    assert.match(broken.error ?? '', /^failed to load 'broken', failed to poll from model repository: .*config\.pbtxt:3:1: unknown field 'max_batch_sise'/);
    assert.equal((await harness.index()).get('broken')?.[0]?.state, 'UNAVAILABLE');

    // '..' alone cannot cross HTTP (clients resolve dot segments); gRPC carries it as is.
    for (const name of ['../a', 'a/..', '..\\a']) {
      const reply = await harness.load(name);
      assert.equal(reply.status, 400, name);
      assert.equal(reply.error, `invalid model name '${name}', model name must not contain path traversal characters`);
    }
    await assert.rejects(harness.grpc.call('repositoryModelLoad', { modelName: '..' }), (error: GrpcCallError) => {
      assert.equal(error.code, 3);
      assert.match(error.details, /model name must not contain path traversal characters/);
      return true;
    });
    assert.equal((await harness.inferSimple('a')).status, 200);
  });

  it('a config override reloads the model; a file override loads one that exists nowhere on disk', async () => {
    await harness.load('c');
    assert.equal((await harness.configOf('c'))['max_batch_size'], 8);
    const override = JSON.stringify({ name: 'c', platform: 'onnxruntime_onnx', max_batch_size: 4 });
    assert.equal((await harness.load('c', { config: override })).status, 200);
    assert.equal((await harness.configOf('c'))['max_batch_size'], 4);
    assert.equal((await harness.inferSimple('c')).status, 200);

    const model = readFileSync(SIMPLE_ONNX).toString('base64');
    const ghost = JSON.stringify({ name: 'ghost', platform: 'onnxruntime_onnx', max_batch_size: 2 });
    assert.deepEqual(await harness.load('ghost', { config: ghost, 'file:1/model.onnx': model }), { status: 200, error: undefined });
    assert.equal((await harness.inferSimple('ghost')).status, 200);
    assert.equal((await harness.configOf('ghost'))['max_batch_size'], 2);

    const escape = await harness.load('ghost2', { config: ghost.replace('ghost', 'ghost2'), 'file:../1/model.onnx': model });
    assert.equal(escape.status, 400);
    assert.match(escape.error ?? '', /must stay within model directory/);
    const noConfig = await harness.load('ghost3', { 'file:1/model.onnx': model });
    assert.equal(noConfig.status, 400);

    // As Triton's model-control examples check: a malformed override and an unwritable file name
    // fail as a poll does, and the server goes on.
    const malformed = await harness.load('c', { config: '"parameters": {"config": {{"max_batch_size": "16"}}}' });
    assert.equal(malformed.status, 500);
    assert.match(malformed.error ?? '', /^failed to load 'c', failed to poll from model repository: Invalid config override/);
    await assert.rejects(
      harness.grpc.call('repositoryModelLoad', {
        modelName: 'c',
        parameters: {
          config: { parameterChoice: { case: 'stringParam', value: '{}' } },
          [`file:${'A'.repeat(256)}`]: { parameterChoice: { case: 'bytesParam', value: new Uint8Array([97]) } },
        },
      }),
      (error: GrpcCallError) => {
        assert.equal(error.code, 13);
        assert.match(error.details, /failed to poll from model repository/);
        return true;
      },
    );
    assert.equal((await harness.inferSimple('c')).status, 200);
  });

  it('a change of instance groups alone is applied in place; any other change reloads', async () => {
    const config = (groups: number, generation: string): string =>
      JSON.stringify({
        name: 'e', platform: 'onnxruntime_onnx', max_batch_size: 8,
        instance_group: [{ kind: 'KIND_CPU', count: groups }],
        parameters: { generation: { string_value: generation } },
      });
    const inferences = async (): Promise<number> => {
      const reply = await httpCall(harness.base, 'GET', '/v2/models/e/stats');
      const stats = replyJson(reply) as { model_stats: { inference_count: number }[] };
      return stats.model_stats[0]?.inference_count ?? -1;
    };
    assert.equal((await harness.load('e', { config: config(1, 'x') })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await harness.inferSimple('e')).status, 200);
    assert.equal(await inferences(), 3);
    const load = steadyLoad(harness, 'e', 2);
    assert.equal((await harness.load('e', { config: config(3, 'x') })).status, 200);
    const { failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.deepEqual((await harness.configOf('e'))['instance_group'], [{ name: 'e_0', kind: 'KIND_CPU', count: 3, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }]);
    assert.ok((await inferences()) > 3, 'the statistics survive: the weights were not reloaded');
    assert.equal((await harness.load('e', { config: config(3, 'y') })).status, 200);
    assert.equal(await inferences(), 0, 'a parameters change reloads the model');
  });

  it('loads several models at once (--model-load-thread-count=2) and all end READY', async () => {
    const results = await Promise.all(['d', 'e', 'f'].map((name) => harness.load(name)));
    assert.deepEqual(results.map((result) => result.status), [200, 200, 200]);
    for (const name of ['d', 'e', 'f']) assert.equal((await harness.inferSimple(name)).status, 200);
  });

  it('20 reloads under steady load: no request fails', async () => {
    const load = steadyLoad(harness, 'a', 4);
    for (let i = 0; i < 20; i++) {
      const override = JSON.stringify({ name: 'a', platform: 'onnxruntime_onnx', max_batch_size: 8, parameters: { generation: { string_value: String(i) } } });
      const reply = await harness.load('a', { config: override });
      assert.equal(reply.status, 200, reply.error);
    }
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
    assert.deepEqual((await harness.configOf('a'))['parameters'], { generation: { string_value: '19' } });
  });
});

describe('--model-control-mode=poll', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-mc-poll-'));
    addModel(repo, 'p', simpleConfig('p'));
    addModel(repo, 'gone', simpleConfig('gone'));
    // Sub-second polling for the test (the CLI flag takes whole seconds).
    await harness.start({ modelRepositories: [repo], modelControlMode: 'poll', repositoryPollSecs: 0.05 });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  async function state(name: string): Promise<IndexEntry[] | undefined> {
    return (await harness.index()).get(name);
  }

  it('notices an added model, a new version and a removed model', async () => {
    addModel(repo, 'added', simpleConfig('added'));
    await until(async () => (await harness.inferSimple('added')).status === 200, 'the added model');
    addModel(repo, 'p', undefined, ['2']);
    await until(async () => (await state('p'))?.some((entry) => entry.version === '2' && entry.state === 'READY') ?? false, 'version 2');
    assert.equal((await harness.inferSimple('p')).json['model_version'], '2');
    await until(async () => (await state('p'))?.find((entry) => entry.version === '1')?.state === 'UNAVAILABLE', 'version 1 unloaded');
    rmSync(join(repo, 'gone'), { recursive: true });
    await until(async () => (await harness.inferSimple('gone')).status !== 200, 'the removed model to go');
    assert.equal(await state('gone'), undefined);
  });

  it('a failed reload leaves the previous version serving; fixing the files reloads it', async () => {
    const good = simpleConfig('p', 'parameters { key: "generation" value { string_value: "good" } }\n');
    writeFileSync(join(repo, 'p', 'config.pbtxt'), good);
    await until(async () => JSON.stringify((await harness.configOf('p'))['parameters'] ?? {}).includes('good'), 'the good config');
    writeFileSync(join(repo, 'p', 'config.pbtxt'), `${good}max_batch_sise: 3\n`);
    await sleep(300);
    assert.equal((await harness.inferSimple('p')).status, 200, 'the previous load keeps serving');
    assert.ok(JSON.stringify((await harness.configOf('p'))['parameters']).includes('good'));
    writeFileSync(join(repo, 'p', 'config.pbtxt'), simpleConfig('p', 'parameters { key: "generation" value { string_value: "fixed" } }\n'));
    await until(async () => JSON.stringify((await harness.configOf('p'))['parameters'] ?? {}).includes('fixed'), 'the fixed config');
  });

  it('an instance-count edit of config.pbtxt is applied in place (statistics kept)', async () => {
    const withInstances = (count: number): string =>
      simpleConfig('p', `instance_group [ { kind: KIND_CPU count: ${count} } ]\nparameters { key: "generation" value { string_value: "fixed" } }\n`);
    writeFileSync(join(repo, 'p', 'config.pbtxt'), withInstances(1));
    await until(async () => JSON.stringify((await harness.configOf('p'))['instance_group']).includes('"count":1'), 'one instance');
    for (let i = 0; i < 3; i++) assert.equal((await harness.inferSimple('p')).status, 200);
    const inferences = async (): Promise<number> =>
      (replyJson(await httpCall(harness.base, 'GET', '/v2/models/p/stats')) as { model_stats: { inference_count: number }[] }).model_stats[0]!.inference_count;
    const before = await inferences();
    assert.ok(before >= 3);
    writeFileSync(join(repo, 'p', 'config.pbtxt'), withInstances(2));
    await until(async () => JSON.stringify((await harness.configOf('p'))['instance_group']).includes('"count":2'), 'two instances');
    assert.equal(await inferences(), before, 'same weights, same statistics: not reloaded');
  });

  it('20 reloads from changed files under steady load: no request fails', async () => {
    const load = steadyLoad(harness, 'p', 4);
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(repo, 'p', 'config.pbtxt'), simpleConfig('p', `parameters { key: "generation" value { string_value: "g${i}" } }\n`));
      await until(async () => JSON.stringify((await harness.configOf('p'))['parameters'] ?? {}).includes(`"g${i}"`), `reload ${i}`);
    }
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
  });
});

describe('--model-config-name and --model-load-retry-count', () => {
  const harness = new Harness();
  let repo: string;
  const logged: string[] = [];
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-mc-configs-'));
    const custom = addModel(repo, 'custom', simpleConfig('custom'));
    mkdirSync(join(custom, 'configs'));
    writeFileSync(join(custom, 'configs', 'small.pbtxt'), simpleConfig('custom').replace('max_batch_size: 8', 'max_batch_size: 2'));
    addModel(repo, 'plain', simpleConfig('plain'));
    const broken = addModel(repo, 'broken_onnx', simpleConfig('broken_onnx'));
    writeFileSync(join(broken, '1', 'model.onnx'), 'not an onnx file');
    await harness.start({
      modelRepositories: [repo],
      modelConfigName: 'small',
      modelLoadRetryCount: 2,
      logger: createLogger({ info: false, warning: false, error: true, verboseLevel: 0, format: 'default' }, { write: (_level, line) => logged.push(line) }),
    });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('uses configs/<name>.pbtxt where it exists, config.pbtxt elsewhere', async () => {
    assert.equal((await harness.configOf('custom'))['max_batch_size'], 2);
    assert.equal((await harness.configOf('plain'))['max_batch_size'], 8);
  });

  it('tries a failing version 1 + retry-count times, then reports it UNAVAILABLE', async () => {
    const attempts = logged.filter((line) => /failed to load 'broken_onnx' version 1 \(attempt \d of 3\)/.test(line));
    assert.equal(attempts.length, 3, logged.join(''));
    assert.equal((await harness.index()).get('broken_onnx')?.[0]?.state, 'UNAVAILABLE');
  });
});

describe('--load-model=* in explicit mode', () => {
  it('loads every model; * beside another name is refused with Triton\'s text', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'nereid-mc-wildcard-'));
    for (const name of ['w1', 'w2']) addModel(repo, name, simpleConfig(name));
    const harness = new Harness();
    await harness.start({ modelRepositories: [repo], modelControlMode: 'explicit', startupModels: ['*'] });
    try {
      const index = await harness.index();
      assert.deepEqual([index.get('w1')?.[0]?.state, index.get('w2')?.[0]?.state], ['READY', 'READY']);
    } finally {
      await harness.stop();
    }
    await assert.rejects(
      new Harness().start({ modelRepositories: [repo], modelControlMode: 'explicit', startupModels: ['*', 'w1'] }),
      /Wildcard model name '\*' must be the ONLY startup model if specified at all\./,
    );
    rmSync(repo, { recursive: true, force: true });
  });
});
