import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBackends, resolveOptions } from '../../../src/cli/start-server.js';
import { InferenceServer } from '../../../src/core/inference-server.js';
import type { StartOptions } from '../../../src/cli/start-server.js';
import { ServerError } from '../../../src/errors/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

const SIMPLE_ONNX = join(EXAMPLE_MODELS, 'simple', '1', 'model.onnx');
const SIMPLE_CONFIG = readFileSync(join(EXAMPLE_MODELS, 'simple', 'config.pbtxt'), 'utf8');

/** Writes a model folder: config text (or none) and the simple ONNX file in each version folder. */
function addModel(repo: string, name: string, config: string | undefined, versions: readonly string[] = ['1'], file = 'model.onnx'): void {
  mkdirSync(join(repo, name), { recursive: true });
  if (config !== undefined) writeFileSync(join(repo, name, 'config.pbtxt'), config);
  for (const version of versions) {
    mkdirSync(join(repo, name, version), { recursive: true });
    copyFileSync(SIMPLE_ONNX, join(repo, name, version, file));
  }
}

function simpleConfig(name: string, extra = ''): string {
  return SIMPLE_CONFIG.replace('name: "simple"', `name: "${name}"`) + extra;
}

function start(repositories: string[], options: StartOptions = {}): Promise<InferenceServer> {
  return InferenceServer.create(resolveOptions({ modelRepositories: repositories, exitOnError: false, ...options }), defaultBackends(), silentLogger);
}

test('a config syntax error names file, line, column and field, and only that model fails', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'nereid-repo-'));
  addModel(repo, 'good', simpleConfig('good'));
  addModel(repo, 'broken', 'name: "broken"\nplatform: "onnxruntime_onnx"\nmax_batch_sise: 8\n');
  const server = await start([repo]);
  try {
    assert.equal(server.isModelReady('good', ''), true);
    assert.equal(server.isModelReady('broken', ''), false);
    assert.equal(server.isReady(), false, 'strict readiness: not every model is ready');
    assert.equal(server.isLive(), true);
    const broken = (await server.repositoryIndex({ readyOnly: false })).find((entry) => entry.name === 'broken');
    assert.equal(broken?.state, 'UNAVAILABLE');
    assert.match(broken?.reason ?? '', /broken\/config\.pbtxt:3:1: unknown field 'max_batch_sise' in inference\.ModelConfig \(did you mean 'max_batch_size'\?\)/);
    assert.deepEqual((await server.repositoryIndex({ readyOnly: true })).map((entry) => entry.name), ['good']);
  } finally {
    await server.stop();
  }
  const lenient = await start([repo], { strictReadiness: false });
  assert.equal(lenient.isReady(), true, '--strict-readiness=false: ready while serving');
  await lenient.stop();
  await assert.rejects(start([repo], { exitOnError: true }), (error: unknown) =>
    error instanceof ServerError && /failed to load all models/.test(error.message) && /config\.pbtxt:3:1/.test(error.message),
  );
});

test('version policies and version folders decide which versions serve', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'nereid-repo-'));
  addModel(repo, 'latest', simpleConfig('latest'), ['1', '2', '3', '010', 'notes']);
  addModel(repo, 'all', simpleConfig('all', 'version_policy: { all {} }\n'), ['1', '2']);
  addModel(repo, 'specific', simpleConfig('specific', 'version_policy: { specific { versions: [1, 3] } }\n'), ['1', '2', '3']);
  addModel(repo, 'latest_two', simpleConfig('latest_two', 'version_policy { latest { num_versions: 2 } }\n'), ['1', '5', '9']);
  const server = await start([repo]);
  try {
    assert.deepEqual(server.modelMetadata('latest', '').versions, ['3']);
    assert.deepEqual(server.modelMetadata('all', '').versions, ['1', '2']);
    assert.deepEqual(server.modelMetadata('specific', '').versions, ['1', '3']);
    assert.deepEqual(server.modelMetadata('latest_two', '').versions, ['5', '9']);
    assert.equal(server.isModelReady('latest', '2'), false);
    assert.throws(() => server.modelMetadata('latest', '2'), /'latest' version 2 is not found/);
    assert.equal(server.modelConfig('all', '2').name, 'all');
  } finally {
    await server.stop();
  }
});

test('default_model_filename, a model missing from two repositories, no version folder, name mismatch', async () => {
  const a = mkdtempSync(join(tmpdir(), 'nereid-repo-a-'));
  const b = mkdtempSync(join(tmpdir(), 'nereid-repo-b-'));
  addModel(a, 'custom_file', simpleConfig('custom_file', 'default_model_filename: "weights.onnx"\n'), ['1'], 'weights.onnx');
  addModel(a, 'twice', simpleConfig('twice'));
  addModel(b, 'twice', simpleConfig('twice'));
  addModel(b, 'no_versions', simpleConfig('no_versions'), []);
  addModel(b, 'misnamed', simpleConfig('other_name'));
  const server = await start([a, b]);
  try {
    assert.equal(server.isModelReady('custom_file', ''), true);
    const index = new Map((await server.repositoryIndex({ readyOnly: false })).map((entry) => [entry.name, entry]));
    assert.equal(index.get('twice')?.state, 'UNAVAILABLE');
    assert.match(index.get('twice')?.reason ?? '', /appears in two or more repositories/);
    assert.match(index.get('no_versions')?.reason ?? '', /has no version folders/);
    assert.match(index.get('misnamed')?.reason ?? '', /unexpected directory name 'misnamed' for model 'other_name', directory name must equal model name/);
  } finally {
    await server.stop();
  }
});

test('without auto-complete a model needs its config; with it, none at all is fine', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'nereid-repo-'));
  mkdirSync(join(repo, 'bare', '1'), { recursive: true });
  copyFileSync(join(EXAMPLE_MODELS, 'add_sub_no_config', '1', 'model.onnx'), join(repo, 'bare', '1', 'model.onnx'));
  const strict = await start([repo], { autoCompleteConfig: false });
  assert.match((await strict.repositoryIndex({ readyOnly: false }))[0]?.reason ?? '', /no config\.pbtxt and auto-complete is disabled/);
  await strict.stop();
  const completing = await start([repo]);
  const config = completing.modelConfigJson('bare', '') as Record<string, any>;
  assert.equal(config['max_batch_size'], 4);
  assert.equal(config['platform'], 'onnxruntime_onnx');
  assert.equal(config['backend'], 'onnxruntime');
  assert.deepEqual(config['instance_group'][0], { name: 'bare', kind: 'KIND_CPU', count: 2, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' });
  assert.deepEqual(config['dynamic_batching']['preferred_batch_size'], [4]);
  assert.deepEqual(config['version_policy'], { latest: { num_versions: 1 } });
  await completing.stop();
  const custom = await start([repo], { backendConfig: new Map([['onnxruntime', new Map([['default-max-batch-size', '16']])]]) });
  assert.equal(custom.modelConfig('bare', '').maxBatchSize, 16);
  await custom.stop();
});
