import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

const SIMPLE_ONNX = join(EXAMPLE_MODELS, 'simple', '1', 'model.onnx');
const SIMPLE_CONFIG = readFileSync(join(EXAMPLE_MODELS, 'simple', 'config.pbtxt'), 'utf8');

/** The simple model's config under `name`, OUTPUT0 optionally labelled from `labels`. */
function simpleConfig(name: string, labels?: string): string {
  const config = SIMPLE_CONFIG.replace('name: "simple"', `name: "${name}"`);
  if (labels === undefined) return config;
  return config.replace(/(name: "OUTPUT0"\s*\n\s*data_type: TYPE_INT32)/, `$1\n    label_filename: "${labels}"`);
}

function addModel(repo: string, name: string, config: string | undefined): string {
  const dir = join(repo, name);
  mkdirSync(join(dir, '1'), { recursive: true });
  copyFileSync(SIMPLE_ONNX, join(dir, '1', 'model.onnx'));
  if (config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), config);
  return dir;
}

interface IndexEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

/**
 * Files a model's config names (config.pbtxt, label files) stay inside the model's folder, and load
 * errors, which any client reads from the repository index, never quote a file's content.
 */
describe('model files confined to the model folder; load errors do not echo file contents', () => {
  const secret = `TOP-SECRET-${'0123456789abcdef'.repeat(6)}`;
  let repo: string;
  let outside: string;
  let server: RunningServer;
  let base: string;
  let grpc: InferenceGrpcClient;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-confine-repo-'));
    outside = mkdtempSync(join(tmpdir(), 'nereid-confine-outside-'));
    writeFileSync(join(outside, 'secret.txt'), `${secret}\n`);
    writeFileSync(join(repo, 'secret.txt'), `${secret}\n`);

    const inside = addModel(repo, 'labels_inside', simpleConfig('labels_inside', 'labels.txt'));
    writeFileSync(join(inside, 'labels.txt'), 'a\nb\n');
    addModel(repo, 'labels_dotdot', simpleConfig('labels_dotdot', '../secret.txt'));
    const linked = addModel(repo, 'labels_link', simpleConfig('labels_link', 'labels.txt'));
    symlinkSync(join(outside, 'secret.txt'), join(linked, 'labels.txt'));
    // A valid config, refused only because it is reached through a link leading out of the folder.
    writeFileSync(join(outside, 'config.pbtxt'), simpleConfig('config_link'));
    const configLink = addModel(repo, 'config_link', undefined);
    symlinkSync(join(outside, 'config.pbtxt'), join(configLink, 'config.pbtxt'));
    addModel(repo, 'config_secret_line', `name: "config_secret_line"\n${secret.replace(/-/g, '_')}\n`);
    addModel(repo, 'config_secret_string', `name: "config_secret_string"\nmax_batch_size: "${secret}"\n`);

    server = await startServer({
      modelRepositories: [repo],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http!.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
  });

  after(async () => {
    keepAliveAgent.destroy();
    grpc.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  async function httpIndex(): Promise<Map<string, IndexEntry>> {
    const reply = await httpCall(base, 'POST', '/v2/repository/index', { body: '{}' });
    assert.equal(reply.status, 200);
    return new Map((replyJson(reply) as IndexEntry[]).map((entry) => [entry.name, entry]));
  }

  function assertNoSecret(reason: string): void {
    assert.ok(!reason.includes(secret), reason);
    assert.ok(!reason.includes(secret.slice(32)), `quotes more than a short token: ${reason}`);
    assert.ok(!reason.includes(secret.slice(32).replace(/-/g, '_')), `quotes more than a short token: ${reason}`);
  }

  it('refuses label files and configs that lead outside the model folder, naming the file', async () => {
    const index = await httpIndex();
    assert.equal(index.get('labels_inside')?.state, 'READY');
    const dotdot = index.get('labels_dotdot');
    assert.equal(dotdot?.state, 'UNAVAILABLE');
    assert.match(dotdot?.reason ?? '', /label file of output 'OUTPUT0' '.*labels_dotdot\/\.\.\/secret\.txt' is outside the model folder/);
    const link = index.get('labels_link');
    assert.equal(link?.state, 'UNAVAILABLE');
    assert.match(link?.reason ?? '', /label file of output 'OUTPUT0' '.*labels_link\/labels\.txt' is outside the model folder/);
    const config = index.get('config_link');
    assert.equal(config?.state, 'UNAVAILABLE');
    assert.match(config?.reason ?? '', /model configuration file '.*config_link\/config\.pbtxt' is outside the model folder/);
    for (const entry of [dotdot, link, config]) assertNoSecret(entry?.reason ?? '');
    const ready = await httpCall(base, 'GET', '/v2/models/labels_link/ready');
    assert.equal(ready.status, 400);
  });

  it('reports config parse errors by file, line and column without echoing the offending line', async () => {
    const index = await httpIndex();
    const line = index.get('config_secret_line')?.reason ?? '';
    assert.match(line, /config_secret_line\/config\.pbtxt:2:1: unknown field '.{1,40}' in inference\.ModelConfig/);
    assertNoSecret(line);
    const string = index.get('config_secret_string')?.reason ?? '';
    assert.match(string, /config_secret_string\/config\.pbtxt:2:17: field 'max_batch_size' expects an integer, got '.{1,40}'/);
    assertNoSecret(string);

    const viaGrpc = await grpc.call('repositoryIndex', { repositoryName: '', ready: false });
    for (const model of viaGrpc.models) assertNoSecret(model.reason);
    assert.equal(viaGrpc.models.find((model) => model.name === 'config_secret_line')?.reason, line);
    // The server still serves the models that loaded.
    assert.equal((await httpCall(base, 'GET', '/v2/models/labels_inside/ready')).status, 200);
  });
});
