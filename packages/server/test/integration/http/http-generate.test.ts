import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpCall, keepAliveAgent } from '../../helpers/http-client.js';
import { Harness, addModel, simpleConfig } from '../../helpers/model-control-harness.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';

describe('the generate extension (/generate, /generate_stream)', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-generate-'));
    addModel(repo, 'simple', simpleConfig('simple'));
    cpSync(join(FIXTURE_MODELS, 'identity_bytes'), join(repo, 'identity_bytes'), { recursive: true });
    await harness.start({ modelRepositories: [repo] });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) => httpCall(harness.base, 'POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('maps top-level keys and parameters to inputs; answers with sorted top-level outputs', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const reply = await post('/v2/models/simple/generate', { id: '42', INPUT0: a, parameters: { INPUT1: new Array(16).fill(1), temperature: 0.5 } });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.headers['content-type'], 'application/json');
    const text = reply.body.toString();
    assert.deepEqual(Object.keys(JSON.parse(text) as object), ['OUTPUT0', 'OUTPUT1', 'id', 'model_name', 'model_version']);
    assert.deepEqual(JSON.parse(text), {
      OUTPUT0: a.map((x) => x + 1),
      OUTPUT1: a.map((x) => x - 1),
      id: '42',
      model_name: 'simple',
      model_version: '1',
    });
  });

  it('a text input becomes a one-element BYTES tensor and a one-element output a scalar; generate_stream sends it as an event', async () => {
    const reply = await post('/v2/models/identity_bytes/generate', { INPUT0: 'héllo\u0000world' });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(JSON.parse(reply.body.toString()), { OUTPUT0: 'héllo\u0000world', model_name: 'identity_bytes', model_version: '1' });
    const stream = await post('/v2/models/identity_bytes/versions/1/generate_stream', { INPUT0: ['a', 'b'] });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(stream.body.toString(), 'data: {"OUTPUT0":["a","b"],"model_name":"identity_bytes","model_version":"1"}\n\n');
  });

  it("errors before inference are JSON with Triton's status and text", async () => {
    const shape = await post('/v2/models/simple/generate', { INPUT0: [1, 2, 3], INPUT1: new Array(16).fill(1) });
    assert.equal(shape.status, 400);
    assert.deepEqual(JSON.parse(shape.body.toString()), { error: "The schema can not convert input 'INPUT0' to tensor with proper shape" });
    const nested = await post('/v2/models/simple/generate', { parameters: 3 });
    assert.deepEqual(JSON.parse(nested.body.toString()), { error: "Expected JSON object for keyword: 'parameters'" });
    const unknown = await post('/v2/models/nope/generate', {});
    assert.equal(unknown.status, 404);
    const missing = await post('/v2/models/simple/generate_stream', { INPUT0: new Array(16).fill(1) });
    assert.equal(missing.status, 400);
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.match(JSON.parse(missing.body.toString()).error as string, /expected 2 inputs but got 1 inputs for model 'simple'/);
  });
});
