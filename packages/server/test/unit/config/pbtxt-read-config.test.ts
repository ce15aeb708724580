import { after, before, describe, it } from 'node:test';
import { FIXTURE_CONFIGS } from '../../helpers/paths.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerError } from '../../../src/errors/index.js';
import { parseModelConfig, printModelConfig, readModelConfigFile } from '../../../src/config/read-config.js';

const FIXTURES = FIXTURE_CONFIGS;

async function readError(path: string): Promise<ServerError> {
  try {
    await readModelConfigFile(path);
  } catch (error) {
    assert.ok(error instanceof ServerError, String(error));
    return error;
  }
  assert.fail(`expected reading ${path} to fail`);
}

describe('readModelConfigFile', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nereid-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and parses a config.pbtxt', async () => {
    const config = await readModelConfigFile(join(FIXTURES, 'mc-minimal.pbtxt'));
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.deepEqual(config.input.map((i) => i.name), ['left', 'right']);
  });

  it('names the file, line and column of a syntax error', async () => {
    const path = join(dir, 'config.pbtxt');
    await writeFile(path, 'name: "m"\nmax_batch_size: 4\ninput { dims: [ 1, "x" ] }\n');
    const error = await readError(path);
    assert.equal(error.code, 'INVALID_ARG');
    assert.equal(error.message, `${path}:3:20: field 'input[0].dims' expects an integer, got '"x"'`);
  });

  it('reports a missing file as NOT_FOUND and other read failures as INTERNAL', async () => {
    const missing = await readError(join(dir, 'absent', 'config.pbtxt'));
    assert.equal(missing.code, 'NOT_FOUND');
    assert.match(missing.message, /absent\/config\.pbtxt' does not exist/);
    const directory = await readError(dir);
    assert.equal(directory.code, 'INTERNAL');
    assert.ok(directory.message.includes(dir));
  });
});

describe('parseModelConfig / printModelConfig', () => {
  it('parses text naming the given file in errors and prints it back', () => {
    const config = parseModelConfig('name: "m" max_batch_size: 2', 'models/m/config.pbtxt');
    assert.equal(printModelConfig(config), 'name: "m"\nmax_batch_size: 2\n');
    assert.throws(() => parseModelConfig('max_batch_size: -', 'models/m/config.pbtxt'), /^ServerError: models\/m\/config\.pbtxt:1:17: /);
  });
});
