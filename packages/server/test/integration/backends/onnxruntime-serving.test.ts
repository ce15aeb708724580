import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { httpCall, replyJson } from '../../helpers/http-client.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';

/**
 * The engine seen through a real server and real sockets: shared-session runs compute off the event
 * loop (the server answers while they run), and a request whose client has gone is never started.
 * `slow_identity` computes ~20 ms per run on one thread.
 */

/** A repository with slow_identity as `slow2` (2 instances, the default) and `slow1` (1 instance). */
function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-serving-'));
  for (const [name, count] of [['slow2', 2], ['slow1', 1]] as const) {
    cpSync(join(FIXTURE_MODELS, 'slow_identity'), join(dir, name), { recursive: true });
    const config = readFileSync(join(dir, name, 'config.pbtxt'), 'utf8')
      .replace('name: "slow_identity"', `name: "${name}"`)
      .concat(`instance_group [ { kind: KIND_CPU count: ${count} } ]\n`);
    writeFileSync(join(dir, name, 'config.pbtxt'), config);
  }
  return dir;
}

const INFER_BODY = JSON.stringify({
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
});

interface ModelStats {
  inference_count: number;
  execution_count: number;
}

describe('onnxruntime engine over HTTP', () => {
  let repository = '';
  let server: RunningServer;
  let base = '';

  before(async () => {
    repository = buildRepository();
    server = await startServer({
      modelRepositories: [repository],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
  });
  after(async () => {
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  const infer = (model: string, agent?: Agent) =>
    httpCall(base, 'POST', `/v2/models/${model}/infer`, { body: INFER_BODY, ...(agent ? { agent } : {}) });
  const stats = async (model: string): Promise<ModelStats> => {
    const reply = await httpCall(base, 'GET', `/v2/models/${model}/stats`);
    return (replyJson(reply) as { model_stats: ModelStats[] }).model_stats[0]!;
  };

  it('answers health checks while both instances of a shared session compute', async () => {
    // Warm the session up, so these runs are measured to be slow and leave the event loop.
    for (let i = 0; i < 3; i++) assert.equal((await infer('slow2')).status, 200);
    const done: string[] = [];
    const runs = [1, 2, 3, 4, 5, 6].map((i) => infer('slow2').then((reply) => done.push(`infer${i}:${reply.status}`)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const health = await httpCall(base, 'GET', '/v2/health/live');
    done.push(`health:${health.status}`);
    await Promise.all(runs);
    // Six 20 ms runs on two instances take ~60 ms; a blocked event loop would answer health last.
    // Answered within the first half leaves ~30 ms of slack for a machine busy with other tests.
    // (Six runs and the health check fit the client agent's eight sockets: nothing waits for one.)
    assert.ok(done.indexOf('health:200') <= 3, `order: ${done.join(' ')}`);
    assert.deepEqual(
      done.filter((entry) => entry.startsWith('infer')).sort(),
      [1, 2, 3, 4, 5, 6].map((i) => `infer${i}:200`),
    );
  });

  it('never starts a queued request whose client has gone', async () => {
    const before = await stats('slow1');
    const first = infer('slow1');
    // The only instance is busy for ~20 ms: this one waits in the queue, then its client leaves.
    const gone = new Agent({ keepAlive: false });
    const abandoned = new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/v2/models/slow1/infer`, { method: 'POST', agent: gone });
      req.on('error', () => resolve());
      req.end(INFER_BODY);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 5);
    });
    await abandoned;
    assert.equal((await first).status, 200);
    const last = await infer('slow1');
    assert.equal(last.status, 200);
    const after = await stats('slow1');
    assert.equal(after.execution_count - before.execution_count, 2, 'the abandoned request ran');
    assert.equal(after.inference_count - before.inference_count, 2);
  });
});
