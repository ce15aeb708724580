import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpCall, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { Harness, SIMPLE_ONNX, addModel, simpleConfig } from '../../helpers/model-control-harness.js';

interface BudgetStats {
  footprint_bytes: number;
  on_demand_loads: number;
  evictions: number;
}

/** Each copy of `simple` counts as the size of its model file (its config is outside the version folder). */
const FOOTPRINT = statSync(SIMPLE_ONNX).size;

async function budgetOf(harness: Harness, model: string): Promise<BudgetStats | undefined> {
  const reply = await httpCall(harness.base, 'GET', `/v2/models/${model}/stats`);
  if (reply.status !== 200) return undefined;
  const stats = replyJson(reply) as { model_stats: { model_memory_budget?: BudgetStats }[] };
  return stats.model_stats[0]?.model_memory_budget;
}

async function states(harness: Harness): Promise<Record<string, string>> {
  const index = await harness.index();
  return Object.fromEntries([...index].map(([name, entries]) => [name, entries[0]?.state ?? '-']));
}

describe('--model-memory-budget in explicit mode: loading on demand, least recently used eviction', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-budget-'));
    for (const name of ['a', 'b', 'c']) addModel(repo, name, simpleConfig(name));
    // Room for two models, not three.
    await harness.start({ modelRepositories: [repo], modelControlMode: 'explicit', modelMemoryBudgetBytes: Math.floor(FOOTPRINT * 2.5) });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('a request for a model in the repository loads it; concurrent requests share one load', async () => {
    assert.deepEqual(await states(harness), { a: '-', b: '-', c: '-' });
    const replies = await Promise.all(Array.from({ length: 5 }, () => harness.inferSimple('a')));
    assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200, 200, 200]);
    assert.deepEqual(await budgetOf(harness, 'a'), { footprint_bytes: FOOTPRINT, on_demand_loads: 1, evictions: 0 });
    const missing = await harness.inferSimple('nowhere');
    assert.equal(missing.status, 404);
    assert.match(String(missing.json['error']), /Request for unknown model: 'nowhere' is not found/);
  });

  it('when the budget is full, the least recently used idle model is unloaded, and the index says why', async () => {
    assert.equal((await harness.inferSimple('b')).status, 200);
    assert.equal((await harness.inferSimple('a')).status, 200); // a is now more recent than b
    assert.equal((await harness.inferSimple('c')).status, 200);
    const index = await harness.index();
    assert.equal(index.get('b')?.[0]?.state, 'UNAVAILABLE');
    assert.match(index.get('b')?.[0]?.reason ?? '', /^unloaded: evicted, least recently used, to make room for 'c' within the model memory budget of \d+ bytes$/);
    assert.equal(index.get('a')?.[0]?.state, 'READY');
    assert.equal(index.get('c')?.[0]?.state, 'READY');
    assert.equal((await httpCall(harness.base, 'GET', '/v2/health/ready')).status, 200, 'an evicted model does not make the server unready');

    // b comes back on its next request, pushing out a (now the least recently used).
    assert.equal((await harness.inferSimple('b')).status, 200);
    assert.deepEqual(await budgetOf(harness, 'b'), { footprint_bytes: FOOTPRINT, on_demand_loads: 2, evictions: 1 });
    assert.equal((await harness.index()).get('a')?.[0]?.state, 'UNAVAILABLE');
  });

  it('an explicit load also makes room; a model too large for the budget fails with a clear error', async () => {
    assert.equal((await harness.load('a')).status, 200);
    assert.equal(Object.values(await states(harness)).filter((state) => state === 'READY').length, 2);
    addModel(repo, 'huge', simpleConfig('huge'), ['1', '2', '3']);
    const huge = await harness.load('huge', { config: JSON.stringify({ name: 'huge', platform: 'onnxruntime_onnx', max_batch_size: 8, version_policy: { all: {} } }) });
    assert.equal(huge.status, 503);
    assert.match(huge.error ?? '', new RegExp(`model 'huge' needs ${3 * FOOTPRINT} bytes, but the model memory budget of \\d+ bytes is held by models in use`));
    assert.equal((await harness.inferSimple('a')).status, 200, 'the models that were loaded keep serving');
  });
});

describe('--model-memory-budget in poll mode: start-up loads what fits, the rest loads when requested', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-budget-poll-'));
    for (const name of ['p1', 'p2', 'p3']) addModel(repo, name, simpleConfig(name));
    await harness.start({ modelRepositories: [repo], modelControlMode: 'poll', repositoryPollSecs: 0.05, modelMemoryBudgetBytes: Math.floor(FOOTPRINT * 2.5) });
  });
  after(async () => {
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('two of three load at start, the server is ready, and the third loads on request without poll undoing it', async () => {
    const atStart = await states(harness);
    assert.equal(Object.values(atStart).filter((state) => state === 'READY').length, 2, JSON.stringify(atStart));
    const deferred = Object.keys(atStart).find((name) => atStart[name] === '-')!;
    assert.ok(deferred !== undefined);
    assert.equal((await httpCall(harness.base, 'GET', '/v2/health/ready')).status, 200);
    assert.equal((await harness.inferSimple(deferred)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 300)); // several polls
    const after = await states(harness);
    assert.equal(after[deferred], 'READY');
    assert.equal(Object.values(after).filter((state) => state === 'READY').length, 2, `poll does not reload the evicted one: ${JSON.stringify(after)}`);
  });
});
