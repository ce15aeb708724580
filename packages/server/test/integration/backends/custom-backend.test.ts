import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keepAliveAgent, postInfer } from '../../helpers/http-client.js';
import { Harness } from '../../helpers/model-control-harness.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'custom-backend');

describe('custom backends from a backend directory (the textops example)', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-custom-backend-'));
    cpSync(join(EXAMPLE, 'models'), repo, { recursive: true });
    // A model naming a backend that exists nowhere.
    mkdirSync(join(repo, 'nowhere', '1'), { recursive: true });
    writeFileSync(join(repo, 'nowhere', 'config.pbtxt'), 'name: "nowhere"\nbackend: "nosuch"\nmax_batch_size: 0\n');
    // A model carrying its own backend module in its folder (searched before the backend directory).
    cpSync(join(EXAMPLE, 'models', 'word_count'), join(repo, 'local_count'), { recursive: true });
    writeFileSync(join(repo, 'local_count', 'config.pbtxt'), 'name: "local_count"\nbackend: "localops"\nmax_batch_size: 0\n' +
      'input [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]\noutput [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]\n');
    writeFileSync(
      join(repo, 'local_count', 'backend.js'),
      `export const backend = { name: 'localops', platforms: [], defaultPlatform: '', defaultModelFilename: 'none', defaultCpuInstanceCount: 1, requiresModelFile: false,
        async loadModel() { return { completeConfig() {}, async createInstance() { return { async execute(requests) {
          return { responses: requests.map((r) => [{ ...r.inputs[0], name: 'TEXT' }]), timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } }; }, async close() {} }; }, async close() {} }; } };\n`,
    );
    await harness.start({
      modelRepositories: [repo],
      backendDirectory: join(EXAMPLE, 'backends'),
      backendConfig: new Map([['textops', new Map([['separator', ',']])]]),
    });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('loads the backend by name from the directory; the model type parameter and the model file reach it', async () => {
    const reply = await postInfer(harness.base, 'shout', { inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1, 2], data: ['hello', 'wörld'] }] });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.deepEqual(reply.outputs.get('TEXT')?.data, ['HELLO!', 'WÖRLD!']);
  });

  it('--backend-config=textops,... reaches it', async () => {
    const reply = await postInfer(harness.base, 'word_count', { inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [2], data: ['a,b,,c', 'one two'] }] });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.deepEqual(reply.outputs.get('COUNT')?.data, [3, 1]);
  });

  it('a backend module in the model folder is found first', async () => {
    const reply = await postInfer(harness.base, 'local_count', { inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1], data: ['same'] }] });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.deepEqual(reply.outputs.get('TEXT')?.data, ['same']);
  });

  it('an unknown backend is a load error naming every place searched', async () => {
    const entry = (await harness.index()).get('nowhere')?.[0];
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.equal(
      entry?.reason,
      `unable to find backend library 'backend.js' for backend 'nosuch' of model 'nowhere', searched: ` +
        `'${join(repo, 'nowhere', '1')}' '${join(repo, 'nowhere')}' '${join(EXAMPLE, 'backends', 'nosuch')}'`,
    );
  });
});
